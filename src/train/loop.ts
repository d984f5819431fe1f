/**
 * The training loop every generator shares: epochs of shuffled minibatches of the train split, progress,
 * a checkpoint after every epoch (and when asked to stop), divergence checks, and exact resume.
 *
 * Determinism: epoch e visits the train images in the order `Rng(seed).derive('epoch-e').shuffle`, and a
 * generator derives its step noise from the global step number, so a run resumed from a checkpoint at step
 * k takes the same steps k, k+1, ... as an uninterrupted run and ends with the same weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { Generator } from '../../models/generator.js';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';

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
}

export interface EpochSummary {
  epoch: number;
  step: number;
  /** Mean of each loss term over the epoch's steps. */
  losses: Record<string, number>;
  imagesPerSecond: number;
  elapsedMs: number;
}

export interface LoopOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  start?: LoopPosition;
  onProgress?: (p: Progress) => void;
  /** Called after each completed epoch, before the checkpoint. */
  onEpoch?: (e: EpochSummary) => void;
  /** Writes a checkpoint of the generator at a position. */
  checkpoint: (pos: LoopPosition) => Promise<void>;
  /** Polled after every step; true stops training after a checkpoint. */
  shouldStop?: () => boolean;
}

export interface LoopResult {
  /** 'done', or 'stopped' when `shouldStop` ended it early. */
  status: 'done' | 'stopped';
  position: LoopPosition;
  lastEpoch: EpochSummary | null;
}

/** A loss became NaN or infinite. The message says what to do; the last good checkpoint is kept. */
export class TrainingDivergedError extends UserError {}

export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.max(1, Math.floor(n / Math.min(batchSize, n)));
}

export async function trainLoop(gen: Generator, data: LoopData, opts: LoopOptions): Promise<LoopResult> {
  const n = data.images.shape[0];
  const batch = Math.min(opts.batchSize, n);
  const perEpoch = stepsPerEpoch(n, batch);
  const total = opts.epochs * perEpoch;
  let step = opts.start?.step ?? 0;
  const elapsedBefore = opts.start?.elapsedMs ?? 0;
  const t0 = performance.now();
  const root = new Rng(opts.seed);
  let lastEpoch: EpochSummary | null = null;
  let imagesThisSession = 0;
  let lastCheckpoint: number | null = opts.start ? Math.floor((opts.start.step) / perEpoch) : null;
  const elapsed = () => elapsedBefore + (performance.now() - t0);

  for (let epoch = Math.floor(step / perEpoch); epoch < opts.epochs; epoch++) {
    const order = root.derive(`epoch-${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i));
    const sums: Record<string, number> = {};
    let count = 0;
    const epochStart = performance.now();
    for (let k = step - epoch * perEpoch; k < perEpoch; k++) {
      const idx = tf.tensor1d(order.slice(k * batch, (k + 1) * batch), 'int32');
      const images = tf.gather(data.images, idx) as tf.Tensor4D;
      const cond = tf.gather(data.cond, idx) as tf.Tensor2D;
      let losses: Record<string, number>;
      try {
        losses = gen.trainStep({ images, cond }, step);
      } finally {
        tf.dispose([idx, images, cond]);
      }
      const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        const kept = lastCheckpoint === null ? 'no checkpoint had been written yet' : `the last good checkpoint (after epoch ${lastCheckpoint}) is kept`;
        throw new TrainingDivergedError(
          `training diverged at epoch ${epoch + 1}, step ${step + 1}: ${bad[0]} is ${bad[1]}; ${kept}; lower --lr (or --beta) and train again`,
        );
      }
      step++;
      imagesThisSession += batch;
      count++;
      for (const [key, v] of Object.entries(losses)) sums[key] = (sums[key] ?? 0) + v;
      const secs = (performance.now() - t0) / 1000;
      const ips = imagesThisSession / Math.max(secs, 1e-9);
      opts.onProgress?.({
        epoch: epoch + 1,
        epochs: opts.epochs,
        stepInEpoch: k + 1,
        stepsPerEpoch: perEpoch,
        step,
        losses,
        imagesPerSecond: ips,
        etaSeconds: ((total - step) * batch) / Math.max(ips, 1e-9),
      });
      // Let the event loop run (signal handlers, timers): the step itself never yields.
      await new Promise<void>((resume) => setImmediate(resume));
      if (opts.shouldStop?.()) {
        const position = { step, elapsedMs: elapsed() };
        await opts.checkpoint(position);
        return { status: 'stopped', position, lastEpoch };
      }
    }
    const mean: Record<string, number> = {};
    for (const [key, v] of Object.entries(sums)) mean[key] = v / Math.max(count, 1);
    lastEpoch = {
      epoch: epoch + 1,
      step,
      losses: mean,
      imagesPerSecond: (count * batch) / Math.max((performance.now() - epochStart) / 1000, 1e-9),
      elapsedMs: elapsed(),
    };
    opts.onEpoch?.(lastEpoch);
    await opts.checkpoint({ step, elapsedMs: elapsed() });
    lastCheckpoint = epoch + 1;
  }
  return { status: 'done', position: { step, elapsedMs: elapsed() }, lastEpoch };
}
