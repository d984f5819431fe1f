/**
 * Principal component analysis of a data matrix by seeded subspace iteration.
 *
 * Input: X, row-major Float32Array [n, d] (here: flattened NHWC pixels in [0, 1]); k <= min(n - 1, d).
 *   mean      mu = 1/n sum_i x_i
 *   covariance C  = 1/(n - 1) sum_i (x_i - mu)(x_i - mu)^T          (never formed: d may be 12288)
 *   model     the top-k eigenpairs (lambda_j, v_j) of C, lambda_1 >= ... >= lambda_k
 *   features  z_i = V_k^T (x_i - mu)                                 [n, k]; no whitening
 *
 * Method: orthogonal (subspace) iteration with a Rayleigh-Ritz step (Golub & Van Loan, Matrix
 * Computations, 4th ed., Sec. 8.2, orthogonal iteration), from a random start with oversampling
 * (Halko, Martinsson & Tropp, SIAM Review 53(2), 2011, Alg. 4.4, randomized subspace iteration):
 *   V_0 = orth(Omega), Omega ~ N(0, 1)^[d, l], l = k + oversample
 *   V_t = orth(Xc^T (Xc V_{t-1})),  t = 1..q                         (Xc = X - 1 mu^T, applied in row chunks)
 *   Y = Xc V_q;  Y^T Y = W diag(s) W^T (eval/fidelity/eigh.ts: Householder + implicit QR, G&VL Sec. 8.3)
 *   v_j = V_q w_j,  lambda_j = s_j / (n - 1),  j = 1..k
 * The eigenvalue estimates converge like (lambda_{l+1} / lambda_j)^(2q); with l >= d it is exact up to
 * rounding. Each component's sign is fixed so that its largest-magnitude entry is positive.
 * orth() is modified Gram-Schmidt applied twice (re-orthogonalisation: "twice is enough", after Kahan
 * and Parlett).
 * Matrix products run on tfjs in chunks of rows (each inside tf.tidy); the rest is float64 JS.
 *
 * Reference values: test/fixtures/pca.json (numpy.linalg.eigh of the float64 covariance,
 * test/fixtures/generators/pca_oracle.py).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import type { Features } from '../diversity/modes.js';
import { symmetricEigen } from '../fidelity/eigh.js';

export interface PcaModel {
  k: number;
  d: number;
  /** Rows the model was fitted on. */
  nFit: number;
  mean: Float32Array;
  /** [k, d] row-major, orthonormal rows. */
  components: Float32Array;
  /** lambda_1..lambda_k (covariance eigenvalues, descending). */
  variances: number[];
  /** trace(C): the total variance, so sum(variances) / totalVariance is the share explained. */
  totalVariance: number;
  seed: number;
  oversample: number;
  powerIterations: number;
}

const CHUNK = 1024;

/** (X - 1 mu^T) M for M [d, l] row-major: returns [n, l] float64. */
function centredTimes(x: Features, mean: Float32Array, m: Float32Array, l: number): Float64Array {
  const out = new Float64Array(x.n * l);
  tf.tidy(() => {
    const mt = tf.tensor2d(m, [x.d, l]);
    const mu = tf.tensor2d(mean, [1, x.d]);
    for (let s = 0; s < x.n; s += CHUNK) {
      const e = Math.min(x.n, s + CHUNK);
      const part = tf.tidy(() => tf.matMul(tf.sub(tf.tensor2d(x.data.subarray(s * x.d, e * x.d), [e - s, x.d]), mu), mt).dataSync()); // sync point
      out.set(part, s * l);
    }
  });
  return out;
}

/** (X - 1 mu^T)^T Y for Y [n, l] row-major: returns [d, l] float64 (chunk sums in float64). */
function centredTransposeTimes(x: Features, mean: Float32Array, y: Float64Array, l: number): Float64Array {
  const out = new Float64Array(x.d * l);
  tf.tidy(() => {
    const mu = tf.tensor2d(mean, [1, x.d]);
    for (let s = 0; s < x.n; s += CHUNK) {
      const e = Math.min(x.n, s + CHUNK);
      const part = tf.tidy(() => {
        const xc = tf.sub(tf.tensor2d(x.data.subarray(s * x.d, e * x.d), [e - s, x.d]), mu);
        return tf.matMul(xc, tf.tensor2d(Float32Array.from(y.subarray(s * l, e * l)), [e - s, l]), true, false).dataSync(); // sync point
      });
      for (let i = 0; i < part.length; i++) out[i]! += part[i]!;
    }
  });
  return out;
}

