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
 * Noise: tf.randomNormal from a per-step seed, so a run is reproducible. That generator is not
 * cryptographically secure, and float arithmetic is not the real-valued Gaussian the proof assumes
 * (Mironov, CCS 2012): the model card states both caveats.
 */
import * as tf from '@tensorflow/tfjs';
import { PrivacyAssumptionError } from '../core/errors.js';
import type { Tape } from '../nn/layers.js';
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
      const imageFactors = grouping ? Float32Array.from(grouping.unitOf, (u) => unitFactors[u]!) : Float32Array.from(unitFactors);
      for (const [v, g] of clippedSum(tape, imageFactors)) sums.set(v, g);
    }
  } finally {
    tape.dispose();
  }
  const grads = new Map<tf.Variable, tf.Tensor>();
  const sd = opts.noiseMultiplier * opts.clipNorm;
  params.forEach((p, k) => {
    const g = tf.tidy(() => {
      const noise = tf.randomNormal(p.shape, 0, sd, 'float32', (opts.seed + k * 0x9e3779b1) >>> 0);
      const s = sums.get(p);
      return tf.div(s ? tf.add(s, noise) : noise, opts.expectedUnits);
    });
    grads.set(p, g);
  });
  tf.dispose([...sums.values()]);
  return { grads, loss, units, clippedShare: units ? clipped / units : 0 };
}
