/**
 * Precision, recall, density and coverage — k-nearest-neighbour balls around real and synthetic points.
 * Precision and recall: Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
 * Generative Models", NeurIPS 2019 (arXiv:1904.06991). Density and coverage, with precision and recall
 * restated in the same notation (the four definitions below): Naeem et al., "Reliable Fidelity and
 * Diversity Metrics for Generative Models", ICML 2020 (arXiv:2002.09797).
 *
 *   real X_1..X_N, synthetic Y_1..Y_M, both [., D] float32 from the same feature extractor; k >= 1
 *   NND_k(X_i) = distance from X_i to its k-th nearest neighbour among the other real points
 *   NND_k(Y_j) = the same within the synthetic set
 *   B(c, r)    = { z : ||z - c|| < r }   (strict, as in the authors' code, clovaai/generative-evaluation-prdc)
 *   precision = 1/M      sum_j 1[ exists i: Y_j in B(X_i, NND_k(X_i)) ]    fidelity,  [0, 1], maximise
 *   recall    = 1/N      sum_i 1[ exists j: X_i in B(Y_j, NND_k(Y_j)) ]    diversity, [0, 1], maximise
 *   density   = 1/(k M)  sum_j sum_i 1[ Y_j in B(X_i, NND_k(X_i)) ]        fidelity,  [0, N/k]; ≈ 1 when
 *                                                                          both come from one distribution
 *   coverage  = 1/N      sum_i 1[ exists j: Y_j in B(X_i, NND_k(X_i)) ]    diversity, [0, 1], maximise
 *
 * Convention: the first argument is real (it defines the reference balls for precision, density and
 * coverage), the second synthetic; swapping them swaps precision and recall only. Needs N, M >= k + 1.
 * Naeem et al. recommend k = 5. Plain counting estimators on the samples given (no subsampling).
 *
 * Computation: all N×N, M×M and N×M squared distances on the tensor backend in row blocks (distances.ts),
 * compared with squared radii (the same test). The comparisons are tie-exact: float32 distances from the
 * matMul identity can miss an exact tie by round-off (integer features, duplicated images), and one
 * miscounted pair moves density by 1/(kM). So every float32 distance within its round-off bound of the
 * radius it is compared with is recomputed in float64 from the input rows, as are the radii themselves:
 *   |d2_f32 - d2| <= BOUND(D) * (||a - c||^2 + ||b - c||^2),  c the common centre (see roundOffBound)
 * and only a pair inside that band can be decided differently by float32; outside it the float32 sign is
 * the exact one. Reference values: test/fixtures/fidelity.json (brute-force float64 numpy from the
 * definitions above) and test/fixtures/prdc-ties.json (integer 2-D data with exact ties, the clovaai
 * definition with its strict <).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import { disposePoints, forEachDistanceBlock, rowMean, uploadPoints, type PointSet } from './distances.js';
import type { FeatureMatrix } from './matrix.js';

export const DEFAULT_K = 5;

export interface Prdc {
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}

export interface PrdcOptions {
  /** Neighbourhood size (default 5). */
  k?: number;
  /** Elements per distance block (memory bound); see distances.ts. */
  blockElements?: number;
}

/** Why PRDC cannot be computed for these set sizes, or null when it can. */
export function prdcUnavailable(nReal: number, nSynthetic: number, k: number): string | null {
  if (nReal >= k + 1 && nSynthetic >= k + 1) return null;
  return `needs at least k + 1 = ${k + 1} samples in each set (k = ${k}), got ${nReal} real and ${nSynthetic} synthetic`;
}