/** Orthonormalises the columns of A [r, c] (row-major, in place) by modified Gram-Schmidt, twice. */
export function orthonormalizeColumns(a: Float64Array, r: number, c: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < c; j++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < r; i++) dot += a[i * c + j]! * a[i * c + p]!;
        for (let i = 0; i < r; i++) a[i * c + j]! -= dot * a[i * c + p]!;
      }
      let norm = 0;
      for (let i = 0; i < r; i++) norm += a[i * c + j]! ** 2;
      norm = Math.sqrt(norm);
      // A column in the span of the previous ones (rank deficiency) is left at zero.
      const inv = norm > 1e-300 ? 1 / norm : 0;
      for (let i = 0; i < r; i++) a[i * c + j]! *= inv;
    }
  }
}

/** Fits the top-k principal components of `x`. */
export function fitPca(x: Features, opts: { k: number; seed: number; oversample?: number; powerIterations?: number }): PcaModel {
  const { n, d } = x;
  if (x.data.length !== n * d) throw new Error(`internal error: PCA input has ${x.data.length} values for [${n}, ${d}]`);
  if (!(Number.isInteger(opts.k) && opts.k >= 1 && opts.k <= Math.min(n - 1, d))) {
    throw new Error(`internal error: PCA needs 1 <= k <= min(n - 1, d), got k=${opts.k}, n=${n}, d=${d}`);
  }
  const oversample = opts.oversample ?? 10;
  const q = opts.powerIterations ?? 6;
  const l = Math.min(d, opts.k + oversample);

  const meanD = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) meanD[j]! += x.data[i * d + j]!;
  for (let j = 0; j < d; j++) meanD[j]! /= n;
  const mean = Float32Array.from(meanD);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) total += (x.data[i * d + j]! - mean[j]!) ** 2;
  }
  const totalVariance = total / (n - 1);

  const rng = new Rng(opts.seed).derive('pca-start');
  let v: Float64Array = Float64Array.from({ length: d * l }, () => rng.normal());
  orthonormalizeColumns(v, d, l);
  for (let t = 0; t < q; t++) {
    v = centredTransposeTimes(x, mean, centredTimes(x, mean, Float32Array.from(v), l), l);
    orthonormalizeColumns(v, d, l);
  }
  // Rayleigh-Ritz: eigen of Y^T Y with Y = Xc V.
  const y = centredTimes(x, mean, Float32Array.from(v), l);
  const gram = new Float64Array(l * l);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < l; a++) {
      const ya = y[i * l + a]!;
      for (let b = a; b < l; b++) gram[a * l + b]! += ya * y[i * l + b]!;
    }
  }
  for (let a = 0; a < l; a++) for (let b = 0; b < a; b++) gram[a * l + b] = gram[b * l + a]!;
  // Ascending eigenvalues, row i the eigenvector of values[i]: component c is row l-1-c.
  const eig = symmetricEigen(gram, l, { vectors: true });
  const w = eig.vectors!;

  const k = opts.k;
  const components = new Float32Array(k * d);
  for (let c = 0; c < k; c++) {
    const row = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      let s = 0;
      const wc = (l - 1 - c) * l;
      for (let a = 0; a < l; a++) s += v[j * l + a]! * w[wc + a]!;
      row[j] = s;
    }
    let big = 0;
    for (let j = 1; j < d; j++) if (Math.abs(row[j]!) > Math.abs(row[big]!)) big = j;
    const sign = row[big]! < 0 ? -1 : 1;
    for (let j = 0; j < d; j++) components[c * d + j] = sign * row[j]!;
  }
  return {
    k,
    d,
    nFit: n,
    mean,
    components,
    variances: Array.from({ length: k }, (_, c) => Math.max(0, eig.values[l - 1 - c]!) / (n - 1)),
    totalVariance,
    seed: opts.seed,
    oversample,
    powerIterations: q,
  };
}

/** z_i = V_k^T (x_i - mu) for every row of `x`: [n, k]. */
export function projectPca(model: PcaModel, x: Features): Features {
  if (x.d !== model.d) throw new Error(`internal error: PCA fitted on ${model.d} columns, got ${x.d}`);
  const vt = new Float32Array(model.d * model.k); // [d, k] = components^T
  for (let c = 0; c < model.k; c++) for (let j = 0; j < model.d; j++) vt[j * model.k + c] = model.components[c * model.d + j]!;
  return { data: Float32Array.from(centredTimes(x, model.mean, vt, model.k)), n: x.n, d: model.k };
}
