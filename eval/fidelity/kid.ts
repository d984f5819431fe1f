/**
 * KID — Kernel Inception Distance: the squared maximum mean discrepancy between real and synthetic
 * features under a cubic polynomial kernel, averaged over random subsets. Bińkowski et al., "Demystifying
 * MMD GANs", ICLR 2018 (arXiv:1801.01401), where KID is defined; the unbiased MMD² estimator is
 * Gretton et al., "A Kernel Two-Sample Test", JMLR 13 (2012), Lemma 6.
 *
 *   k(x, y) = (x·y / D + 1)^3
 *   MMD²_u(X, Y) = 1/(m(m-1)) sum_{i != i'} k(x_i, x_i') + 1/(n(n-1)) sum_{j != j'} k(y_j, y_j')
 *                  - 2/(m n) sum_{i, j} k(x_i, y_j)
 *   KID = mean over S subset pairs of MMD²_u  ±  std over them (divisor S, as torch-fidelity)
 *
 * Convention: real: [N, D], synthetic: [M, D], float32, same extractor. Each subset pair draws m =
 * min(subsetSize, N) real and n = min(subsetSize, M) synthetic rows, each without replacement, from a
 * seeded stream (defaults: 100 subsets of 1000, as torch-fidelity and clean-fid). Minimise. Unbiased for
 * each pair, so it can be slightly negative when the sets match; symmetric in X and Y. Needs m, n >= 2.
 * The biased (V-statistic) form divides the full sums, diagonal included, by m² and n²; `mmdSquared`
 * gives both so tests can tell them apart.
 *
 * Numerics. With t = x·y/D, k = 1 + 3t + (3t² + t³). Summed over a block, the constant is m n and the
 * linear part is 3/D (sum_i x_i)·(sum_j y_j): both are computed exactly enough in float64 on the CPU. Only
 * the remainder t²(3 + t) is computed on the tensor backend (float32 matMul, row sums read back and
 * added in float64), so the large constant never passes through float32. The diagonal terms k(x_i, x_i)
 * are computed in float64. Reference values: test/fixtures/fidelity.json (numpy float64, fixed subsets).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import type { FeatureMatrix } from './matrix.js';

/**
 * Reading KID. Its unit is the kernel's: (x·y/D + 1)^3 grows with the cube of the feature scale, so KID on
 * unnormalised features (pixel PCA, domain-cnn activations) can be large; compare it only with the
 * real-vs-real baseline in the same features. Reports show KID × KID_DISPLAY_SCALE. The estimator is
 * unbiased, so when two sets match, about half the subset pairs give MMD²_u < 0 and the mean can be
 * negative: read a value within its std of 0 as 0, not as "better than identical".
 */
export const KID_DISPLAY_SCALE = 1e3;
export const KID_READING =
  'KID is shown x 1000, in the squared-kernel units of these features (its size depends on the feature scale, so compare it with the real-test baseline only); it uses the unbiased MMD² estimator, which is below 0 for about half of the subsets when the sets match, so a negative mean within its ± std of 0 means "no detectable difference", not a better-than-real score';

export const DEFAULT_KID_SUBSETS = 100;
export const DEFAULT_KID_SUBSET_SIZE = 1000;
export const DEFAULT_KID_SEED = 2020;

/** Row indices of one real subset and one synthetic subset. */
export interface KidSubset {
  real: Int32Array;
  synthetic: Int32Array;
}

export interface KidOptions {
  subsets?: number;
  subsetSize?: number;
  seed?: number;
  /** Kernel-matrix elements per backend batch of subsets (memory bound); default 2^23. */
  batchElements?: number;
}

export interface Kid {
  mean: number;
  std: number;
  /** MMD²_u of each subset pair. */
  values: Float64Array;
  subsetSize: { real: number; synthetic: number };
}

/** Kernel sums of one subset pair: full sums (diagonal included) and the diagonals. */
export interface KernelSums {
  m: number;
  n: number;
  xx: number;
  xxDiag: number;
  yy: number;
  yyDiag: number;
  xy: number;
}

/** MMD² from kernel sums: the unbiased U-statistic (default) or the biased V-statistic. */
export function mmdSquared(s: KernelSums, estimator: 'unbiased' | 'biased' = 'unbiased'): number {
  const { m, n } = s;
  if (estimator === 'biased') return s.xx / (m * m) + s.yy / (n * n) - (2 * s.xy) / (m * n);
  return (s.xx - s.xxDiag) / (m * (m - 1)) + (s.yy - s.yyDiag) / (n * (n - 1)) - (2 * s.xy) / (m * n);
}

/** Why KID cannot be computed for these set sizes, or null when it can. */
export function kidUnavailable(nReal: number, nSynthetic: number): string | null {
  if (nReal >= 2 && nSynthetic >= 2) return null;
  return `needs at least 2 samples in each set, got ${nReal} real and ${nSynthetic} synthetic`;
}

/**
 * The subset pairs KID averages over: `subsets` pairs of min(subsetSize, nReal) real and
 * min(subsetSize, nSynthetic) synthetic indices, each drawn without replacement (partial Fisher–Yates).
 * Same arguments, same subsets.
 */
