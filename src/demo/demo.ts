/**
 * The demo pipeline as a library function (#21 item 4): `medsynth demo` parses its flags, starts the
 * backend, calls `runDemo` and prints; everything between is here. On the built-in phantom data:
 *   1. phantom data (labelled, demographically imbalanced, with patient ids);
 *   2. the private generator that train --dp picks (src/train/select.ts) at ε = 8 with the patient as the unit;
 *   3. balanced augmentation (equalize-groups) with the DP model;
 *   4. evaluate (fidelity, utility and fairness of augmentation, diversity);
 *   5. audit (membership-inference attacks, empirical ε);
 *   6. the report.
 * Quick mode shrinks every stage (fewer, smaller images, shorter training) for a CI smoke run.
 *
 * Progress goes out through callbacks: `say` gets each stage's heading and its result lines, already worded;
 * the caller decides how training steps and the stages of evaluate and audit are shown (the CLI prints a
 * line every 20 s), and may pass nothing at all.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writePhantom } from '../../datasets/phantom/index.js';
import { AUDIT_DEFAULTS, auditRun } from '../audit/audit.js';
import type { BackendInfo } from '../backend/index.js';
import { balance } from '../balance/balance.js';
import { ConfigError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import type { ProgressCallback } from '../core/progress.js';
import { evaluate } from '../evaluate/evaluate.js';
import type { ReportData } from '../report/data.js';
import { buildReport } from '../report/report.js';
import { sampleRun } from '../sample/sample.js';
import type { Progress } from '../train/loop.js';
import { AUTO_MODEL, trainRun } from '../train/run.js';

/** What each mode runs: sizes, epochs and evaluation effort. */
export const DEMO_SETTINGS = {
  full: { n: 2000, size: 32, epochs: null, batchSize: 64, classifierSteps: 300, bootstrap: 300, epsilon: 8 },
  quick: { n: 400, size: 28, epochs: 2, batchSize: 32, classifierSteps: 60, bootstrap: 100, epsilon: 8 },
} as const;

export type DemoSettings = (typeof DEMO_SETTINGS)[keyof typeof DEMO_SETTINGS];

export interface DemoOptions {
  /** The output folder as the user gave it (resolved here). Replaced if it holds an earlier demo. */
  out: string;
  quick: boolean;
  seed: number;
  /** The started backend (initBackend); recorded in evaluation.json, audit.json and demo.json. */
  backend: BackendInfo;
}

export interface DemoCallbacks {
  /** A progress line: a stage's heading or one of its results. */
  say?: (line: string) => void;
  /** Called as training starts; what it returns receives every training step. */
  trainProgress?: () => ((p: Progress) => void) | undefined;
  /** Called as evaluate and as audit start; what it returns receives that stage's progress. */
  stageProgress?: (stage: 'evaluate' | 'audit') => ProgressCallback | undefined;
}

/** Where the demo writes each piece, under its output folder. */
export interface DemoPaths {
  data: string;
  run: string;
  balanced: string;
  samples: string;
  evaluation: string;
  audit: string;
  report: string;
}

/** The content of demo.json. */
export interface DemoSummary {
  command: 'demo';
  backend: BackendInfo;
  seed: number;
  quick: boolean;
  settings: DemoSettings;
  out: string;
  paths: DemoPaths;
  seconds: number;
  verdicts: ReportData['verdicts'];
}

/** demo.json's summary and the report page's path. */
export type DemoResult = DemoSummary & { report: string };

