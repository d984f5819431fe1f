/**
 * `medsynth report`: one privacy leakage report per run, as report.html (self-contained: inline CSS, inline
 * SVG, sample grids as data: URIs; no network), report.md and report.json, written atomically.
 *
 * Inputs: the run folder (model card, run.json, metrics.jsonl, conditions), and optionally the JSON of
 * `medsynth evaluate` and of `medsynth audit`. Sections: summary with verdicts (thresholds printed in the
 * report), privacy, membership attacks, fidelity, utility and fairness, diversity, samples, training
 * curves, provenance (model card + datasheet). Training images are never embedded unless
 * `includeTrainingImages` (the CLI's --include-training-images).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { imageLength } from '../../datasets/dataset.js';
import { loadDataset } from '../../datasets/load.js';
import { assignSplits, splitIndices } from '../../datasets/splits.js';
import { DatasetError } from '../core/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { Rng } from '../core/rng.js';
import { packageVersion } from '../core/version.js';
import { accountant, type AccountantName } from '../privacy/accountants/index.js';
import { PrivacyLedger } from '../privacy/ledger.js';
import { loadRunGenerator, readRunConfig } from '../train/run.js';
import { gridCells, sampleRows, tile } from './grid.js';
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
}

/** Verdict thresholds, printed in the report itself. */
export const THRESHOLDS = {
  lowLeakage: { auc: 0.55, epsilon: 10 },
  moderateLeakage: { auc: 0.6 },
  fidelityRatio: { close: 2, fair: 5 },
  utilityGap: { good: 0.05, fair: 0.15 },
};

export type Verdict = { level: 'good' | 'fair' | 'poor' | 'unknown'; text: string };

export interface ReportData {
  title: string;
  generatedBy: string;
  run: { name: string; kind: string; seed: number; steps: number; seconds: number };
  privacy: Record<string, unknown> & { differentialPrivacy: boolean };
  /** ε after each epoch (DP runs), recomputed from the ledger, and per-epoch losses. */
  curves: { epoch: number; step: number; epsilon?: number; losses: Record<string, number> }[];
  modelCard: Record<string, unknown>;
  runConfig: Record<string, unknown>;
  evaluation: Record<string, unknown> | null;
  audit: Record<string, unknown> | null;
  verdicts: { privacy: Verdict; fidelity: Verdict; utility: Verdict; fairness: Verdict };
  samples: { cells: string[]; perRow: number; seed: number; png: string; realPng: string | null };
  thresholds: typeof THRESHOLDS;
}

function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new DatasetError(`${what} ${path}: no such file`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new DatasetError(`${what} ${path}: not valid JSON; give the file written by medsynth ${what === '--eval' ? 'evaluate --json' : 'audit --json'}`);
  }
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** The audit's best attack (highest AUC, the random control excluded), with its AUC's upper CI end. */
export function bestAttack(audit: Record<string, any> | null): { name: string; auc: number; hi: number | null; epsLower: number | null } | null {
  if (!audit?.best) return null;
  const att = ((audit.attacks ?? []) as any[]).find((a) => a.name === audit.best.attack);
  return { name: String(audit.best.attack), auc: Number(audit.best.auc), hi: num(att?.overall?.auc?.upper), epsLower: num(audit.best.epsilonLowerBound) };
}

