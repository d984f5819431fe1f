/**
 * Blocked Euclidean distances on the tensor backend, for k-NN radii and ball tests over N × M pairs
 * without holding an N × M matrix.
 *
 *   ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i·b_j
 *
 * as one float32 matMul per block of rows of A on augmented rows (see PointSet), then a clamp at 0: no
 * other element-wise pass over the block. Both sets are first shifted by the same centre (the caller's
 * choice, e.g. the real mean): distances do not change, and the norms shrink, which cuts the
 * cancellation in the formula above. A block is `rows × M` with rows = floor(blockElements / M), so
 * memory stays bounded whatever N is. Every distance in this module is squared; take a square root only
 * to report one.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import type { FeatureMatrix } from './matrix.js';

/** Default block size in matrix elements (2^23 float32 = 32 MB per intermediate). */
export const DEFAULT_BLOCK_ELEMENTS = 1 << 23;

/**
 * A feature set uploaded to the backend, in the two augmented layouts that make one matMul give squared
 * distances: [a, ||a||², 1] · [-2b, 1, ||b||²]ᵀ = ||a||² + ||b||² - 2 a·b. The caller owns the tensors:
 * release with `disposePoints`.
 */
export interface PointSet {
  n: number;
  d: number;
  /** [n, d + 2]: centred rows x_i, then ||x_i||², then 1. */
  left: tf.Tensor2D;
  /** [d + 2, n]: columns -2 x_i, then 1, then ||x_i||². */
  right: tf.Tensor2D;
}

/** Uploads `m` shifted by `center` (length d; null for no shift). */
export function uploadPoints(m: FeatureMatrix, center: Float64Array | null): PointSet {
  const { n, d } = m;
  let data = m.data;
  if (center) {
    assert(center.length === d, () => `uploadPoints: centre of length ${center.length} for d = ${d}`);
    data = new Float32Array(m.data.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = m.data[i * d + j]! - center[j]!;
  }
  return tf.tidy(() => {
    const x = tf.tensor2d(data, [n, d], 'float32');
    const sq = tf.sum(tf.square(x), 1, true); // [n, 1]
    const ones = tf.onesLike(sq);
    const left = tf.concat([x, sq, ones], 1) as tf.Tensor2D;
    const right = tf.transpose(tf.concat([tf.mul(x, -2), ones, sq], 1)) as tf.Tensor2D;
    return { n, d, left: tf.keep(left), right: tf.keep(right) };
  });
}

export function disposePoints(p: PointSet | null): void {
  if (p) tf.dispose([p.left, p.right]);
}

/** Mean of the rows, in float64: a good common centre. */
export function rowMean(m: FeatureMatrix): Float64Array {
  const mean = new Float64Array(m.d);
  for (let i = 0; i < m.n; i++) for (let j = 0; j < m.d; j++) mean[j] = mean[j]! + m.data[i * m.d + j]!;
  for (let j = 0; j < m.d; j++) mean[j] = mean[j]! / m.n;
  return mean;
}

/** Rows of A per block against all of B. */
export function blockRows(b: number, blockElements = DEFAULT_BLOCK_ELEMENTS): number {
  // At most 2^24 elements, so counts summed in float32 over one block stay exact.
  return Math.max(1, Math.floor(Math.min(blockElements, 1 << 24) / Math.max(b, 1)));
}

/**
 * Squared distances from rows start..start+rows of A to every row of B: [rows, b.n], float32, >= 0.
 * Call inside tf.tidy; the returned tensor belongs to that scope.
 */
export function squaredDistanceBlock(a: PointSet, b: PointSet, start: number, rows: number): tf.Tensor2D {
  assert(a.d === b.d, () => `squaredDistanceBlock: dimensions ${a.d} and ${b.d} differ`);
  const block = a.left.slice([start, 0], [rows, a.d + 2]);
  return tf.relu(tf.matMul(block, b.right)) as tf.Tensor2D; // [rows, M]
}

/**
 * For each row of A, calls `reduce` on its block of squared distances to B and awaits what it returns:
 * the reducer turns a [rows, M] block into small tensors it reads back. Peak memory: a few blocks.
 */
export async function forEachDistanceBlock(
  a: PointSet,
  b: PointSet,
  opts: { blockElements?: number },
  reduce: (d2: tf.Tensor2D, start: number, rows: number) => tf.Tensor[],
  consume: (values: tf.TypedArray[], start: number, rows: number) => void,
): Promise<void> {
  const step = blockRows(b.n, opts.blockElements);
  for (let start = 0; start < a.n; start += step) {
    const rows = Math.min(step, a.n - start);
    const outs = tf.tidy(() => reduce(squaredDistanceBlock(a, b, start, rows), start, rows));
    try {
      const values = await Promise.all(outs.map((t) => t.data())); // sync point: one read-back per block
      consume(values, start, rows);
    } finally {
      tf.dispose(outs);
    }
  }
}

/**
 * Squared distance from each point of `p` to its k-th nearest neighbour in `p`, the point itself
 * excluded: the (k+1)-th smallest entry of its distance row, whose smallest is its own 0. A duplicate of a
 * point counts as a neighbour at distance 0 (as in Naeem et al.'s reference code). Needs p.n >= k + 1.
 */
export async function kthNeighbourSquared(p: PointSet, k: number, opts: { blockElements?: number } = {}): Promise<Float32Array> {
  assert(Number.isInteger(k) && k >= 1 && p.n >= k + 1, () => `kthNeighbourSquared: k = ${k} needs at least k + 1 points, got ${p.n}`);
  const radii = new Float32Array(p.n);
  await forEachDistanceBlock(
    p,
    p,
    opts,
    (d2, _start, rows) => {
      // topk takes the largest; the k+1 smallest distances are the k+1 largest of -d2, in descending order.
      const { values } = tf.topk(tf.neg(d2), k + 1, true);
      return [tf.neg(values.slice([0, k], [rows, 1]))];
    },
    ([v], start) => radii.set(v as Float32Array, start),
  );
  return radii;
}

/** The whole [a.n, b.n] squared-distance matrix in one piece (small sets and tests). Caller owns it. */
export function squaredDistances(a: PointSet, b: PointSet): tf.Tensor2D {
  return tf.tidy(() => squaredDistanceBlock(a, b, 0, a.n));
}
