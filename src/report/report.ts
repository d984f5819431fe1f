/**
 * `medsynth report`: one privacy leakage report per run, as report.html (self-contained: inline CSS, inline
 * SVG, sample grids as data: URIs; no network), report.md and report.json, written atomically.
 *
 * Inputs: the run folder, read through openRun (model card, run.json, metrics.jsonl, conditions, splits.csv;
 * ε per epoch is the card's `privacy.epsilonPerEpoch`, never recomputed), and optionally the JSON of
 * `medsynth evaluate` and of `medsynth audit` (each checked against its schema: inputs.ts). Sections:
 * summary with verdicts (thresholds printed in the report), the ethics checklist (checklist.ts: each item
 * from what the pipeline knows, linked to its evidence; the items only a person can answer stay open until
 * --sign-off FILE.json), privacy, membership attacks,
 * fidelity, utility and fairness, diversity, human review (--review: a review.jsonl or release's
 * review-summary.json), samples, training curves, provenance (model card + datasheet). Training images are never embedded unless
 * `includeTrainingImages` (the CLI's --include-training-images). report.json names files relative to
 * the report folder (`relativePaths`), never by absolute path.
 *
 * Verdicts need evidence (issue #19). The evaluation's `learned` block (src/evaluate/learned.ts: distinct
 * nearest records, mode coverage, conditional accuracy, each against real held-out data) gates them:
 * - samples collapsed (distinct nearest records < 25% of real's, or mode coverage < 0.3 of real's): the
 *   privacy (unless an attack found high leakage), fidelity, utility and fairness verdicts are "not
 *   informative", with the reason; an attack cannot show leakage of what the model never learned;
 * - samples that do not follow their class: utility and fairness are "not informative";
 * - no evidence at all: a "low leakage" privacy verdict is "not informative" (pass --eval).
 * Diversity has its own verdict from the same evidence. Fairness reads the evaluation's `fairness` block:
 * groups below the minimum size are excluded and listed, and a verdict is given only where the bootstrap
 * interval of the change (c) - (a) supports it.
 */
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { mean } from 'simple-statistics';
import { imageLength } from '../../datasets/dataset.js';
import { absentClasses, absentSentence } from '../../eval/utility/index.js';
import { writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { Rng } from '../core/rng.js';
import { packageVersion } from '../core/version.js';
import { accountant } from '../privacy/accountants/index.js';
import { loadReviewSummary } from '../review/log.js';
import { openRun } from '../train/open.js';
import { buildChecklist, readSignOff } from './checklist.js';
import { gridCells, sampleRows, tile } from './grid.js';
import { THRESHOLDS, type ReportData, type Verdict } from './data.js';
import { readAudit, readEvaluation, type AuditParts, type BootInterval, type EvaluationParts, type Parts } from './inputs.js';
import { renderHtml, renderMarkdown } from './render.js';

export interface ReportRequest {
  run: string;
  eval?: string;
  audit?: string;
  out: string;
  includeTrainingImages?: boolean;
  seed?: number;
  /** Replace `out` if it holds an earlier medsynth report (its marker file); never anything else. */
  force?: boolean;
  /** A samples folder's review.jsonl, or release's review-summary.json: the checklist's human-review item. */
  review?: string;
  /** Answers to the checklist items only a person can give (checklist.ts SignOffSchema). */
  signOff?: string;
}

export { THRESHOLDS, type ReportData, type Verdict } from './data.js';

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** The audit's best attack (highest AUC, the random control excluded), with its AUC's upper CI end. */
export function bestAttack(audit: AuditParts | null): { name: string; auc: number; hi: number | null; epsLower: number | null } | null {
  if (!audit?.best) return null;
  const best = audit.best;
  const att = (audit.attacks ?? []).find((a) => a.name === best.attack);
  return { name: String(best.attack), auc: Number(best.auc), hi: num(att?.overall?.auc?.upper), epsLower: num(best.epsilonLowerBound) };
}

/** What the evaluation says about whether the model learned; null when it has no `learned` block. */
export function learnedGate(ev: EvaluationParts | null): { collapsed: boolean; conditional: boolean | null; learned: boolean; why: string } | null {
  const l = ev?.learned;
  if (!l || typeof l.learned !== 'boolean') return null;
  return { collapsed: !!l.collapsed, conditional: l.conditional ?? null, learned: l.learned, why: (l.reasons ?? []).join('; ') };
}

const notInformative = (why: string, measured: string): Verdict => ({ level: 'not informative', text: `not informative: ${why}${measured ? ` (measured: ${measured})` : ''}` });

export function privacyVerdict(privacy: ReportData['privacy'], audit: AuditParts | null, ev: EvaluationParts | null = null): Verdict {
  const v = privacyVerdictUngated(privacy, audit);
  const gate = learnedGate(ev);
  // Leakage found is evidence whatever else holds (a model that copies a few images also "collapses").
  if (v.level === 'poor' || v.level === 'unknown') return v;
  const dp = privacy.differentialPrivacy && num(privacy.epsilon) !== null ? ` The formal (${num(privacy.epsilon)!.toFixed(2)}, ${privacy.delta})-DP claim holds regardless.` : '';
  if (gate?.collapsed) {
    return notInformative(`the model did not learn the data (${gate.why}); membership attacks cannot show leakage of what was never learned.${dp}`, v.text);
  }
  if (!gate && bestAttack(audit) && v.level === 'good') {
    return notInformative(`no evidence that the model learned the data (pass --eval from medsynth evaluate); a low attack AUC may only mean there was nothing to leak.${dp}`, v.text);
  }
  return v;
}

function privacyVerdictUngated(privacy: ReportData['privacy'], audit: AuditParts | null): Verdict {
  const best = bestAttack(audit);
  const eps = num(privacy.epsilon);
  const dp = privacy.differentialPrivacy && eps !== null;
  const t = THRESHOLDS;
  if (!best) {
    return dp
      ? { level: eps! <= t.lowLeakage.epsilon ? 'fair' : 'poor', text: `(${eps!.toFixed(2)}, ${privacy.delta})-DP per ${privacy.unit}, ${String(privacy.accountant ?? '?').toUpperCase()} accountant; not audited (run medsynth audit)` }
      : { level: 'unknown', text: 'no differential privacy and no audit: leakage unknown' };
  }
  const aucText = `best attack AUC ${best.auc.toFixed(3)} (${best.name})`;
  if (dp && eps! <= t.lowLeakage.epsilon && best.auc <= t.lowLeakage.auc) return { level: 'good', text: `low leakage: ${aucText}, epsilon ${eps!.toFixed(2)}` };
  if (best.auc <= t.moderateLeakage.auc) return { level: 'fair', text: `moderate leakage: ${aucText}${dp ? `, epsilon ${eps!.toFixed(2)}` : ', no formal guarantee'}` };
  return { level: 'poor', text: `high leakage: ${aucText}${dp ? `, epsilon ${eps!.toFixed(2)}` : ', no formal guarantee'}` };
}

/** Diversity from the evaluation's `learned` evidence (thresholds: THRESHOLDS.diversity and .learned). */
export function diversityVerdict(ev: EvaluationParts | null): Verdict {
  const l = ev?.learned;
  if (!l) return { level: 'unknown', text: ev ? 'no learned-at-all evidence in this evaluation (re-run medsynth evaluate)' : 'not evaluated (run medsynth evaluate)' };
  const t = THRESHOLDS.diversity;
  const dr = num(l.distinctNearest?.ratio);
  const mr = num(l.modeCoverage?.ratio);
  const text = `${l.distinctNearest!.synthetic} distinct nearest training records for ${l.m} samples vs ${l.distinctNearest!.reference} for as many real held-out images (${dr?.toFixed(2) ?? '–'}×); mode coverage ${mr?.toFixed(2) ?? '–'}× real`;
  if (l.collapsed) return { level: 'poor', text: `collapsed: ${text}` };
  if (dr === null || mr === null) return { level: 'unknown', text };
  if (dr >= t.distinctRatio && mr >= t.modeCoverageRatio) return { level: 'good', text: `as varied as real data: ${text}` };
  return { level: 'fair', text: `less varied than real data: ${text}` };
}

type Boot = Parts<BootInterval> | undefined;

const ci3 = (x: Boot, sign = false) => {
  const v = (y: number) => `${sign && y >= 0 ? '+' : ''}${y.toFixed(3)}`;
  const [estimate, lo, hi] = [num(x?.estimate), num(x?.lo), num(x?.hi)];
  return estimate === null ? '–' : lo !== null && hi !== null ? `${v(estimate)} [${v(lo)}, ${v(hi)}]` : `${v(estimate)} [no interval]`;
};

/** Both ends of an interval, or null when either is missing. */
const ends = (x: Boot): { lo: number; hi: number } | null => {
  const [lo, hi] = [num(x?.lo), num(x?.hi)];
  return lo !== null && hi !== null ? { lo, hi } : null;
};

/** Fairness from the evaluation's `fairness` block: minimum group size, and a verdict only where the CI supports it. */
export function fairnessVerdict(ev: EvaluationParts): Verdict {
  const fb = ev.fairness;
  if (!fb) return { level: 'unknown', text: 'this evaluation has no group sizes or intervals (re-run medsynth evaluate)' };
  const groups = fb.groups ?? [];
  const excluded = (fb.excluded ?? []).map((x) => `${groups[x.group!] ?? x.group} (${x.n})`);
  const excl = excluded.length ? `; excluded, fewer than ${fb.minGroup} test images: ${excluded.join(', ')}` : '';
  if ((fb.eligible ?? []).length < 2) return notInformative(`fewer than 2 groups with at least ${fb.minGroup} test images${excl}`, '');
  const d = (fb.differences ?? []).find((x) => x.of?.[0] === 'c' && x.of?.[1] === 'a');
  if (!d) return { level: 'unknown', text: `no augmented set evaluated${excl}` };
  const way = (k: string) => (fb.ways ?? []).find((w) => w.key === k);
  const a = way('a');
  const c = way('c');
  const w = d.worstGroupAccuracy;
  const e = d.equalizedOddsDifference;
  const conf = Math.round(100 * Number(fb.confidence ?? 0.95));
  const text = `worst-group accuracy ${ci3(a?.worstGroupAccuracy)} → ${ci3(c?.worstGroupAccuracy)} (change ${ci3(w, true)}); equalized-odds difference ${ci3(a?.equalizedOddsDifference)} → ${ci3(c?.equalizedOddsDifference)} (change ${ci3(e, true)}); ${conf}% bootstrap intervals${excl}`;
  const [wi, ei] = [ends(w), ends(e)];
  if (!wi && !ei) return notInformative('no interval (groups too small for the bootstrap to bracket the figure: eval/fairness/bootstrap.ts)', text);
  const worse = (wi !== null && wi.hi < 0) || (ei !== null && ei.lo > 0);
  const better = (wi !== null && wi.lo > 0) || (ei !== null && ei.hi < 0);
  if (worse) return { level: 'poor', text: `worse with augmentation: ${text}` };
  if (better) return { level: 'good', text: `better with augmentation: ${text}` };
  const tol = THRESHOLDS.fairness.unchangedWithin;
  const within = (x: { lo: number; hi: number } | null) => x !== null && x.lo >= -tol && x.hi <= tol;
  if (within(wi) && (within(ei) || !ei)) return { level: 'fair', text: `unchanged (both changes within ±${tol}): ${text}` };
  return notInformative('CI too wide to tell a change from none', text);
}

/** Fidelity, utility, fairness and diversity verdicts from `medsynth evaluate`'s JSON (thresholds: THRESHOLDS). */
export function evaluationVerdicts(ev: EvaluationParts | null): { fidelity: Verdict; utility: Verdict; fairness: Verdict; diversity: Verdict } {
  const ungated = evaluationVerdictsUngated(ev);
  const measured = (v: Verdict) => (v.level === 'unknown' ? '' : v.text);
  const absent = ev ? absentReason(ev) : null;
  const gated = absent ? { ...ungated, fidelity: notInformative(absent, measured(ungated.fidelity)), utility: notInformative(absent, measured(ungated.utility)) } : ungated;
  const gate = learnedGate(ev);
  const diversity = absent ? notInformative(absent, measured(diversityVerdict(ev))) : diversityVerdict(ev);
  if (!gate || gate.learned) return { ...gated, diversity };
  const collapsed = `the model did not learn the data (${gate.why})`;
  // learned.ts's reason for a failed conditional test already opens with that phrase.
  const unconditional = /^the samples do not follow their class/.test(gate.why) ? gate.why : `the samples do not follow their class (${gate.why})`;
  // With classes absent, fidelity and utility already say why they are not informative.
  return {
    fidelity: gate.collapsed && !absent ? notInformative(collapsed, measured(gated.fidelity)) : gated.fidelity,
    utility: absent ? gated.utility : notInformative(gate.collapsed ? collapsed : unconditional, measured(gated.utility)),
    fairness: notInformative(gate.collapsed ? collapsed : unconditional, measured(gated.fairness)),
    diversity,
  };
}

function evaluationVerdictsUngated(ev: EvaluationParts | null): { fidelity: Verdict; utility: Verdict; fairness: Verdict } {
  const none: Verdict = { level: 'unknown', text: 'not evaluated (run medsynth evaluate)' };
  if (!ev) return { fidelity: none, utility: none, fairness: none };
  const t = THRESHOLDS;
  let fidelity: Verdict = { level: 'unknown', text: 'no overall fidelity numbers' };
  const overall = (ev.fidelity?.rows ?? []).find((r) => r.slice === 'overall');
  const fs = num(overall?.synthetic?.values?.fid);
  const fb = num(overall?.baseline?.values?.fid);
  if (fs !== null && fb !== null) {
    const ratio = fs / Math.max(fb, 1e-12);
    const level = ratio <= t.fidelityRatio.close ? 'good' : ratio <= t.fidelityRatio.fair ? 'fair' : 'poor';
    fidelity = { level, text: `${level === 'good' ? 'close' : level === 'fair' ? 'fair' : 'far'}: FID ${fs.toFixed(3)} vs ${fb.toFixed(3)} for real test data (${ratio.toFixed(1)}×)` };
  }
  const ways = ev.utility?.ways ?? [];
  // Mean balanced accuracy over classifier seeds (an evaluation before --classifier-seeds has one report per way).
  const balancedAccuracy = (k: string): number | null => {
    const w = ways.find((x) => x.key === k);
    const reports = w && Array.isArray(w.reports) ? w.reports : w?.report ? [w.report] : [];
    const v = reports.map((r) => num(r.balancedAccuracy)).filter((x): x is number => x !== null);
    return v.length ? mean(v) : null;
  };
  const a = balancedAccuracy('a');
  const b = balancedAccuracy('b');
  let utility: Verdict = { level: 'unknown', text: 'no utility numbers' };
  if (a !== null && b !== null) {
    const gap = a - b;
    const level = gap <= t.utilityGap.good ? 'good' : gap <= t.utilityGap.fair ? 'fair' : 'poor';
    utility = { level, text: `synthetic-only training reaches balanced accuracy ${b.toFixed(3)} vs ${a.toFixed(3)} on real data (gap ${(gap * 100).toFixed(1)} points)` };
  }
  return { fidelity, utility, fairness: fairnessVerdict(ev) };
}

/**
 * Why the synthetic set's figures measure its class mix rather than the generator, when it holds no
 * images of some classes of the real test split (eval/utility absentClasses; e.g. a balance folder's
 * top-ups passed as --synthetic); null otherwise, and for an evaluation without the class counts.
 */
function absentReason(ev: EvaluationParts): string | null {
  const counts = (x: unknown) => (Array.isArray(x) && x.every((v) => typeof v === 'number') ? (x as number[]) : undefined);
  const testPerClass = counts(ev.utility?.testPerClass);
  const absent = absentClasses(counts(ev.utility?.ways?.find((x) => x.key === 'b')?.trainPerClass), testPerClass);
  if (!absent.length || !testPerClass) return null;
  const named = absent.map((c) => ({ name: ev.classes?.[c] ?? String(c), testImages: testPerClass[c]! }));
  return absentSentence(named, testPerClass.length, num(ev.utility?.testImages) ?? testPerClass.reduce((x, y) => x + y, 0));
}

const ABSOLUTE_IN_TEXT = /(^|[\s(=:'"`])(\/(?:[\w.@+-]+\/)*[\w.@+-]+)/g;

/**
 * Every absolute path in `value` (whole strings, and paths inside text such as `--augmented /x/y`)
 * rewritten relative to `dir`, so a report names files relative to itself. Other values unchanged.
 */
export function relativePaths<T>(value: T, dir: string): T {
  const rel = (p: string) => relative(dir, p) || '.';
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (isAbsolute(v)) return rel(v);
      return v.replace(ABSOLUTE_IN_TEXT, (_m, pre: string, p: string) => `${pre}${p.split('/').length > 2 ? rel(p) : p}`);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** The command named in the marker file of every report folder (core/fs.ts OUTPUT_MARKER). */
export const REPORT_MARKER = 'medsynth report';

export async function buildReport(req: ReportRequest): Promise<{ out: string; data: ReportData }> {
  const run = openRun(req.run, { option: '--run' });
  const runDir = run.dir;
  const cfg = run.record;
  const card = run.card;
  const evaluation = req.eval ? readEvaluation(req.eval) : null;
  const audit = req.audit ? readAudit(req.audit) : null;
  const review = req.review ? loadReviewSummary(req.review) : null;
  const signOff = req.signOff ? readSignOff(req.signOff) : null;
  const privacy: ReportData['privacy'] = card.privacy;

  // Training curves: losses from metrics.jsonl, ε after each epoch from the card (privacy.epsilonPerEpoch:
  // what the run's one ledger gave, which for a one-shot release stays at its one step).
  const epsilonAt = new Map(run.epsilonPerEpoch().map((e) => [e.epoch, e.epsilon]));
  const curves = run.metrics().map((e) => {
    const epsilon = epsilonAt.get(e.epoch);
    return { epoch: e.epoch, step: e.step, losses: e.losses, ...(epsilon !== undefined ? { epsilon } : {}) };
  });

  // Samples: generated rows per class × group; real rows only when asked.
  const seed = req.seed ?? 1;
  const conditions = run.conditions;
  const gen = run.loadGenerator();
  let png: Uint8Array;
  let realPng: Uint8Array | null = null;
  const cells = gridCells(conditions.spec);
  const perRow = 8;
  try {
    png = tile(sampleRows(gen, conditions.spec, cells, perRow, seed), perRow, gen.imageSize, gen.channels);
    if (req.includeTrainingImages) {
      // The run's data (sha256 checked) and its train split as training used it (splits.csv).
      const ds = run.loadData();
      const train = run.splitOf(ds).flatMap((s, i) => (s === 'train' ? [i] : []));
      const rng = new Rng(seed).derive('real-rows');
      const len = imageLength(ds);
      const attrs = conditions.spec.attributes.map((a) => ds.attributes.find((x) => x.name === a.name)!);
      const rows = cells.map((cell) => {
        const pool = train.filter((i) => conditions.spec.labels[cell.label] === ds.labelNames[ds.labels[i]!] && attrs.every((a, k) => a.values[a.codes[i]!] === conditions.spec.attributes[k]!.values[cell.codes[k]!]));
        const pick = rng.shuffle(pool).slice(0, perRow);
        const out = new Float32Array(perRow * len);
        pick.forEach((s, d) => out.set(ds.images.subarray(s * len, (s + 1) * len), d * len));
        return out;
      });
      realPng = tile(rows, perRow, ds.width, ds.channels);
    }
  } finally {
    gen.dispose();
  }

  const out = resolve(req.out);
  const verdicts = {
    privacy: privacyVerdict(privacy, audit, evaluation),
    ...evaluationVerdicts(evaluation),
  };
  const body: Omit<ReportData, 'samples'> = relativePaths({
    title: `medsynth report: ${basename(runDir)}`,
    generatedBy: `medsynth ${packageVersion()}`,
    run: { name: basename(runDir), kind: card.generator.type, seed: cfg.seed, steps: card.training.steps, seconds: card.training.seconds },
    privacy: { ...privacy, ...(card.privacy.differentialPrivacy ? { accountantDescription: accountant(card.privacy.accountant).description } : {}) },
    curves,
    modelCard: card,
    runConfig: cfg as unknown as Record<string, unknown>,
    evaluation,
    audit,
    verdicts,
    thresholds: THRESHOLDS,
    review,
    signOff,
    checklist: buildChecklist({ privacy, modelCard: card, evaluation, audit, verdicts, review, signOff }),
  }, out);
  // The sample grids are base64 (which holds '/'), so they stay out of the path rewriting.
  const data: ReportData = { ...body, samples: { cells: cells.map((c) => c.name), perRow, seed, png: Buffer.from(png).toString('base64'), realPng: realPng ? Buffer.from(realPng).toString('base64') : null } };
  await writeDirAtomic(
    out,
    async (tmp) => {
      writeFileAtomic(join(tmp, 'report.html'), renderHtml(data));
      writeFileAtomic(join(tmp, 'report.md'), renderMarkdown(data));
      const { samples, ...rest } = data;
      writeFileAtomic(join(tmp, 'report.json'), JSON.stringify({ ...rest, samples: { cells: samples.cells, perRow: samples.perRow, seed: samples.seed, realImagesIncluded: samples.realPng !== null } }, null, 2) + '\n');
    },
    { option: '--out', marker: REPORT_MARKER, force: req.force },
  );
  return { out, data };
}