export function drawKidSubsets(
  nReal: number,
  nSynthetic: number,
  opts: { subsets?: number; subsetSize?: number; seed?: number } = {},
): KidSubset[] {
  const count = opts.subsets ?? DEFAULT_KID_SUBSETS;
  const size = opts.subsetSize ?? DEFAULT_KID_SUBSET_SIZE;
  assert(Number.isInteger(count) && count >= 1 && Number.isInteger(size) && size >= 2, () => `drawKidSubsets: subsets ${count}, size ${size}`);
  const rng = new Rng(opts.seed ?? DEFAULT_KID_SEED);
  const permReal = Int32Array.from({ length: nReal }, (_, i) => i);
  const permSynth = Int32Array.from({ length: nSynthetic }, (_, i) => i);
  const draw = (perm: Int32Array, m: number): Int32Array => {
    // The first m slots of a partial Fisher–Yates shuffle are a uniform m-subset whatever order perm is in.
    for (let i = 0; i < m; i++) {
      const j = i + rng.int(perm.length - i);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm.slice(0, m).sort(); // ascending: the same set always gives the same float32 sums
  };
  const out: KidSubset[] = [];
  for (let s = 0; s < count; s++) {
    out.push({ real: draw(permReal, Math.min(size, nReal)), synthetic: draw(permSynth, Math.min(size, nSynthetic)) });
  }
  return out;
}

/** KID with seeded subsets (see the module header). */
export async function kid(real: FeatureMatrix, synthetic: FeatureMatrix, opts: KidOptions = {}): Promise<Kid> {
  const why = kidUnavailable(real.n, synthetic.n);
  assert(why === null, () => `kid: ${why}`);
  const subsets = drawKidSubsets(real.n, synthetic.n, opts);
  const values = await kidOnSubsets(real, synthetic, subsets, opts);
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return {
    mean,
    std: Math.sqrt(ss / values.length),
    values,
    subsetSize: { real: subsets[0]!.real.length, synthetic: subsets[0]!.synthetic.length },
  };
}

/** MMD²_u for each given subset pair. All pairs must have the same two sizes (>= 2). */
export async function kidOnSubsets(
  real: FeatureMatrix,
  synthetic: FeatureMatrix,
  subsets: readonly KidSubset[],
  opts: { batchElements?: number } = {},
): Promise<Float64Array> {
  const d = real.d;
  assert(synthetic.d === d, () => `kid: dimensions ${d} and ${synthetic.d} differ`);
  assert(subsets.length >= 1, () => 'kid: no subsets');
  const m = subsets[0]!.real.length;
  const n = subsets[0]!.synthetic.length;
  assert(m >= 2 && n >= 2, () => `kid: subset sizes ${m} and ${n} must be >= 2`);
  for (const s of subsets) {
    assert(s.real.length === m && s.synthetic.length === n, () => 'kid: subsets differ in size');
    assert(s.real.every((i) => i >= 0 && i < real.n) && s.synthetic.every((j) => j >= 0 && j < synthetic.n), () => 'kid: index out of range');
  }
  const perBatch = Math.max(1, Math.floor((opts.batchElements ?? 1 << 23) / Math.max(m, n) ** 2));
  const values = new Float64Array(subsets.length);
  // Rows scaled by 1/sqrt(D), so a plain product gives t = x·y/D.
  const scale = 1 / Math.sqrt(d);
  const xAll = tf.tidy(() => tf.mul(tf.tensor2d(real.data, [real.n, d]), scale));
  const yAll = tf.tidy(() => tf.mul(tf.tensor2d(synthetic.data, [synthetic.n, d]), scale));
  try {
    for (let s0 = 0; s0 < subsets.length; s0 += perBatch) {
      const batch = subsets.slice(s0, s0 + perBatch);
      const g = batch.length;
      const sums = tf.tidy(() => {
        const x = tf.gather(xAll, tf.tensor1d(concat(batch.map((b) => b.real)), 'int32')).reshape([g, m, d]) as tf.Tensor3D;
        const y = tf.gather(yAll, tf.tensor1d(concat(batch.map((b) => b.synthetic)), 'int32')).reshape([g, n, d]) as tf.Tensor3D;
        // Row sums of t²(3 + t), t = a·b/D: [g, rows].
        const remainder = (a: tf.Tensor3D, b: tf.Tensor3D) => {
          const t = tf.matMul(a, b, false, true);
          return tf.sum(tf.mul(tf.square(t), tf.add(t, 3)), 2);
        };
        return [remainder(x, x), remainder(y, y), remainder(x, y)];
      });
      try {
        const [qxx, qyy, qxy] = (await Promise.all(sums.map((t) => t.data()))) as Float32Array[]; // sync point
        batch.forEach((sub, b) => {
          const xs = exactParts(real, sub.real);
          const ys = exactParts(synthetic, sub.synthetic);
          const lin = (u: Float64Array, v: Float64Array) => {
            let dot = 0;
            for (let j = 0; j < d; j++) dot += u[j]! * v[j]!;
            return (3 * dot) / d;
          };
          values[s0 + b] = mmdSquared({
            m,
            n,
            xx: m * m + lin(xs.sum, xs.sum) + sumRange(qxx!, b * m, m),
            xxDiag: xs.diag,
            yy: n * n + lin(ys.sum, ys.sum) + sumRange(qyy!, b * n, n),
            yyDiag: ys.diag,
            xy: m * n + lin(xs.sum, ys.sum) + sumRange(qxy!, b * m, m),
          });
        });
      } finally {
        tf.dispose(sums);
      }
    }
  } finally {
    tf.dispose([xAll, yAll]);
  }
  return values;
}

/** Float64 sum of the chosen rows and sum of k(x_i, x_i) = (||x_i||²/D + 1)³ over them. */
function exactParts(x: FeatureMatrix, rows: Int32Array): { sum: Float64Array; diag: number } {
  const { data, d } = x;
  const sum = new Float64Array(d);
  let diag = 0;
  for (const i of rows) {
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const v = data[i * d + j]!;
      sum[j] = sum[j]! + v;
      sq += v * v;
    }
    diag += (sq / d + 1) ** 3;
  }
  return { sum, diag };
}

function sumRange(a: Float32Array, start: number, count: number): number {
  let s = 0;
  for (let i = start; i < start + count; i++) s += a[i]!;
  return s;
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