/** Runs the six stages into `opts.out` and writes demo.json there; returns its summary and the report's path. */
export async function runDemo(opts: DemoOptions, cb: DemoCallbacks = {}): Promise<DemoResult> {
  const { backend, seed } = opts;
  const s: DemoSettings = opts.quick ? DEMO_SETTINGS.quick : DEMO_SETTINGS.full;
  const out = resolve(opts.out);
  const say = cb.say ?? (() => {});
  const t0 = performance.now();
  const clock = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  // Only a folder that an earlier demo wrote may be replaced: its demo.json (a finished demo), or the
  // phantom data it writes first (an interrupted one), as medsynth wrote them.
  if (existsSync(out)) {
    if (!writtenByDemo(out)) {
      throw new ConfigError(`--out ${opts.out} exists and is not an earlier demo; choose another folder`);
    }
    rmSync(out, { recursive: true, force: true });
  }
  const paths: DemoPaths = {
    data: join(out, 'phantom'),
    run: join(out, 'run'),
    balanced: join(out, 'balanced'),
    samples: join(out, 'samples'),
    evaluation: join(out, 'evaluation.json'),
    audit: join(out, 'audit.json'),
    report: join(out, 'report'),
  };

  say(`[1/6] phantom data: ${s.n} images, ${s.size}x${s.size}, seed ${seed}`);
  await writePhantom({ out: paths.data, n: s.n, size: s.size, seed });

  say(`[2/6] private generator: epsilon ${s.epsilon}, patients as the privacy unit  (${clock()})`);
  let lastEpoch = 0;
  let epochs = s.epochs ?? 0;
  const onStep = cb.trainProgress?.();
  const train = await trainRun(
    paths.run,
    {
      model: AUTO_MODEL,
      data: paths.data,
      size: s.size,
      condition: ['label', 'sex'],
      epochs,
      ...(s.epochs === null ? { epochsDefaulted: true } : {}),
      batchSize: s.batchSize,
      seed,
      splitSeed: seed,
      generator: {},
      dp: { targetEpsilon: s.epsilon, clipNorm: 1, unit: 'patient' },
    },
    {
      backend,
      ...(onStep ? { onProgress: onStep } : {}),
      onSelect: (sel) => {
        if (s.epochs === null) epochs = sel.epochs;
        say(`      ${sel.reason} (${sel.evidence})`);
      },
      onEpoch: (e) => {
        lastEpoch = e.epoch;
        // About four epoch lines per run, and always the last.
        if (e.epoch % Math.max(1, Math.floor(epochs / 4)) === 0 || e.epoch === epochs) {
          say(`      epoch ${e.epoch}/${epochs}: loss ${e.losses.loss?.toFixed(3)}, epsilon ${e.epsilon?.toFixed(2)}, ${e.imagesPerSecond.toFixed(0)} img/s`);
        }
      },
    },
  );
  const pv = train.privacy!;
  say(`      (${pv.epsilon.toFixed(2)}, ${pv.delta})-DP per ${pv.unit}, ${pv.accountant.toUpperCase()} accountant, ${pv.steps} private ${pv.steps === 1 ? 'release' : 'steps'}, ${lastEpoch} epochs`);

  say(`[3/6] balance: equalize sex within each class  (${clock()})`);
  const bal = await balance({ data: paths.data, run: paths.run, target: 'equalize-groups', groupBy: ['sex'], dryRun: false, copy: false, seed, out: paths.balanced });
  say(`      ${bal.realImages} real + ${bal.syntheticImages} synthetic; Gini of cell counts ${bal.before.gini.toFixed(3)} -> ${bal.after.gini.toFixed(3)}`);

  say(`[4/6] evaluate: fidelity, utility and fairness, diversity  (${clock()})`);
  await sampleRun({ run: paths.run, n: bal.realImages, seed, out: paths.samples });
  const ev = await evaluate({
    real: paths.data,
    synthetic: paths.samples,
    augmented: paths.balanced,
    features: 'domain-cnn',
    groupBy: ['sex'],
    splitSeed: seed,
    seed,
    classifierSteps: s.classifierSteps,
    cacheDir: join(out, '.cache'),
    onProgress: cb.stageProgress?.('evaluate'),
  });
  writeFileAtomic(paths.evaluation, JSON.stringify({ backend, ...ev }, null, 2) + '\n');

  say(`[5/6] audit: membership-inference attacks  (${clock()})`);
  const au = await auditRun({
    run: paths.run,
    data: paths.data,
    attacks: ['distance', 'dcr', 'domias', 'whitebox'],
    seed,
    bootstrap: s.bootstrap,
    confidence: AUDIT_DEFAULTS.confidence,
    featureDim: AUDIT_DEFAULTS.featureDim,
    domiasDim: AUDIT_DEFAULTS.domiasDim,
    elboDraws: AUDIT_DEFAULTS.elboDraws,
    minGroup: AUDIT_DEFAULTS.minGroup,
    onStage: cb.stageProgress?.('audit'),
  });
  writeFileAtomic(paths.audit, JSON.stringify({ backend, ...au }, null, 2) + '\n');

  say(`[6/6] report  (${clock()})`);
  const rep = await buildReport({ run: paths.run, eval: paths.evaluation, audit: paths.audit, out: paths.report, seed });
  const summary: DemoSummary = { command: 'demo', backend, seed, quick: opts.quick, settings: s, out, paths, seconds: (performance.now() - t0) / 1000, verdicts: rep.data.verdicts };
  writeFileAtomic(join(out, 'demo.json'), JSON.stringify(summary, null, 2) + '\n');
  return { ...summary, report: join(rep.out, 'report.html') };
}

/** True when `dir` holds the demo's own record or the phantom data it writes first, as medsynth wrote them. */
function writtenByDemo(dir: string): boolean {
  const json = (path: string): Record<string, unknown> | null => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  return json(join(dir, 'demo.json'))?.command === 'demo' || json(join(dir, 'phantom', 'phantom.json'))?.generator === 'medsynth-phantom';
}
