/**
 * Rendering a ReportData as self-contained HTML (inline CSS + SVG, images as data: URIs, no scripts, no
 * network) and as Markdown. Every section has a stable id (summary, checklist, privacy, attacks, fidelity,
 * utility, diversity, review (with --review), samples, training, provenance) so tests and readers can find it.
 */
import { KID_DISPLAY_SCALE, KID_READING } from '../../eval/fidelity/kid.js';
import { indistinctSentence, intervalIncludesZero, untaughtSentence } from '../../eval/utility/index.js';
import { canaryFinding } from './canary.js';
import type { ReportData, Verdict } from './data.js';
import type { AttackMetrics, BootInterval, CellCounts, ClassifierReport, FidelityComparison, ModeOccupancy, Parts, SeedStat, UtilitySummary, UtilityWay, WayComparison } from './inputs.js';
import { barChart, esc, lineChart, rocChart } from './svg.js';

type Obj = Record<string, any>;
const f = (x: unknown, d = 3): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : x === Infinity ? '∞' : '–');
/** An estimate with its interval, in any of the files' shapes. */
type Estimate = { value?: unknown; estimate?: unknown; mean?: unknown; lo?: unknown; hi?: unknown; lower?: unknown; upper?: unknown };
const ci = (o: Estimate | number | null | undefined, d = 3): string => {
  if (typeof o === 'number') return f(o, d);
  if (!o) return '–';
  const v = o.value ?? o.estimate ?? o.mean;
  const lo = o.lo ?? o.lower;
  const hi = o.hi ?? o.upper;
  return lo !== undefined && hi !== undefined ? `${f(v, d)} [${f(lo, d)}, ${f(hi, d)}]` : f(v, d);
};

interface Table {
  header: string[];
  rows: string[][];
  /** Per row, an in-report anchor ('#privacy') that the row's last cell links to, or null. */
  links?: (string | null)[];
}

/** The sections a checklist item can point to. */
const EVIDENCE_TITLES: Record<string, string> = {
  '#privacy': 'Privacy',
  '#attacks': 'Membership attacks',
  '#utility': 'Utility and fairness',
  '#diversity': 'Diversity',
  '#review': 'Human review',
  '#provenance': 'Provenance',
};

export interface Section {
  id: string;
  title: string;
  paragraphs: string[];
  tables: { caption: string; table: Table }[];
  charts: string[];
  images: { caption: string; base64: string }[];
}

function section(id: string, title: string): Section {
  return { id, title, paragraphs: [], tables: [], charts: [], images: [] };
}

const verdictRow = (name: string, v: Verdict) => [name, v.level, v.text];

/** The mark of a TPR read at an FPR below 1 / non-members (as in the CLI's audit table). */
export const UNRESOLVABLE_MARK = '*';
/** The mark beside a high precision of collapsed samples. */
export const COLLAPSE_MARK = '†';

/** TPR at `fpr` with its interval, marked when the FPR is below 1 / non-members. */
export function tprCell(m: Parts<AttackMetrics> | null | undefined, fpr: number): string {
  const t = m?.tprAtFpr?.find((x) => Math.abs(x.fpr! - fpr) < 1e-12);
  if (!t) return '–';
  const nonMembers = Number(m?.nonMembers);
  const resolvable = typeof t.resolvable === 'boolean' ? t.resolvable : Number.isFinite(nonMembers) ? fpr * nonMembers >= 1 : true;
  return `${ci(t)}${resolvable ? '' : UNRESOLVABLE_MARK}`;
}