export function privacyVerdict(privacy: ReportData['privacy'], audit: Record<string, unknown> | null): Verdict {
  const best = bestAttack(audit);
  const eps = num(privacy.epsilon);
  const dp = privacy.differentialPrivacy && eps !== null;
  const t = THRESHOLDS;
  if (!best) {
    return dp
      ? { level: eps! <= t.lowLeakage.epsilon ? 'fair' : 'poor', text: `(${eps!.toFixed(2)}, ${privacy.delta})-DP per ${privacy.unit}; not audited (run medsynth audit)` }
      : { level: 'unknown', text: 'no differential privacy and no audit: leakage unknown' };
  }
  const aucText = `best attack AUC ${best.auc.toFixed(3)} (${best.name})`;
  if (dp && eps! <= t.lowLeakage.epsilon && best.auc <= t.lowLeakage.auc) return { level: 'good', text: `low leakage: ${aucText}, epsilon ${eps!.toFixed(2)}` };
  if (best.auc <= t.moderateLeakage.auc) return { level: 'fair', text: `moderate leakage: ${aucText}${dp ? `, epsilon ${eps!.toFixed(2)}` : ', no formal guarantee'}` };
  return { level: 'poor', text: `high leakage: ${aucText}${dp ? `, epsilon ${eps!.toFixed(2)}` : ', no formal guarantee'}` };
}

/** Fidelity, utility and fairness verdicts from `medsynth evaluate`'s JSON (thresholds: THRESHOLDS). */
export function evaluationVerdicts(ev: Record<string, any> | null): { fidelity: Verdict; utility: Verdict; fairness: Verdict } {
  const none: Verdict = { level: 'unknown', text: 'not evaluated (run medsynth evaluate)' };
  if (!ev) return { fidelity: none, utility: none, fairness: none };
  const t = THRESHOLDS;
  let fidelity: Verdict = { level: 'unknown', text: 'no overall fidelity numbers' };
  const overall = (ev.fidelity?.rows ?? []).find((r: any) => r.slice === 'overall');
  const fs = num(overall?.synthetic?.values?.fid);
  const fb = num(overall?.baseline?.values?.fid);
  if (fs !== null && fb !== null) {
    const ratio = fs / Math.max(fb, 1e-12);
    const level = ratio <= t.fidelityRatio.close ? 'good' : ratio <= t.fidelityRatio.fair ? 'fair' : 'poor';
    fidelity = { level, text: `${level === 'good' ? 'close' : level === 'fair' ? 'fair' : 'far'}: FID ${fs.toFixed(3)} vs ${fb.toFixed(3)} for real test data (${ratio.toFixed(1)}×)` };
  }
  const ways = (ev.utility?.ways ?? []) as any[];
  // Means over classifier seeds (an evaluation before --classifier-seeds has one report per way).
  const way = (k: string): any => {
    const w = ways.find((x) => x.key === k);
    const reports = (Array.isArray(w?.reports) ? w.reports : w?.report ? [w.report] : []) as Record<string, unknown>[];
    if (!reports.length) return null;
    const mean = (key: string) => {
      const v = reports.map((r) => num(r[key])).filter((x): x is number => x !== null);
      return v.length ? v.reduce((p, q) => p + q, 0) / v.length : null;
    };
    return { balancedAccuracy: mean('balancedAccuracy'), worstGroupAccuracy: mean('worstGroupAccuracy'), equalizedOddsDifference: mean('equalizedOddsDifference') };
  };
  const a = way('a');
  const b = way('b');
  const c = way('c');
  let utility: Verdict = { level: 'unknown', text: 'no utility numbers' };
  if (num(a?.balancedAccuracy) !== null && num(b?.balancedAccuracy) !== null) {
    const gap = a.balancedAccuracy - b.balancedAccuracy;
    const level = gap <= t.utilityGap.good ? 'good' : gap <= t.utilityGap.fair ? 'fair' : 'poor';
    utility = { level, text: `synthetic-only training reaches balanced accuracy ${b.balancedAccuracy.toFixed(3)} vs ${a.balancedAccuracy.toFixed(3)} on real data (gap ${(gap * 100).toFixed(1)} points)` };
  }
  let fairness: Verdict = { level: 'unknown', text: 'no augmented set evaluated' };
  if (num(a?.worstGroupAccuracy) !== null && num(c?.worstGroupAccuracy) !== null) {
    const d = c.worstGroupAccuracy - a.worstGroupAccuracy;
    const level = d > 0.01 ? 'good' : d >= -0.01 ? 'fair' : 'poor';
    fairness = { level, text: `worst-group accuracy ${a.worstGroupAccuracy.toFixed(3)} → ${c.worstGroupAccuracy.toFixed(3)} with augmentation (${level === 'good' ? 'better' : level === 'fair' ? 'unchanged' : 'worse'}); equalized-odds difference ${num(a.equalizedOddsDifference)?.toFixed(3) ?? '–'} → ${num(c.equalizedOddsDifference)?.toFixed(3) ?? '–'}` };
  }
  return { fidelity, utility, fairness };
}