export async function prdc(real: FeatureMatrix, synthetic: FeatureMatrix, opts: PrdcOptions = {}): Promise<Prdc> {
  const k = opts.k ?? DEFAULT_K;
  assert(Number.isInteger(k) && k >= 1, () => `prdc: k must be a whole number >= 1, got ${k}`);
  assert(real.d === synthetic.d, () => `prdc: dimensions ${real.d} and ${synthetic.d} differ`);
  const why = prdcUnavailable(real.n, synthetic.n, k);
  assert(why === null, () => `prdc: ${why}`);
  const block = { blockElements: opts.blockElements };
  const center = rowMean(real); // one shift for both sets, so every pass sees the same coordinates
  const bound = roundOffBound(real.d);
  const normsReal = centredNorms(real, center);
  const normsSynth = centredNorms(synthetic, center);
  let x: PointSet | null = null;
  let y: PointSet | null = null;
  try {
    x = uploadPoints(real, center);
    y = uploadPoints(synthetic, center);
    const rReal = await exactRadii(real, x, normsReal, k, bound, block);
    const rSynth = await exactRadii(synthetic, y, normsSynth, k, bound, block);
    const n = real.n;
    const m = synthetic.n;
    const precise = new Uint8Array(m); // Y_j in some real ball
    let pairsInBalls = 0; // density numerator
    let covered = 0;
    let recalled = 0;
    await forEachDistanceBlock(
      x,
      y,
      block,
      (d2) => [d2],
      ([d2], start, rows) => {
        for (let r = 0; r < rows; r++) {
          const i = start + r;
          const ri = rReal[i]!;
          let inAny = false; // some Y_j in B(X_i, NND_k(X_i)): coverage
          let inSynth = false; // X_i in some B(Y_j, NND_k(Y_j)): recall
          for (let j = 0; j < m; j++) {
            const f = d2![r * m + j]!;
            const tol = bound * (normsReal[i]! + normsSynth[j]!);
            // Outside the band the float32 sign is exact; inside it, the float64 distance decides.
            let gap = f - ri;
            if (gap >= -tol && gap <= tol) gap = squaredDistance(real, i, synthetic, j) - ri;
            if (gap < 0) {
              pairsInBalls++;
              precise[j] = 1;
              inAny = true;
            }
            if (!inSynth) {
              const rj = rSynth[j]!;
              let gapS = f - rj;
              if (gapS >= -tol && gapS <= tol) gapS = squaredDistance(real, i, synthetic, j) - rj;
              if (gapS < 0) inSynth = true;
            }
          }
          if (inAny) covered++;
          if (inSynth) recalled++;
        }
      },
    );
    let preciseCount = 0;
    for (let j = 0; j < m; j++) preciseCount += precise[j]!;
    return {
      precision: preciseCount / m,
      recall: recalled / n,
      density: pairsInBalls / (k * m),
      coverage: covered / n,
    };
  } finally {
    disposePoints(x);
    disposePoints(y);
  }
}

/**
 * Bound on |float32 distance - exact distance| per unit of (||a - c||^2 + ||b - c||^2), for features of
 * dimension d. The float32 value is ||a'||^2 + ||b'||^2 - 2 a'.b' over the centred, float32-rounded rows
 * a', b' (distances.ts): a dot product of length d + 2 whose terms sum in absolute value to at most
 * 2 (||a||^2 + ||b||^2), in any summation order within gamma_(d+2) ~ (d + 2) u of it (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 2nd ed., Eq. 3.5), u = 2^-24; the stored norms add gamma_d; rounding
 * the centred rows moves the distance by at most 2u (||a|| + ||b||)^2 <= 4u (||a||^2 + ||b||^2). Summed and
 * padded: (3 d + 16) u. Generous on purpose: a wider band only costs a few float64 recomputations.
 */
export function roundOffBound(d: number): number {
  return (3 * d + 16) * 2 ** -24;
}

/** ||x_i - c||^2 per row, in float64. */
function centredNorms(m: FeatureMatrix, center: Float64Array): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    let s = 0;
    for (let t = 0; t < m.d; t++) s += (m.data[i * m.d + t]! - center[t]!) ** 2;
    out[i] = s;
  }
  return out;
}

/** ||a_i - b_j||^2 in float64 from the input rows (exact for integer-valued features). */
function squaredDistance(a: FeatureMatrix, i: number, b: FeatureMatrix, j: number): number {
  let s = 0;
  for (let t = 0; t < a.d; t++) s += (a.data[i * a.d + t]! - b.data[j * b.d + t]!) ** 2;
  return s;
}

/**
 * Squared k-NN radius of each point of `m` within `m` (self excluded), exact: the float32 (k+1)-th smallest
 * distance t_i of each row is within tol_i of the exact one, so every point whose exact distance is at most
 * the exact radius has a float32 distance <= t_i + 2 tol_i; those candidates are recomputed in float64 and
 * the (k+1)-th smallest of them (the point's own 0 first) is the radius. A duplicate counts as a neighbour
 * at distance 0, as in Naeem et al.'s reference code.
 */
async function exactRadii(m: FeatureMatrix, p: PointSet, norms: Float64Array, k: number, bound: number, block: { blockElements?: number }): Promise<Float64Array> {
  let maxNorm = 0;
  for (const v of norms) maxNorm = Math.max(maxNorm, v);
  const radii = new Float64Array(m.n);
  await forEachDistanceBlock(
    p,
    p,
    block,
    (d2, _start, rows) => {
      // topk takes the largest; the k+1 smallest distances are the k+1 largest of -d2, in descending order.
      const { values } = tf.topk(tf.neg(d2), k + 1, true);
      return [d2, tf.neg(values.slice([0, k], [rows, 1]))];
    },
    ([d2, kth], start, rows) => {
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        const limit = kth![r]! + 2 * bound * (norms[i]! + maxNorm);
        const candidates: number[] = [];
        for (let j = 0; j < m.n; j++) if (d2![r * m.n + j]! <= limit) candidates.push(j === i ? 0 : squaredDistance(m, i, m, j));
        candidates.sort((a, b) => a - b);
        radii[i] = candidates[k]!;
      }
    },
  );
  return radii;
}
