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
 * Computation: all N×N, M×M and N×M distances on the tensor backend in row blocks (distances.ts); squared
 * distances are compared with squared radii, which is the same test. Reference values:
 * test/fixtures/fidelity.json (brute-force float64 numpy from the definitions above).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import { disposePoints, forEachDistanceBlock, kthNeighbourSquared, rowMean, uploadPoints, type PointSet } from './distances.js';
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
  let x: PointSet | null = null;
  let y: PointSet | null = null;
  let radii: tf.Tensor1D[] = [];
  try {
    const center = rowMean(real); // one shift for both sets, so every pass sees the same coordinates
    x = uploadPoints(real, center);
    y = uploadPoints(synthetic, center);
    const rReal = await kthNeighbourSquared(x, k, block);
    const rSynth = await kthNeighbourSquared(y, k, block);
    radii = [tf.tensor1d(rReal), tf.tensor1d(rSynth)];
    const [rRealT, rSynthT] = radii as [tf.Tensor1D, tf.Tensor1D];
    // Per synthetic point, min over real i of d²(i, j) - r²_i: negative iff Y_j lies in some real ball.
    const slack = new Float32Array(synthetic.n).fill(Infinity);
    let pairsInBalls = 0; // density numerator
    let covered = 0;
    let recalled = 0;
    const m = synthetic.n;
    // The ball tests are written as signs of differences (d² - r² < 0 iff d² < r² in IEEE arithmetic):
    // tfjs-wasm's broadcasting comparison kernels (less, any) are ~30x slower than sub/min/step here.
    await forEachDistanceBlock(
      x,
      y,
      block,
      (d2, start, rows) => {
        const r = rRealT.slice([start], [rows]).reshape([rows, 1]);
        const inside = tf.sub(d2, r); // [rows, M], < 0 where Y_j is in B(X_i, NND_k(X_i))
        return [
          tf.min(inside, 0), // [M]
          tf.sum(tf.step(tf.neg(inside))), // count of (i, j) inside; <= rows·M <= 2^24: exact in float32
          tf.min(d2, 1), // [rows]: nearest synthetic point of each real X_i
          tf.min(tf.sub(d2, rSynthT.reshape([1, m])), 1), // [rows], < 0 iff X_i is in some synthetic ball
        ];
      },
      ([colMin, pairs, nearest, rowSlack], start, rows) => {
        for (let j = 0; j < m; j++) if (colMin![j]! < slack[j]!) slack[j] = colMin![j]!;
        pairsInBalls += pairs![0]!;
        for (let i = 0; i < rows; i++) {
          if (nearest![i]! < rReal[start + i]!) covered++;
          if (rowSlack![i]! < 0) recalled++;
        }
      },
    );
    let precise = 0;
    for (let j = 0; j < m; j++) if (slack[j]! < 0) precise++;
    return {
      precision: precise / m,
      recall: recalled / real.n,
      density: pairsInBalls / (k * m),
      coverage: covered / real.n,
    };
  } finally {
    disposePoints(x);
    disposePoints(y);
    tf.dispose(radii);
  }
}