/** The command named in the marker file of every report folder (core/fs.ts OUTPUT_MARKER). */
export const REPORT_MARKER = 'medsynth report';

export async function buildReport(req: ReportRequest): Promise<{ out: string; data: ReportData }> {
  const runDir = resolve(req.run);
  const cfg = readRunConfig(runDir);
  const cardPath = join(runDir, 'model-card.json');
  if (!existsSync(cardPath)) throw new DatasetError(`--run ${req.run}: the run has not finished (no model-card.json); continue it with medsynth train --resume ${req.run}`);
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, any>;
  const evaluation = req.eval ? readJson(req.eval, '--eval') : null;
  const audit = req.audit ? readJson(req.audit, '--audit') : null;
  const privacy = card.privacy as ReportData['privacy'];

  // Training curves; ε per epoch recomputed from the ledger (the card's numbers, not the logs').
  const metricsPath = join(runDir, 'metrics.jsonl');
  const lines = existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8').trim().split('\n').filter(Boolean) : [];
  const ledger =
    privacy.differentialPrivacy && typeof privacy.noiseMultiplier === 'number'
      ? new PrivacyLedger(privacy.accountant as AccountantName, privacy.noiseMultiplier as number, privacy.sampleRate as number, privacy.delta as number)
      : null;
  const curves = lines.map((l) => {
    const e = JSON.parse(l) as { epoch: number; step: number; losses: Record<string, number> };
    return { epoch: e.epoch, step: e.step, losses: e.losses, ...(ledger ? { epsilon: ledger.epsilon(e.step).epsilon } : {}) };
  });

  // Samples: generated rows per class × group; real rows only when asked.
  const seed = req.seed ?? 1;
  const { gen, conditions } = loadRunGenerator(runDir);
  let png: Uint8Array;
  let realPng: Uint8Array | null = null;
  const cells = gridCells(conditions.spec);
  const perRow = 8;
  try {
    png = tile(sampleRows(gen, conditions.spec, cells, perRow, seed), perRow, gen.imageSize, gen.channels);
    if (req.includeTrainingImages) {
      const ds = loadDataset({ path: cfg.data, size: cfg.size, channels: cfg.channels, bins: cfg.bins, attributes: cfg.attributes });
      const train = splitIndices(assignSplits(ds, { seed: cfg.splitSeed }), 'train');
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

  const data: ReportData = {
    title: `medsynth report: ${basename(runDir)}`,
    generatedBy: `medsynth ${packageVersion()}`,
    run: { name: basename(runDir), kind: String(card.generator?.type), seed: Number(cfg.seed), steps: Number(card.training?.steps), seconds: Number(card.training?.seconds) },
    privacy: { ...privacy, ...(privacy.differentialPrivacy && privacy.accountant ? { accountantDescription: accountant(String(privacy.accountant)).description } : {}) },
    curves,
    modelCard: card,
    runConfig: cfg as unknown as Record<string, unknown>,
    evaluation,
    audit,
    verdicts: {
      privacy: privacyVerdict(privacy, audit),
      ...evaluationVerdicts(evaluation),
    },
    samples: { cells: cells.map((c) => c.name), perRow, seed, png: Buffer.from(png).toString('base64'), realPng: realPng ? Buffer.from(realPng).toString('base64') : null },
    thresholds: THRESHOLDS,
  };
  const out = resolve(req.out);
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
