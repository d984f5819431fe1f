/**
 * The training loop every generator shares: epochs of minibatches of the train split, progress, a
 * checkpoint after every epoch (and when asked to stop), divergence checks, and exact resume.
 *
 * Two schedules:
 *   - non-private: epoch e visits the train images in the order `Rng(seed).derive('epoch-e').shuffle`, in
 *     fixed-size batches;
 *   - DP-SGD (`dp`): every step draws a Poisson batch — each privacy unit independently with probability q,
 *     from `Rng(seed).derive('poisson-<step>')` — and calls `privateStep`; an "epoch" is round(1/q) steps.
 *     The loop never takes a step past `dp.maxSteps`, the last step within the privacy budget;
 *   - fitting (`fit`): a one-shot generator, whose statistics were released before the loop, takes
 *     `fitStep`s that read no data (the run owns the release: src/train/run.ts).
 * A generator derives its step noise from the global step number, so a run resumed from a checkpoint at
 * step k takes the same steps k, k+1, ... as an uninterrupted run and ends with the same weights.
 */
import * as tf from '@tensorflow/tfjs';
import { GeneratorCollapsedError, type DpStepParams, type Generator } from '../../models/generator.js';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { canariesDrawn, type AuditBreak } from '../privacy/canary.js';
import { poissonSample, type UnitIndex } from '../privacy/poisson.js';
import type { UnitGrouping } from '../privacy/per-example.js';

export interface LoopData {
  /** Train images [n, H, W, C] in [0, 1]; owned by the caller. */
  images: tf.Tensor4D;
  /** Condition rows [n, width]; owned by the caller. */
  cond: tf.Tensor2D;
}

export interface LoopPosition {
  /** Global step of the next batch (0 at the start). */
  step: number;
  /** Wall-clock milliseconds spent training before this session. */
  elapsedMs: number;
}

export interface Progress {
  epoch: number;
  epochs: number;
  /** Step within the epoch, 1-based. */
  stepInEpoch: number;
  stepsPerEpoch: number;
  step: number;
  losses: Record<string, number>;
  imagesPerSecond: number;
  etaSeconds: number;
  /** DP runs: ε spent after this step (at the run's δ). */
  epsilon?: number;
}

export interface EpochSummary {
  epoch: number;
  step: number;
  /**
   * Mean of each loss term over the epoch's steps that reported it (a DP-GAN reports its G loss only on
   * the steps that end a cycle of D steps).
   */
  losses: Record<string, number>;
  imagesPerSecond: number;
  elapsedMs: number;
  /** DP runs: ε spent after this epoch. */
  epsilon?: number;
}

export interface DpSchedule {
  /** The privacy units: image indices (into the train tensors) of each unit. */
  units: UnitIndex;
  sampleRate: number;
  clipNorm: number;
  noiseMultiplier: number;
  /** Steps planned (epochs × round(1/q)) — the loop stops earlier only at `maxSteps`. */
  plannedSteps: number;
  /** The last step count within the privacy budget. */
  maxSteps: number;
  /** ε after t steps, exact: epoch summaries (metrics.jsonl, the epoch line) and, by default, progress. */
  epsilonAt: (steps: number) => number;
  /**
   * ε for the per-step progress line, where a slow accountant may answer with an earlier value (PRV: at
   * most every 15 s). Never used for epoch summaries.
   */
  progressEpsilon?: (steps: number) => number;
  /** Audit runs: gradient canaries, drawn every step at the sample rate (src/privacy/canary.ts). */
  canaries?: LoopCanaries;
}

export interface LoopCanaries {
  /** Each canary's coordinate: a parameter of the private module and a flat index into it. */
  entries: readonly { param: tf.Variable; index: number }[];
  /** The secret inclusion bits (1 = included). */
  included: Uint8Array;
  /** Seed of the canaries' Poisson draws. */
  seed: number;
  /** Receives step `step`'s observations (the released sum at each canary's coordinate, units of C). */
  observe: (step: number, values: Float32Array) => void;
  /** Test builds only. */
  auditBreak?: AuditBreak;
}

export interface LoopOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  start?: LoopPosition;
  /** DP-SGD schedule; absent for non-private training. */
  dp?: DpSchedule;
  /**
   * One-shot generators, after their release: `fitStep` steps that read no data, `stepsPerEpoch` per epoch;
   * `epsilon` is what the release spent (shown in progress; fitting spends nothing).
   */
  fit?: { stepsPerEpoch: number; epsilon?: number };
  onProgress?: (p: Progress) => void;
  /** Called after each completed epoch, before the checkpoint. */
  onEpoch?: (e: EpochSummary) => void;
  /** Writes a checkpoint of the generator at a position. */
  checkpoint: (pos: LoopPosition) => Promise<void>;
  /** Polled after every step; true stops training after a checkpoint. */
  shouldStop?: () => boolean;
}