export function sections(d: ReportData): Section[] {
  const out: Section[] = [];
  const pv = d.privacy as Obj;
  const audit = d.audit;
  const ev = d.evaluation;

  const s = section('summary', 'Summary');
  s.paragraphs.push(`Run <b>${esc(d.run.name)}</b>: a ${esc(d.run.kind)} trained for ${d.run.steps} steps (seed ${d.run.seed}).`);
  const v = d.verdicts;
  const verdictRows = [verdictRow('privacy', v.privacy), verdictRow('fidelity', v.fidelity), verdictRow('utility', v.utility), verdictRow('fairness', v.fairness)];
  if (v.diversity) verdictRows.push(verdictRow('diversity', v.diversity));
  s.tables.push({ caption: 'Verdicts', table: { header: ['aspect', 'verdict', 'why'], rows: verdictRows } });
  const t = d.thresholds;
  const lt = t.learned;
  s.paragraphs.push(
    `How verdicts are read: privacy is <i>low leakage</i> when the model is (ε, δ)-DP with ε ≤ ${t.lowLeakage.epsilon} and the best membership attack's AUC ≤ ${t.lowLeakage.auc}; <i>moderate</i> when the best AUC ≤ ${t.moderateLeakage.auc}; <i>high</i> otherwise. Fidelity is <i>close</i> when FID ≤ ${t.fidelityRatio.close}× the real-vs-real baseline, <i>fair</i> up to ${t.fidelityRatio.fair}×. Utility is <i>good</i> when training on synthetic data loses ≤ ${t.utilityGap.good * 100} accuracy points against real data, <i>fair</i> up to ${t.utilityGap.fair * 100}. Fairness compares worst-group accuracy and the equalized-odds difference before (a) and after (c) augmentation over the groups with at least ${t.fairness?.minGroup ?? 20} test images (evaluate --min-group; smaller groups are listed and left out): <i>better</i> or <i>worse</i> only when the bootstrap interval of a change excludes 0, <i>unchanged</i> when both intervals lie within ±${t.fairness?.unchangedWithin ?? 0.05}, otherwise not informative.`,
  );
  if (lt) {
    s.paragraphs.push(
      `Every verdict needs evidence that the model learned the data. The samples count as <i>collapsed</i> when their distinct nearest training records are fewer than ${lt.distinctRatio * 100}% of those of as many real held-out images, or their k-means mode coverage is below ${lt.modeCoverageRatio}× the real held-out coverage; then the privacy (unless an attack found high leakage), fidelity, utility and fairness verdicts are <i>not informative</i>: an attack cannot show leakage of what the model never learned. Samples whose class a nearest-record judge recovers with less than ${lt.conditionalMargin * 100}% of the real data's margin over chance make utility and fairness not informative. Without that evidence (no --eval), a low-leakage privacy verdict is not informative. Diversity is <i>good</i> at ≥ ${t.diversity?.distinctRatio}× real distinct nearest records and ≥ ${t.diversity?.modeCoverageRatio}× real mode coverage, <i>poor</i> when collapsed.`,
    );
  }
  out.push(s);

  if (d.checklist) {
    const ck = section('checklist', 'Ethics checklist');
    ck.paragraphs.push(
      'What a governance board asks before these synthetic images are used. <i>done</i>: the pipeline checked it; <i>attention</i>: checked, and a person should look; <i>not run</i>: the step that answers it was not run; <i>open</i>: only a person can answer (in <code>--sign-off FILE.json</code>); <i>answered</i>: a person answered in that file. Each item links to its evidence below.',
    );
    if (d.signOff?.signedBy) ck.paragraphs.push(`Sign-off by <b>${esc(d.signOff.signedBy)}</b>${d.signOff.date ? `, ${esc(d.signOff.date)}` : ''}.`);
    ck.tables.push({
      caption: 'Checklist',
      table: {
        header: ['item', 'status', 'answer', 'evidence'],
        rows: d.checklist.map((c) => [c.question, c.status, c.answer, c.evidence ? (EVIDENCE_TITLES[c.evidence] ?? c.evidence) : c.signOffField ? `sign-off: ${c.signOffField}` : '–']),
        links: d.checklist.map((c) => c.evidence),
      },
    });
    out.push(ck);
  }

  const p = section('privacy', 'Privacy');
  if (pv.differentialPrivacy) {
    p.paragraphs.push(`<b>Claim:</b> ${esc(String(pv.claim ?? ''))}.`);
    p.tables.push({
      caption: 'DP parameters',
      table: {
        header: ['unit', 'ε', 'δ', 'accountant', 'noise multiplier σ', 'clip norm C', 'sample rate q', 'steps', 'units N'],
        rows: [[String(pv.unit), f(pv.epsilon), String(pv.delta), String(pv.accountant), f(pv.noiseMultiplier, 4), String(pv.clipNorm), f(pv.sampleRate, 5), String(pv.steps), String(pv.units)]],
      },
    });
    p.paragraphs.push(`Accountant: ${esc(String(pv.accountantDescription ?? pv.accountant))}.`);
    p.paragraphs.push(`<b>Covers:</b> ${esc(String(pv.covers ?? ''))}.`);
    p.paragraphs.push(`<b>Does not cover:</b> ${(pv.doesNotCover as string[] | undefined)?.map(esc).join('; ') ?? '–'}.`);
    p.paragraphs.push('Any other use of the private data — tuning on it, releasing training logs, or running other analyses on it — will invalidate the stated privacy guarantee.');
    const eps = d.curves.filter((c) => typeof c.epsilon === 'number').map((c) => [c.step, c.epsilon!] as [number, number]);
    p.charts.push(lineChart({ title: 'ε spent over training', xLabel: 'DP-SGD step', yLabel: 'ε', series: [{ name: `ε (${pv.accountant})`, points: [[0, 0], ...eps] }] }));
  } else {
    p.paragraphs.push(`<b>${esc(String(pv.warning ?? 'Trained without differential privacy.'))}</b>`);
  }
  const best = audit?.best;
  const canary = audit?.canaryAudit;
  if (canary || best) {
    // One table: what each line measures, and the adversary it assumes.
    const rows: string[][] = [];
    if (pv.differentialPrivacy) rows.push([`accountant (${String(pv.accountant)})`, `ε ≤ ${f(pv.epsilon)} (upper bound)`, `δ ${String(pv.delta)}`, 'any adversary, including one who sees every training step; holds if the implementation is correct']);
    if (canary) {
      rows.push([
        `canary audit (${String(canary.canaries)} ${String(canary.kind)} canaries, one run)`,
        `ε ≥ ${f(canary.epsilonLowerBound)} (${String(canary.correct)}/${String(canary.guesses)} guesses correct)`,
        `δ ${String(canary.delta)}, ${Math.round(100 * Number(canary.confidence))}% confidence`,
        String(canary.threatModel ?? ''),
      ]);
      if (canary.claimTest) {
        const t = canary.claimTest;
        rows.push([
          'the same canaries against the claimed trade-off curve',
          t.rejected === null || t.rejected === undefined ? `not tested (${String(t.reason ?? '')})` : t.rejected ? `REJECTED (p = ${Number(t.pValue).toExponential(2)})` : `consistent (p = ${Number(t.pValue).toFixed(2)})`,
          `${Math.round(100 * Number(canary.confidence))}% confidence`,
          'as above; tests the curve the accounting claims (PRV privacy profile), whatever its shape: a rejection means the implementation is broken',
        ]);
      }
      if (canary.gdp) {
        rows.push([
          'the same canaries, f-DP reading (Gaussian family)',
          `ε ≥ ${f(canary.gdp.epsilonAtDelta)} (μ ≥ ${Number(canary.gdp.muLowerBound).toFixed(3)})`,
          `δ ${String(canary.delta)}, ${Math.round(100 * Number(canary.confidence))}% confidence`,
          `as above, and only if each canary's trade-off curve is Gaussian (μ-GDP): informs, never decides "broken"`,
        ]);
      }
    }
    if (best) rows.push([`membership attacks (best: ${String(best.attack)})`, `ε ≥ ${f(best.epsilonLowerBound)}`, `δ ${String(audit?.settings?.delta ?? '')}`, 'black-box or white-box on the final model only, members vs holdout images: a weak adversary, so a small value proves nothing']);
    p.tables.push({ caption: 'ε: the claim and what audits measured', table: { header: ['source', 'ε', 'at', 'threat model'], rows } });
    const found = canaryFinding(canary);
    if (found?.finding === 'broken') p.paragraphs.push(`<b>The canary audit: ${esc(found.why)}. The DP implementation or its accounting is broken; the privacy claim does not hold.</b>`);
    else if (canary) p.paragraphs.push(`The canary audit's lower bound is at or below the accountant's ε, as a correct implementation requires. A lower bound well below ε does not mean the accounting is loose: one run with ${String(canary.canaries)} canaries cannot certify more (eval/results/canary-audit.md shows the most this method reaches in the same setting).`);
    if (found?.finding === 'investigate') {
      p.paragraphs.push('The f-DP reading of the canaries (Gaussian family) is above the accountant\'s ε. That is not proof of a bug, as it assumes a Gaussian trade-off curve, but it is worth investigating: a unit counted twice shows this way.');
    }
    if (canary?.break) p.paragraphs.push(`<b>TEST BUILD:</b> this run was trained with a deliberate DP bug (${esc(String(canary.break))}).`);
  }
  out.push(p);

  const a = section('attacks', 'Membership attacks');
  if (audit?.attacks) {
    const attacks = audit.attacks;
    const tpr = tprCell;
    const sz = audit.sizes;
    a.paragraphs.push(
      `Members: ${sz?.members ?? '–'} training images; non-members: ${sz?.nonMembers ?? '–'} holdout images never trained on; ${sz?.synthetic ?? '–'} synthetic samples. Each attack scores every image (higher = more likely a member). Intervals are ${Math.round(100 * Number(audit.settings?.confidence ?? 0.95))}% bootstrap CIs; the ε lower bound is a Clopper–Pearson bound at the best threshold (Jagielski et al. 2020; Nasr et al. 2021).`,
    );
    a.tables.push({
      caption: 'Attack results',
      table: {
        header: ['attack', 'access', 'AUC', 'TPR @ FPR 1%', 'TPR @ FPR 0.1%', 'max advantage', 'ε lower bound'],
        rows: attacks.map((x) => [String(x.name), String(x.access ?? ''), ci(x.overall?.auc), tpr(x.overall, 0.01), tpr(x.overall, 0.001), ci(x.overall?.advantage), f(x.overall?.epsilon?.epsilon)]),
      },
    });
    const curves = attacks.flatMap((x) => (x.overall?.roc?.fpr && x.overall?.roc?.tpr ? [{ name: String(x.name), fpr: x.overall.roc.fpr, tpr: x.overall.roc.tpr }] : []));
    if (curves.length) a.charts.push(rocChart('ROC curves of the membership attacks (log-log)', curves));
    const groups = attacks.flatMap((x) => (x.groups ?? []).flatMap((g) => (g.metrics ? [[String(x.name), `${g.variable}=${g.value}`, `${g.members}/${g.nonMembers}`, ci(g.metrics.auc), tpr(g.metrics, 0.01)]] : [])));
    if (groups.length) a.tables.push({ caption: 'Leakage per group (members/non-members per group)', table: { header: ['attack', 'group', 'n', 'AUC', 'TPR @ FPR 1%'], rows: groups } });
    if ([...a.tables.flatMap((x) => x.table.rows.flat())].some((c) => c.endsWith(UNRESOLVABLE_MARK))) {
      a.paragraphs.push(`${UNRESOLVABLE_MARK} FPR below 1/${sz?.nonMembers ?? 'non-members'} (1/non-members of the group, per group): TPR at zero false positives, not a TPR at that FPR; unreliable, read it as "members scored above every non-member".`);
    }
    for (const d of audit.dcr ?? []) {
      const perm = d.permutation;
      const permText = perm ? `; permutation test p = ${f(perm.pValue)}, chance range [${f(perm.nullLower)}, ${f(perm.nullUpper)}] (trust this over the binomial interval when samples share nearest records)` : '';
      const distinct = typeof d.distinctNearestRecords === 'number' ? `; the ${d.synthetic ?? ''} samples have ${d.distinctNearestRecords} distinct nearest records${typeof d.largestShareOnOneRecord === 'number' ? ` (the most shared one is nearest to ${f(100 * d.largestShareOnOneRecord, 1)}% of them)` : ''}, so the interval counts far fewer independent trials than samples` : '';
      a.paragraphs.push(`DCR test (${esc(String(d.space))} space): ${f(d.share)} [${f(d.lower)}, ${f(d.upper)}] of synthetic samples are closer to a training image than to a holdout image (ideal ≈ 0.5; above it, samples sit nearer the training data)${distinct}${permText}.`);
    }
    for (const c of audit.caveats ?? []) a.paragraphs.push(`<i>${esc(c)}</i>`);
  } else a.paragraphs.push('Not audited: run <code>medsynth audit --model RUN --data DIR --json audit.json</code> and pass <code>--audit audit.json</code>.');
  out.push(a);

  const fi = section('fidelity', 'Fidelity');
  if (ev?.fidelity?.rows) {
    const learned = ev.learned;
    const collapsed = learned?.collapsed === true;
    let marked = false;
    let negative = false;
    const fv = (c: Parts<FidelityComparison> | undefined, synthetic: boolean) => {
      const v = c?.values;
      if (!v) return ['–', '–', '–', '–', '–', '–'];
      const warn = synthetic && collapsed && typeof v.precision === 'number' && v.precision >= 0.8 ? ` ${COLLAPSE_MARK}` : '';
      marked ||= warn !== '';
      negative ||= typeof v.kid?.mean === 'number' && v.kid.mean < 0;
      return [f(v.fid, 2), v.kid ? `${f(v.kid.mean! * KID_DISPLAY_SCALE, 2)}±${f(v.kid.std! * KID_DISPLAY_SCALE, 2)}` : '–', `${f(v.precision)}${warn}`, f(v.recall), f(v.density), f(v.coverage)];
    };
    const rows: string[][] = [];
    for (const r of ev.fidelity.rows) {
      rows.push([`${r.slice} ${r.name}`, 'synthetic', String(r.synthetic?.n ?? '–'), ...fv(r.synthetic, true)]);
      rows.push(['', 'real test (baseline)', String(r.baseline?.n ?? '–'), ...fv(r.baseline, false)]);
    }
    fi.paragraphs.push(`Each slice compares a set with the real train split in ${esc(String(ev.features?.name ?? 'feature'))} features (${esc(String(ev.features?.fittedOn ?? ''))}); the real-test row is what a fresh sample of real data scores. Lower FID/KID and higher precision, recall, density and coverage are better.`);
    fi.paragraphs.push(`${esc(KID_READING)}${negative ? ' (the table has negative values)' : ''}.`);
    if (marked) {
      fi.paragraphs.push(
        `${COLLAPSE_MARK} <b>High precision on collapsed samples:</b> the samples lie inside the real data but on few records (${learned!.distinctNearest?.synthetic} distinct nearest training records for ${learned!.m} samples, against ${learned!.distinctNearest?.reference} for as many real held-out images; mode coverage ${f(learned!.modeCoverage?.ratio, 2)}× real). Precision cannot see collapse: read recall and coverage.`,
      );
    }
    fi.tables.push({ caption: 'Fidelity overall, per class and per group', table: { header: ['slice', 'set', 'n', 'FID', 'KID ×1000', 'precision', 'recall', 'density', 'coverage'], rows } });
  } else fi.paragraphs.push('Not evaluated: run <code>medsynth evaluate</code> and pass <code>--eval</code>.');
  out.push(fi);

  const u = section('utility', 'Utility and fairness');
  if (ev?.utility?.ways) {
    const ways = ev.utility.ways;
    const classes = ev.classes ?? [];
    // Per classifier seed (evaluations before --classifier-seeds have one report per way).
    const reportsOf = (w: Parts<UtilityWay>): Parts<ClassifierReport>[] => (Array.isArray(w.reports) ? w.reports : w.report ? [w.report] : []);
    const mean = (xs: unknown[]) => {
      const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      return v.length ? v.reduce((p, q) => p + q, 0) / v.length : null;
    };
    const stat = (st: Parts<SeedStat> | undefined) => (st && st.mean !== null && st.mean !== undefined ? (st.lo !== null && st.hi !== null ? `${f(st.mean)} [${f(st.lo)}, ${f(st.hi)}]` : f(st.mean)) : '–');
    // Headline metrics: mean [95% CI] from the summary; the others: mean over seeds.
    const headline = (name: string, get: (sm: Parts<UtilitySummary>) => Parts<SeedStat> | undefined, fallback: (r: Parts<ClassifierReport>) => unknown) =>
      [name, ...ways.map((w) => (w.summary ? stat(get(w.summary)) : reportsOf(w).length ? f(mean(reportsOf(w).map(fallback))) : '–'))];
    const metric = (name: string, get: (r: Parts<ClassifierReport>) => unknown) => [name, ...ways.map((w) => (reportsOf(w).length ? f(mean(reportsOf(w).map(get))) : '–'))];
    const rows = [
      ['train images', ...ways.map((w) => String(w.trainImages ?? '–'))],
      headline('accuracy', (sm) => sm.accuracy, (r) => r.accuracy),
      headline('balanced accuracy', (sm) => sm.balancedAccuracy, (r) => r.balancedAccuracy),
      ...classes.map((c, i) => headline(`recall ${c}`, (sm) => sm.recall?.[i], (r) => r.recall![i])),
      headline('worst-group accuracy', (sm) => sm.worstGroupAccuracy, (r) => r.worstGroupAccuracy),
      metric('demographic-parity difference', (r) => r.demographicParityDifference),
      metric('equalized-odds difference', (r) => r.equalizedOddsDifference),
    ];
    const groups = ev.groups ?? [];
    for (let g = 0; g < groups.length; g++) rows.push(metric(`accuracy, group ${groups[g]}`, (r) => r.groupAccuracy!.find((x) => x.group === g)?.accuracy));
    const seeds = ev.utility.classifier?.seeds?.length ?? 1;
    const over = seeds > 1 ? `mean [95% Student-t interval] over ${seeds} classifier seeds (training-seed variation; the test split is fixed)` : 'one classifier seed, so no interval';
    const nWays = ways.length === 4 ? 'four' : String(ways.length);
    u.paragraphs.push(`The same classifier trained ${nWays} ways and tested on the real test split (${ev.utility.testImages} images, used for nothing else); ${over}. Positive class for the fairness rates: ${esc(String(ev.utility.positiveName ?? '–'))}. Demographic parity and equalized odds as in Hardt, Price & Srebro 2016 (differences between the best and worst group; 0 is parity; mean over seeds).`);
    const o = ev.utility.oversampling;
    if (o) {
      u.paragraphs.push(`<b>(d) oversampling</b>, the baseline a user would pick instead of generating: the augmented set (c) with each of its ${o.replaced} synthetic rows replaced by a real training image of the same ${esc(String(o.matchedOn))} cell, drawn at random with replacement (seed ${o.seed}), so (c) and (d) have the same count in every cell${o.leftOut ? `; ${o.leftOut} rows whose cell has no real training image are left out of (d)` : ''}.`);
      for (const n of o.notes ?? []) u.paragraphs.push(`<i>(d): ${esc(n)}</i>`);
    }
    u.tables.push({ caption: 'Utility and fairness: (b), (c) and (d) next to (a)', table: { header: ['metric', ...ways.map((w) => `(${w.key}) ${String(w.label ?? '')}`)], rows } });
    const pts = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}` : '–');
    const cmpRow = (name: string, c: Parts<WayComparison> | null | undefined) => [name, c ? pts(c.deltaBalancedAccuracy) : '–', c?.ci ? `[${pts(c.ci.lo)}, ${pts(c.ci.hi)}]` : '–', c ? String(c.verdict) : 'not compared'];
    const vsD = ev.utility.augmentedVsOversampling;
    const vsA = ev.utility.augmentedVsReal;
    if (vsD !== undefined || vsA !== undefined) {
      u.tables.push({
        caption: 'Augmentation (c) against oversampling (d) and real only (a): balanced accuracy of (c) minus the other, in points, paired over classifier seeds',
        table: { header: ['comparison', 'Δ balanced accuracy', '95% CI', 'verdict'], rows: [cmpRow('(c) vs (d) oversampling', vsD), cmpRow('(c) vs (a) real only', vsA)] },
      });
      const capitalise = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);
      const noise = (c: Parts<WayComparison>) => (intervalIncludesZero(c) ? ` ${capitalise(indistinctSentence(seeds))}.` : '');
      if (vsD?.verdict === 'oversampling is better here') {
        u.paragraphs.push(`<b>Oversampling is better here:</b> duplicating real training images gave a balanced accuracy ${pts(-vsD.deltaBalancedAccuracy!).replace('+', '')} points above the synthetic augmentation (more than 1 point); use oversampling rather than these synthetic images for this task.${noise(vsD)}`);
      } else if (vsD?.verdict) {
        const what = vsD.verdict === 'within 1 point' ? 'within 1 point of oversampling' : 'better than oversampling';
        u.paragraphs.push(`Against the oversampling baseline, the synthetic augmentation is <b>${what}</b> (${pts(vsD.deltaBalancedAccuracy)} points of balanced accuracy).${noise(vsD)}`);
      }
    }
    const fb = ev.fairness;
    if (fb) {
      const gname = (g: number) => String(fb.groups?.[g] ?? g);
      const excluded = (fb.excluded ?? []).map((x) => `${esc(gname(x.group!))} (${x.n} test images)`);
      u.paragraphs.push(
        `Fairness figures over the groups with at least ${fb.minGroup} real test images: ${(fb.eligible ?? []).map((g) => `${esc(gname(g))} (${fb.groupSizes![g]})`).join(', ') || 'none'}. ${excluded.length ? `Left out as too small: ${excluded.join(', ')}.` : 'No group is too small.'} Intervals: ${Math.round(100 * Number(fb.confidence))}% percentile bootstrap over the test images, ${fb.replicates} replicates stratified by group (seed ${fb.seed}); a change (c) − (a) resamples both ways independently, which makes its interval wider, not narrower.`,
      );
      if ((fb.eligible ?? []).length >= 2) {
        const bi = (x: Parts<BootInterval> | undefined, sign = false) => {
          const v = (y: number) => `${sign && y >= 0 ? '+' : ''}${f(y)}`;
          return x && typeof x.estimate === 'number' ? (typeof x.lo === 'number' && typeof x.hi === 'number' ? `${v(x.estimate)} [${v(x.lo)}, ${v(x.hi)}]` : `${v(x.estimate)} [no interval]`) : '–';
        };
        const rowsF = (fb.ways ?? []).map((w) => [`(${w.key})`, bi(w.worstGroupAccuracy), bi(w.equalizedOddsDifference)]);
        for (const dd of fb.differences ?? []) rowsF.push([`(${dd.of![0]}) − (${dd.of![1]})`, bi(dd.worstGroupAccuracy, true), bi(dd.equalizedOddsDifference, true)]);
        u.tables.push({ caption: `Fairness over groups with ≥ ${fb.minGroup} test images, with bootstrap intervals`, table: { header: ['way', 'worst-group accuracy', 'equalized-odds difference'], rows: rowsF } });
      }
    }
  } else u.paragraphs.push('Not evaluated.');
  out.push(u);

  const dv = section('diversity', 'Diversity');
  const cells = ev?.diversity?.cells;
  if (cells?.realTrain) {
    const names: string[] = [];
    const classes = ev!.classes ?? [];
    const groups = ev!.groups ?? [];
    classes.forEach((c) => groups.forEach((g) => names.push(`${c} | ${g}`)));
    const flat = (cc: Parts<CellCounts> | null | undefined) => (cc ? cc.counts!.flat() : []);
    const series = [{ name: 'real train (before)', values: flat(cells.realTrain) }];
    if (cells.augmented) series.push({ name: 'augmented (after)', values: flat(cells.augmented) });
    else if (cells.synthetic) series.push({ name: 'synthetic', values: flat(cells.synthetic) });
    dv.charts.push(barChart({ title: 'Images per class × group cell', yLabel: 'images', categories: names, series }));
    const idx = (name: string, cc: Parts<CellCounts> | null | undefined) => (cc ? [name, f(cc.indices!.gini), f(cc.indices!.shannon), f(cc.indices!.pielou), String(cc.indices!.emptyCells)] : [name, '–', '–', '–', '–']);
    dv.tables.push({ caption: 'Evenness of the cell counts (Gini: 0 = even; Shannon in nats; Pielou: 1 = even)', table: { header: ['set', 'Gini', 'Shannon', 'Pielou', 'empty cells'], rows: [idx('real train', cells.realTrain), idx('synthetic', cells.synthetic), idx('augmented', cells.augmented)] } });
    const modes = ev!.diversity?.modes;
    if (modes) {
      const occ = (name: string, o: Parts<ModeOccupancy> | undefined) => [name, f(o?.coverage), o?.ndb ? `${o.ndb.ndb}/${modes.k}` : '–', f(o?.indices?.gini)];
      dv.tables.push({ caption: `Mode coverage over K = ${modes.k} k-means clusters of real features, and NDB (Richardson & Weiss 2018)`, table: { header: ['set', 'coverage', 'NDB', 'Gini of occupancy'], rows: [occ('synthetic', modes.synthetic), occ('real test (baseline)', modes.baseline)] } });
    }
    const l = ev!.learned;
    if (l) {
      const ca = l.conditionalAccuracy;
      const lt = l.thresholds;
      dv.tables.push({
        caption: `Did the model learn? ${l.m} samples against ${l.m} real held-out (test) images, nearest records in the real train split (${esc(String(l.space ?? ''))})`,
        table: {
          header: ['evidence', 'synthetic', 'real held-out', 'ratio', 'gate'],
          rows: [
            ['distinct nearest training records', String(l.distinctNearest?.synthetic), String(l.distinctNearest?.reference), f(l.distinctNearest?.ratio, 2), `≥ ${lt?.distinctRatio ?? '–'}`],
            [`k-means mode coverage (K = ${l.modeCoverage?.k})`, f(l.modeCoverage?.synthetic), f(l.modeCoverage?.reference), f(l.modeCoverage?.ratio, 2), `≥ ${lt?.modeCoverageRatio ?? '–'}`],
            ['conditional accuracy (1-NN judge, balanced)', f(ca?.synthetic), f(ca?.reference), typeof ca?.margin === 'number' ? `${f(ca.margin, 2)} of the margin over chance ${f(ca.chance, 2)}` : '–', `≥ ${lt?.conditionalMargin ?? '–'} of the margin`],
          ],
        },
      });
      dv.paragraphs.push(l.learned ? 'The samples pass every learned-at-all test.' : `<b>The model did not learn the data:</b> ${(l.reasons ?? []).map(esc).join('; ')}.`);
      if (l.untaught?.length) dv.paragraphs.push(`<b>${esc(untaughtSentence(l.untaught.map((u) => ({ name: String(u.name), realRecall: Number(u.realRecall) }))))}</b>`);
    }
    const intra = ev!.diversity?.intraClass;
    if (intra) dv.tables.push({ caption: 'Intra-class diversity: mean pairwise feature distance', table: { header: ['class', 'real', 'synthetic', 'ratio'], rows: [...intra.perClass!.map((c) => [String(c.name), f(c.real), f(c.synthetic), f(c.ratio)]), ['all', f(intra.all!.real), f(intra.all!.synthetic), f(intra.all!.ratio)]] } });
  } else dv.paragraphs.push('Not evaluated.');
  out.push(dv);

  if (d.review) {
    const r = d.review;
    const rv = section('review', 'Human review');
    rv.paragraphs.push(
      `${r.reviewers.length} reviewer(s) (${r.reviewers.map(esc).join(', ') || 'none'}) decided on ${r.reviewed} of ${r.images} synthetic images with medsynth review; ${r.released} released, ${r.rejected} rejected. Rule: ${esc(r.rule)}.${r.skippedLines ? ` ${r.skippedLines} log line(s) were unreadable or named an image not in the manifest, and were ignored.` : ''}`,
    );
    const pc = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
    rv.tables.push({ caption: 'Review per class × group cell (acceptance = released / reviewed)', table: { header: ['cell', 'images', 'reviewed', 'released', 'rejected', 'acceptance'], rows: r.cells.map((c) => [c.cell, String(c.images), String(c.reviewed), String(c.released), String(c.rejected), pc(c.acceptanceRate)]) } });
    const reasons = Object.entries(r.reasons);
    if (reasons.length) rv.tables.push({ caption: 'Reasons for rejection (latest decision of each reviewer)', table: { header: ['reason', 'count'], rows: reasons.map(([k, v]) => [k, String(v)]) } });
    out.push(rv);
  }

  const sm = section('samples', 'Samples');
  sm.paragraphs.push(`Generated samples, one row per class × group cell (${d.samples.perRow} per row, seed ${d.samples.seed}): ${d.samples.cells.map(esc).join('; ')}.`);
  sm.images.push({ caption: 'Generated samples per class × group', base64: d.samples.png });
  if (d.samples.realPng) sm.images.push({ caption: 'REAL training images of the same cells (included because --include-training-images was given)', base64: d.samples.realPng });
  else sm.paragraphs.push('No training image is shown (pass --include-training-images to add real rows).');
  out.push(sm);

  const tr = section('training', 'Training curves');
  const keys = [...new Set(d.curves.flatMap((c) => Object.keys(c.losses)))].filter((k) => !['beta', 'batch', 'clipped', 'fake_rejected'].includes(k));
  tr.charts.push(lineChart({ title: 'Mean losses per epoch', xLabel: 'epoch', yLabel: 'loss', series: keys.map((k) => ({ name: k, points: d.curves.filter((c) => Number.isFinite(c.losses[k])).map((c) => [c.epoch, c.losses[k]!] as [number, number]) })) }));
  out.push(tr);

  const pr = section('provenance', 'Provenance: model card and datasheet');
  const card = d.modelCard as Obj;
  pr.tables.push({
    caption: 'Datasheet',
    table: {
      header: ['field', 'value'],
      rows: [
        ['dataset', String(card.dataset?.name)],
        ['source', `${card.dataset?.source}`],
        ['fingerprint', String(card.dataset?.fingerprint)],
        ['preprocessing', JSON.stringify(card.dataset?.preprocessing)],
        ['splits (images)', JSON.stringify(card.splits?.sizes)],
        ['splits (units)', `${JSON.stringify(card.splits?.units)} by ${card.splits?.unit}, seed ${card.splits?.seed}`],
        ['conditioning', JSON.stringify(card.conditioning)],
      ],
    },
  });
  pr.tables.push({
    caption: 'Model card',
    table: {
      header: ['field', 'value'],
      rows: [
        ['generator', `${card.generator?.type} ${JSON.stringify(card.generator?.config)}`],
        ['training', `seed ${card.training?.seed}, ${card.training?.steps} steps, ${f(card.training?.seconds, 1)} s`],
        ['config', JSON.stringify(card.training?.config)],
        ['versions', JSON.stringify(card.environment?.versions)],
        ['backend', `${card.environment?.backend?.name} (${card.environment?.backend?.package} ${card.environment?.backend?.version})`],
        ['report', d.generatedBy],
      ],
    },
  });
  out.push(pr);
  return out;
}

const CSS = `body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#0f172a;max-width:1100px;margin:0 auto;padding:24px;background:#f8fafc}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #cbd5e1;padding-bottom:4px;margin-top:32px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 20px 16px;margin:16px 0}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
td.done{background:#dcfce7}td.attention{background:#fee2e2}td.open{background:#fef9c3;font-weight:600}td.answered{background:#e0f2fe}td.not-run{background:#f1f5f9;font-style:italic}td.done,td.attention,td.open,td.answered,td.not-run{white-space:nowrap;overflow-wrap:normal}
th{background:#f1f5f9}caption{text-align:left;font-weight:600;padding:4px 0}td.good{background:#dcfce7}td.fair{background:#fef9c3}td.poor{background:#fee2e2}td.unknown{background:#f1f5f9}td.not-informative{background:#e2e8f0;font-style:italic}
figure{margin:8px 0}img.grid{image-rendering:pixelated;width:560px;max-width:100%;border:1px solid #e2e8f0}td{overflow-wrap:anywhere}nav a{margin-right:12px}.chart{max-width:100%;height:auto}`;

export function renderHtml(d: ReportData): string {
  const secs = sections(d);
  const table = (t: { caption: string; table: Table }) =>
    `<table><caption>${esc(t.caption)}</caption><thead><tr>${t.table.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${t.table.rows
      .map((r, ri) => {
        const link = t.table.links?.[ri];
        return `<tr>${r.map((c, i) => `<td${(t.caption === 'Verdicts' || t.caption === 'Checklist') && i === 1 ? ` class="${esc(c.replace(/ /g, '-'))}"` : ''}>${link && i === r.length - 1 ? `<a href="${esc(link)}">${esc(c)}</a>` : esc(c)}</td>`).join('')}</tr>`;
      })
      .join('')}</tbody></table>`;
  const body = secs
    .map(
      (s) =>
        `<section id="${s.id}"><h2>${esc(s.title)}</h2>${s.paragraphs.map((p) => `<p>${p}</p>`).join('')}${s.tables.map(table).join('')}${s.charts.map((c) => `<figure>${c}</figure>`).join('')}${s.images
          .map((im) => `<figure><img class="grid" alt="${esc(im.caption)}" src="data:image/png;base64,${im.base64}"><figcaption>${esc(im.caption)}</figcaption></figure>`)
          .join('')}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(d.title)}</title><style>${CSS}</style></head>
<body><h1>${esc(d.title)}</h1><p>${esc(d.generatedBy)}; everything below is traceable to the run's data fingerprint, config, seed and privacy budget (see Provenance).</p>
<nav>${secs.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('')}</nav>
${body}
</body></html>
`;
}

export function renderMarkdown(d: ReportData): string {
  const strip = (h: string) => h.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/&quot;/g, '"');
  const lines: string[] = [`# ${d.title}`, '', `${d.generatedBy}. Plots and sample grids are in report.html.`, ''];
  for (const s of sections(d)) {
    lines.push(`## ${s.title}`, '');
    for (const p of s.paragraphs) lines.push(strip(p), '');
    for (const t of s.tables) {
      lines.push(`**${t.caption}**`, '', `| ${t.table.header.join(' | ')} |`, `|${t.table.header.map(() => '---').join('|')}|`, ...t.table.rows.map((r, ri) => {
        const link = t.table.links?.[ri];
        return `| ${r.map((c, i) => (link && i === r.length - 1 ? `[${c}](${link})` : c).replace(/\|/g, '\\|')).join(' | ')} |`;
      }), '');
    }
  }
  return lines.join('\n');
}

export { barChart };
