/**
 * Nearest-neighbour distances between two point sets, blocked on the tensor backend (one matMul per
 * block of query rows; eval/fidelity/distances.ts), for the distance-based membership attacks.
 *
 *   nn(q_i) = min_j ||q_i - r_j||_2        (Euclidean, float32; both sets shifted by the mean of r)
 *
 * Input: `queries` [n, d] and `reference` [m, d] row-major float32 (pixels or features). Output: a
 * Float64Array of n distances (not squared). Exact duplicates come out as 0 up to float32 rounding of
 * the expanded form ||a||^2 + ||b||^2 - 2 a.b (clamped at 0).
 */
import { disposePoints, forEachDistanceBlock, rowMean, uploadPoints, type PointSet } from '../fidelity/distances.js';
import type { FeatureMatrix } from '../fidelity/matrix.js';
import { assert } from '../../src/core/errors.js';
import * as tf from '@tensorflow/tfjs';

export type { FeatureMatrix };

/** Distances from every query row to its nearest reference row. */
export async function nearestDistances(queries: FeatureMatrix, reference: FeatureMatrix, opts: { blockElements?: number } = {}): Promise<Float64Array> {
  assert(queries.d === reference.d, () => `nearestDistances: dimensions ${queries.d} and ${reference.d} differ`);
  assert(reference.n >= 1, () => 'nearestDistances: empty reference set');
  const center = rowMean(reference);
  let q: PointSet | null = null;
  let r: PointSet | null = null;
  try {
    q = uploadPoints(queries, center);
    r = uploadPoints(reference, center);
    const out = new Float64Array(queries.n);
    await forEachDistanceBlock(
      q,
      r,
      opts,
      (d2) => [tf.min(d2, 1)],
      ([v], start) => {
        for (let i = 0; i < v!.length; i++) out[start + i] = Math.sqrt(v![i]!);
      },
    );
    return out;
  } finally {
    disposePoints(q);
    disposePoints(r);
  }
}

/**
 * For every query: the nearest distance within each of two column ranges of the reference — rows
 * [0, split) and [split, m) — and the index of the nearest reference row overall (first on ties).
 */
export async function nearestInTwoParts(
  queries: FeatureMatrix,
  reference: FeatureMatrix,
  split: number,
  opts: { blockElements?: number } = {},
): Promise<{ first: Float64Array; second: Float64Array; nearest: Int32Array }> {
  assert(queries.d === reference.d, () => `nearestInTwoParts: dimensions ${queries.d} and ${reference.d} differ`);
  assert(split >= 1 && split < reference.n, () => `nearestInTwoParts: split ${split} of ${reference.n} rows`);
  const center = rowMean(reference);
  let q: PointSet | null = null;
  let r: PointSet | null = null;
  try {
    q = uploadPoints(queries, center);
    r = uploadPoints(reference, center);
    const first = new Float64Array(queries.n);
    const second = new Float64Array(queries.n);
    const nearest = new Int32Array(queries.n);
    const m = reference.n;
    await forEachDistanceBlock(
      q,
      r,
      opts,
      (d2, _start, rows) => [tf.min(d2.slice([0, 0], [rows, split]), 1), tf.min(d2.slice([0, split], [rows, m - split]), 1), tf.argMin(d2, 1)],
      ([a, b, k], start) => {
        for (let i = 0; i < a!.length; i++) {
          first[start + i] = Math.sqrt(a![i]!);
          second[start + i] = Math.sqrt(b![i]!);
          nearest[start + i] = k![i]!;
        }
      },
    );
    return { first, second, nearest };
  } finally {
    disposePoints(q);
    disposePoints(r);
  }
}

/** The rows of `m` at `indices`, in that order (copies). */
export function selectRows(m: FeatureMatrix, indices: readonly number[]): FeatureMatrix {
  const data = new Float32Array(indices.length * m.d);
  indices.forEach((src, dst) => data.set(m.data.subarray(src * m.d, (src + 1) * m.d), dst * m.d));
  return { data, n: indices.length, d: m.d };
}