export interface LoopResult {
  /** 'done', 'stopped' when `shouldStop` ended it early, 'budget' when the privacy budget did. */
  status: 'done' | 'stopped' | 'budget';
  position: LoopPosition;
  lastEpoch: EpochSummary | null;
}

/** A loss became NaN or infinite. The message says what to do; the last good checkpoint is kept. */
export class TrainingDivergedError extends UserError {}

export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.max(1, Math.floor(n / Math.min(batchSize, n)));
}

/** DP "epochs": round(1/q) Poisson steps, so an epoch visits each unit once in expectation. */
export function dpStepsPerEpoch(sampleRate: number): number {
  return Math.max(1, Math.round(1 / sampleRate));
}

interface Schedule {
  perEpoch: number;
  total: number;
  /** Runs step `step` (0-based within the run); returns losses and how many images it used. */
  run(step: number): { losses: Record<string, number>; images: number };
}

function shuffledSchedule(gen: Generator, data: LoopData, opts: LoopOptions): Schedule {
  const n = data.images.shape[0];
  const batch = Math.min(opts.batchSize, n);
  const perEpoch = stepsPerEpoch(n, batch);
  const root = new Rng(opts.seed);
  let cached: { epoch: number; order: number[] } | null = null;
  return {
    perEpoch,
    total: opts.epochs * perEpoch,
    run(step) {
      const epoch = Math.floor(step / perEpoch);
      if (cached?.epoch !== epoch) cached = { epoch, order: root.derive(`epoch-${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i)) };
      const k = step - epoch * perEpoch;
      const idx = tf.tensor1d(cached.order.slice(k * batch, (k + 1) * batch), 'int32');
      const images = tf.gather(data.images, idx) as tf.Tensor4D;
      const cond = tf.gather(data.cond, idx) as tf.Tensor2D;
      try {
        return { losses: gen.trainStep({ images, cond }, step), images: batch };
      } finally {
        tf.dispose([idx, images, cond]);
      }
    },
  };
}

function poissonSchedule(gen: Generator, data: LoopData, opts: LoopOptions, dp: DpSchedule): Schedule {
  if (!gen.privateStep) throw new UserError(`--dp: the ${gen.kind} generator has no DP-SGD step`);
  const root = new Rng(opts.seed);
  const perEpoch = dpStepsPerEpoch(dp.sampleRate);
  const singleImageUnits = dp.units.members.every((m) => m.length === 1);
  return {
    perEpoch,
    total: Math.min(dp.plannedSteps, dp.maxSteps),
    run(step) {
      const chosen = poissonSample(dp.units, dp.sampleRate, root.derive(`poisson-${step}`));
      const imageIdx: number[] = [];
      const unitOf: number[] = [];
      chosen.forEach((u, k) => {
        for (const i of dp.units.members[u]!) {
          imageIdx.push(i);
          unitOf.push(k);
        }
      });
      const grouping: UnitGrouping | null = singleImageUnits ? null : { unitOf: Int32Array.from(unitOf), units: chosen.length };
      const idx = tf.tensor1d(imageIdx, 'int32');
      const images = tf.gather(data.images, idx) as tf.Tensor4D;
      const cond = tf.gather(data.cond, idx) as tf.Tensor2D;
      try {
        const losses = gen.privateStep!({ images, cond, grouping }, step, {
          clipNorm: dp.clipNorm,
          noiseMultiplier: dp.noiseMultiplier,
          expectedUnits: dp.sampleRate * dp.units.members.length,
          expectedImages: dp.sampleRate * data.images.shape[0],
          seed: root.derive(`dp-noise-${step}`).nextUint32(),
          ...(dp.canaries ? canaryParams(dp.canaries, dp.sampleRate, step) : {}),
        });
        return { losses, images: imageIdx.length };
      } finally {
        tf.dispose([idx, images, cond]);
      }
    },
  };
}

function canaryParams(c: LoopCanaries, q: number, step: number): Pick<DpStepParams, 'canary' | 'auditBreak'> {
  return {
    canary: { entries: c.entries, drawn: canariesDrawn(c.included, q, c.seed, step), observe: (v) => c.observe(step, v) },
    ...(c.auditBreak ? { auditBreak: c.auditBreak } : {}),
  };
}

function fitSchedule(gen: Generator, opts: LoopOptions, fit: { stepsPerEpoch: number }): Schedule {
  if (!gen.fitStep) throw new Error(`internal error: the ${gen.kind} generator has no fitting step`);
  return {
    perEpoch: fit.stepsPerEpoch,
    total: opts.epochs * fit.stepsPerEpoch,
    run(step) {
      const losses = gen.fitStep!(step);
      const { batch, ...rest } = losses;
      return { losses: rest, images: batch ?? 0 };
    },
  };
}

export async function trainLoop(gen: Generator, data: LoopData, opts: LoopOptions): Promise<LoopResult> {
  if (opts.fit && opts.dp) throw new Error('internal error: a fitting schedule takes no DP-SGD schedule');
  const sched = opts.fit ? fitSchedule(gen, opts, opts.fit) : opts.dp ? poissonSchedule(gen, data, opts, opts.dp) : shuffledSchedule(gen, data, opts);
  const { perEpoch, total } = sched;
  const epochs = Math.ceil(total / perEpoch);
  let step = opts.start?.step ?? 0;
  const elapsedBefore = opts.start?.elapsedMs ?? 0;
  const t0 = performance.now();
  let lastEpoch: EpochSummary | null = null;
  let imagesThisSession = 0;
  let stepsThisSession = 0;
  let lastCheckpoint: number | null = opts.start ? Math.floor(opts.start.step / perEpoch) : null;
  const elapsed = () => elapsedBefore + (performance.now() - t0);

  for (let epoch = Math.floor(step / perEpoch); epoch < epochs && step < total; epoch++) {
    const sums: Record<string, number> = {};
    const counts: Record<string, number> = {};
    let epochImages = 0;
    const epochStart = performance.now();
    const epochEnd = Math.min((epoch + 1) * perEpoch, total);
    for (; step < epochEnd; ) {
      const kept = lastCheckpoint === null ? 'no checkpoint had been written yet' : `the last good checkpoint (after epoch ${lastCheckpoint}) is kept`;
      let ran: { losses: Record<string, number>; images: number };
      try {
        ran = sched.run(step);
      } catch (err) {
        if (err instanceof GeneratorCollapsedError) throw new TrainingDivergedError(`${err.message}; ${kept}`);
        throw err;
      }
      const { losses, images } = ran;
      const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        throw new TrainingDivergedError(
          `training diverged at epoch ${epoch + 1}, step ${step + 1}: ${bad[0]} is ${bad[1]}; ${kept}; lower --lr (or --beta) and train again`,
        );
      }
      step++;
      stepsThisSession++;
      imagesThisSession += images;
      epochImages += images;
      for (const [key, v] of Object.entries(losses)) {
        sums[key] = (sums[key] ?? 0) + v;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      const secs = (performance.now() - t0) / 1000;
      const ips = imagesThisSession / Math.max(secs, 1e-9);
      opts.onProgress?.({
        epoch: epoch + 1,
        epochs,
        stepInEpoch: step - epoch * perEpoch,
        stepsPerEpoch: perEpoch,
        step,
        losses,
        imagesPerSecond: ips,
        etaSeconds: ((total - step) * secs) / stepsThisSession,
        ...(opts.dp ? { epsilon: (opts.dp.progressEpsilon ?? opts.dp.epsilonAt)(step) } : opts.fit?.epsilon !== undefined ? { epsilon: opts.fit.epsilon } : {}),
      });
      // Let the event loop run (signal handlers, timers): the step itself never yields.
      await new Promise<void>((resume) => setImmediate(resume));
      if (opts.shouldStop?.() && step < total) {
        const position = { step, elapsedMs: elapsed() };
        await opts.checkpoint(position);
        return { status: 'stopped', position, lastEpoch };
      }
    }
    const mean: Record<string, number> = {};
    for (const [key, v] of Object.entries(sums)) mean[key] = v / counts[key]!;
    lastEpoch = {
      epoch: epoch + 1,
      step,
      losses: mean,
      imagesPerSecond: epochImages / Math.max((performance.now() - epochStart) / 1000, 1e-9),
      elapsedMs: elapsed(),
      ...(opts.dp ? { epsilon: opts.dp.epsilonAt(step) } : opts.fit?.epsilon !== undefined ? { epsilon: opts.fit.epsilon } : {}),
    };
    opts.onEpoch?.(lastEpoch);
    await opts.checkpoint({ step, elapsedMs: elapsed() });
    lastCheckpoint = epoch + 1;
  }
  const budgetBound = opts.dp !== undefined && opts.dp.maxSteps < opts.dp.plannedSteps;
  return { status: budgetBound ? 'budget' : 'done', position: { step, elapsedMs: elapsed() }, lastEpoch };
}
