/**
 * One DP-SGD gradient (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, Algorithm 1),
 * for any module built from src/nn layers, with images grouped into privacy units (image or patient):
 *
 *   g_u  = Σ_{i∈u} ∇θ loss_i                        (a unit's gradient: the sum over its images)
 *   g̃_u  = g_u · min(1, C / ||g_u||₂)                (clip the whole unit gradient, all layers together)
 *   ĝ    = ( Σ_u g̃_u + N(0, σ²C² I) ) / (q · U)      (noise once per step; divide by the EXPECTED units)
 *
 * Per-unit norms and the clipped sum come from one forward and one backward pass (per-example.ts). The
 * result is an ordinary gradient map, so any optimiser follows (post-processing). Dividing by the expected
 * number of units q·U, not the realised batch, keeps the released sum's sensitivity at C under Poisson
 * sampling (the realised batch size would itself depend on membership). An empty Poisson batch still
 * releases noise: skipping the step would leak that the batch was empty, and the accountant counts it.
 *
 * Noise: N(0, σ²C²) per coordinate, drawn by fillNormal (src/core/gaussian.ts: the ziggurat of Marsaglia &
 * Tsang 2000 on xoshiro128**, a few ns per sample on the JS thread, ~10× faster than tf.randomNormal) from
 * the step's seed (parameter k: seed + k · 0x9e3779b1 mod 2^32), then uploaded, so a run is reproducible:
 * same seed, same bytes. That generator is not cryptographically secure, and float arithmetic is not the
 * real-valued Gaussian the proof assumes (Mironov, CCS 2012): the model card states both caveats.
 */
import * as tf from '@tensorflow/tfjs';
import { PrivacyAssumptionError } from '../core/errors.js';
import { fillNormal } from '../core/gaussian.js';
import type { Tape } from '../nn/layers.js';
import { CANARY_RAW_NORM_FACTOR, type AuditBreak } from './canary.js';
import { clipFactors } from './clip-noise.js';
import { CaptureTape, clippedSum, perExampleNorms, type UnitGrouping } from './per-example.js';

export interface DpGradientOptions {
  /** Clipping norm C (per unit). */
  clipNorm: number;
  /** σ: noise std / C. */
  noiseMultiplier: number;
  /** q · U, the expected number of units per batch. */
  expectedUnits: number;
  /** Seed of this step's noise. */
  seed: number;
  /** Other per-example inputs `sumLoss` reads (e.g. condition rows), see perExampleNorms. */
  aux?: tf.Tensor[];
  /** An audit run's gradient canaries for this step (src/privacy/canary.ts). */
  canary?: CanaryStep;
  /** Test builds only: a deliberate DP bug the canary audit must catch (src/privacy/canary.ts). */
  auditBreak?: AuditBreak;
}

/**
 * Gradient canaries of one step: canary k is a Dirac gradient of norm CANARY_RAW_NORM_FACTOR · C at
 * `entries[k]` (a flat index into a parameter of the step); `drawn[k]` = 1 when it is in this batch.
 * `observe` receives, for every canary, the released noisy sum at its coordinate in units of C.
 */
export interface CanaryStep {
  entries: readonly { param: tf.Variable; index: number }[];
  drawn: Uint8Array;
  observe: (values: Float32Array) => void;
}

export interface DpGradientResult {
  /** The noisy clipped mean gradient per parameter; the caller owns the tensors. */
  grads: Map<tf.Variable, tf.Tensor>;
  /** Loss summed over the batch's images (0 for an empty batch). */
  loss: number;
  /** Number of units in the batch. */
  units: number;
  /** Share of the batch's units whose gradient norm exceeded C (a tuning signal for C). */
  clippedShare: number;
}

/**
 * The DP-SGD gradient of `params` for one Poisson batch. `x` holds the batch's images (null or 0 rows for
 * an empty batch); `sumLoss(x, tape)` returns the loss SUMMED over the images and must pass `tape` to every
 * layer that owns one of `params`. Refuses (PrivacyAssumptionError) when a parameter is not covered by the
 * per-example computation: its gradient would escape clipping.
 */
