/**
 * Blocked Euclidean distances on the tensor backend, for k-NN radii and ball tests over N × M pairs
 * without holding an N × M matrix.
 *
 *   ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i·b_j
 *
 * as one float32 matMul per block of rows of A on augmented rows (see PointSet), then a clamp at 0: no
 * other element-wise pass over the block. A's augmented rows are uploaded one block at a time; only B's
 * augmented columns are whole on the backend. Both sets are first shifted by the same centre (the caller's
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

/** Rows per upload when computing the squared norms: at most 2^20 values (4 MB) at a time. */
const NORM_BLOCK_ELEMENTS = 1 << 20;

/** The wasm backend's own allocation and heap view (as src/nn/optim.ts and src/backend/native.ts use them). */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * A new float32 tensor of `shape` whose values `fill` writes. On wasm it is allocated in the heap and
 * filled there, so no JS copy of its size exists even for a moment; elsewhere, a JS array is uploaded.
 * `fill` must not run tensor ops (a heap growth would detach the view it writes).
 */
function filledTensor2d(shape: [number, number], fill: (out: Float32Array) => void): tf.Tensor2D {
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  if (tf.getBackend() === 'wasm' && typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function') {
    const info = b.makeOutput(shape, 'float32');
    const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor2D;
    try {
      fill(b.typedArrayFromHeap(info));
    } catch (e) {
      t.dispose();
      throw e;
    }
    return t;
  }
  const values = new Float32Array(shape[0] * shape[1]);
  fill(values);
  return tf.tensor2d(values, shape, 'float32');
}

/**
 * A feature set for the distance blocks, in the two augmented layouts that make one matMul give squared
 * distances: rows [x_i, ||x_i||², 1] (left) times columns [-2 x_j, 1, ||x_j||²] (right) = ||x_i||² +
 * ||x_j||² - 2 x_i·x_j, where x = the rows of `m` minus `center`.
 *
 * Memory: nothing of the set's size is uploaded up front. The left layout is built and uploaded one block
 * of rows at a time (`leftRows`), when the set is A; the right layout is one tensor [d + 2, n], built in
 * place on the first call of `right()` (the set is B) and kept until `dispose`. The rows are read from
 * `m` at each use (no copy is kept): do not change `m.data` while the set is in use. On wasm the matMul
 * (XNNPACK's fully-connected path) packs B's right layout into a cached copy of the same size for as long
 * as that tensor lives, so a set used as B costs twice its size in the heap until `dispose`.
 *
 * Values: centring is `m[i][j] - center[j]` rounded to float32, and the norms are the backend's own
 * `sum(square(x), 1)` computed in blocks of rows (the kernel sums each row on its own, so blocking does not
 * change a bit); both layouts hold exactly the values the one-piece upload (concat and transpose of the
 * whole set on the backend) produced.
 */
export class PointSet {
  readonly n: number;
  readonly d: number;
  /** ||x_i||² (centred), float32, one per row. */
  readonly norms: Float32Array;
  private readonly data: Float32Array;
  private readonly center: Float64Array | null;
  private rightT: tf.Tensor2D | null = null;

  constructor(m: FeatureMatrix, center: Float64Array | null, opts: { normBlockElements?: number } = {}) {
    const { n, d } = m;
    assert(!center || center.length === d, () => `uploadPoints: centre of length ${center!.length} for d = ${d}`);
    this.n = n;
    this.d = d;
    this.data = m.data;
    this.center = center;
    this.norms = new Float32Array(n);
    const step = Math.max(1, Math.floor((opts.normBlockElements ?? NORM_BLOCK_ELEMENTS) / Math.max(d, 1)));
    for (let start = 0; start < n; start += step) {
      const rows = Math.min(step, n - start);
      const sq = tf.tidy(() => {
        const x = tf.tensor2d(this.centred(start, rows), [rows, d], 'float32');
        return tf.sum(tf.square(x), 1, true).dataSync() as Float32Array; // sync point
      });
      this.norms.set(sq, start);
    }
  }

  /** Centred rows start..start+rows, row-major (a view of the data when there is no centre). */
  private centred(start: number, rows: number): Float32Array {
    const { d, data, center } = this;
    if (!center) return data.subarray(start * d, (start + rows) * d);
    const out = new Float32Array(rows * d);
    for (let i = 0, src = start * d; i < rows; i++, src += d) for (let j = 0; j < d; j++) out[i * d + j] = data[src + j]! - center[j]!;
    return out;
  }

  /** Rows start..start+rows in the left layout, [rows, d + 2]: a new tensor in the current scope. */
  leftRows(start: number, rows: number): tf.Tensor2D {
    assert(start >= 0 && rows >= 0 && start + rows <= this.n, () => `PointSet.leftRows: rows ${start}..${start + rows} of ${this.n}`);
    const { d, data, center, norms } = this;
    const w = d + 2;
    return filledTensor2d([rows, w], (out) => {
      for (let i = 0; i < rows; i++) {
        const src = (start + i) * d;
        const dst = i * w;
        if (center) for (let j = 0; j < d; j++) out[dst + j] = data[src + j]! - center[j]!;
        else out.set(data.subarray(src, src + d), dst);
        out[dst + d] = norms[start + i]!;
        out[dst + d + 1] = 1;
      }
    });
  }

  /** The right layout [d + 2, n]: columns -2 x_j, then 1, then ||x_j||². Owned by the set. */
  right(): tf.Tensor2D {
    if (this.rightT) return this.rightT;
    const { n, d, data, center, norms } = this;
    const t = filledTensor2d([d + 2, n], (out) => {
      for (let i = 0; i < n; i++) {
        const src = i * d;
        // Rounded to float32 first, as the centred upload was; doubling is then exact.
        if (center) for (let j = 0; j < d; j++) out[j * n + i] = -2 * Math.fround(data[src + j]! - center[j]!);
        else for (let j = 0; j < d; j++) out[j * n + i] = -2 * data[src + j]!;
      }
      out.fill(1, d * n, (d + 1) * n);
      out.set(norms, (d + 1) * n);
    });
    this.rightT = tf.keep(t);
    return t;
  }

  dispose(): void {
    if (this.rightT) this.rightT.dispose();
    this.rightT = null;
  }
}

/**
 * The set `m` shifted by `center` (length d; null for no shift). Release with `disposePoints`.
 * `normBlockElements`: values per upload while computing the norms (default 2^20; tests make it small).
 */
export function uploadPoints(m: FeatureMatrix, center: Float64Array | null, opts: { normBlockElements?: number } = {}): PointSet {
  return new PointSet(m, center, opts);
}

export function disposePoints(p: PointSet | null): void {
  if (p) p.dispose();
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
  return tf.relu(tf.matMul(a.leftRows(start, rows), b.right())) as tf.Tensor2D; // [rows, M]
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