export function dpGradients(
  params: readonly tf.Variable[],
  x: tf.Tensor | null,
  sumLoss: (x: tf.Tensor, tape: Tape) => tf.Scalar,
  grouping: UnitGrouping | null,
  opts: DpGradientOptions,
): DpGradientResult {
  if (!(opts.expectedUnits > 0)) throw new Error('internal error: expected batch must be > 0');
  const sums = new Map<tf.Variable, tf.Tensor>();
  let loss = 0;
  let units = 0;
  let clipped = 0;
  const tape = new CaptureTape();
  try {
    if (x && x.shape[0]! > 0) {
      const r = perExampleNorms(x, sumLoss, tape, grouping ?? undefined, opts.aux);
      loss = r.loss;
      units = r.squaredNorms.length;
      const covered = tape.covered();
      const missing = params.filter((p) => !covered.has(p));
      if (missing.length) {
        throw new PrivacyAssumptionError(
          `parameter ${missing[0]!.name.replace(/__\d+$/, '')} of the private module gets no per-example gradient (its layer was not recorded, or it is not a layer weight); its update would escape clipping`,
        );
      }
      const unitFactors = clipFactors(r.squaredNorms, opts.clipNorm);
      clipped = unitFactors.reduce((a, f) => a + (f < 1 ? 1 : 0), 0);
      if (opts.auditBreak === 'clipping') unitFactors.fill(1);
      if (opts.auditBreak === 'double-count') for (let u = 0; u < unitFactors.length; u++) unitFactors[u] = 2 * unitFactors[u]!;
      const imageFactors = grouping ? Float32Array.from(grouping.unitOf, (u) => unitFactors[u]!) : Float32Array.from(unitFactors);
      for (const [v, g] of clippedSum(tape, imageFactors)) sums.set(v, g);
    }
  } finally {
    tape.dispose();
  }
  if (opts.canary) addCanaries(params, sums, opts);
  const grads = new Map<tf.Variable, tf.Tensor>();
  const sd = opts.noiseMultiplier * opts.clipNorm * (opts.auditBreak === 'noise' ? 0.1 : 1);
  params.forEach((p, k) => {
    const g = tf.tidy(() => {
      const noise = tf.tensor(fillNormal(new Float32Array(p.size), (opts.seed + k * 0x9e3779b1) >>> 0, sd), p.shape, 'float32');
      const s = sums.get(p);
      return tf.div(s ? tf.add(s, noise) : noise, opts.expectedUnits);
    });
    grads.set(p, g);
  });
  tf.dispose([...sums.values()]);
  if (opts.canary) observeCanaries(grads, opts.canary, opts.expectedUnits / opts.clipNorm);
  return { grads, loss, units, clippedShare: units ? clipped / units : 0 };
}

/**
 * Adds the drawn canaries' clipped gradients to the clipped sums (before the noise): each is a Dirac of
 * norm A = CANARY_RAW_NORM_FACTOR · C, clipped like any unit to min(A, C) — A itself under the 'clipping'
 * break, twice under 'double-count'.
 */
function addCanaries(params: readonly tf.Variable[], sums: Map<tf.Variable, tf.Tensor>, opts: DpGradientOptions): void {
  const { entries, drawn } = opts.canary!;
  const raw = CANARY_RAW_NORM_FACTOR * opts.clipNorm;
  const value = (opts.auditBreak === 'clipping' ? raw : Math.min(raw, opts.clipNorm)) * (opts.auditBreak === 'double-count' ? 2 : 1);
  const byParam = new Map<tf.Variable, number[]>();
  entries.forEach((e, k) => {
    if (drawn[k] !== 1) return;
    if (!params.includes(e.param)) throw new Error(`internal error: canary ${k} sits in a parameter outside the private module`);
    if (!byParam.has(e.param)) byParam.set(e.param, []);
    byParam.get(e.param)!.push(e.index);
  });
  for (const [p, idx] of byParam) {
    const add = tf.tidy(() => {
      const delta = tf.scatterND(tf.tensor2d(idx, [idx.length, 1], 'int32'), tf.fill([idx.length], value), [p.size]).reshape(p.shape);
      const s = sums.get(p);
      return s ? tf.add(s, delta) : delta;
    });
    sums.get(p)?.dispose();
    sums.set(p, add);
  }
}

/** Reads the released sum (grads · expectedUnits) at every canary's coordinate, in units of C. */
function observeCanaries(grads: Map<tf.Variable, tf.Tensor>, canary: CanaryStep, scale: number): void {
  const out = new Float32Array(canary.entries.length);
  const byParam = new Map<tf.Variable, number[]>();
  canary.entries.forEach((e, k) => {
    if (!byParam.has(e.param)) byParam.set(e.param, []);
    byParam.get(e.param)!.push(k);
  });
  for (const [p, ks] of byParam) {
    const values = tf.tidy(() => tf.gather(tf.reshape(grads.get(p)!, [-1]), tf.tensor1d(ks.map((k) => canary.entries[k]!.index), 'int32')).dataSync());
    ks.forEach((k, j) => (out[k] = values[j]! * scale));
  }
  canary.observe(out);
}
