/**
 * DOMIAS — van Breugel, Sun, Qian & van der Schaar, "Membership Inference Attacks against Synthetic Data
 * through Overfitting Detection", AISTATS 2023 (arXiv:2302.12580), Sec. 3: a generator that overfits
 * puts more synthetic density at its training points than the data distribution has there, so score a
 * query by the density ratio
 *
 *   score(x) = log p_syn(x) - log p_ref(x)                       higher = more likely a member
 *
 * with both densities estimated by Gaussian kernel density estimation (the paper's KDE variant), in
 * feature space:
 *   p(x) = (1/n) sum_i N(x; x_i, H),   H = h^2 S,   S = sample covariance of the x_i (1/(n-1)),
 *   h = n^(-1/(d+4))   (Scott's rule; the defaults of scipy.stats.gaussian_kde, which the paper used)
 *   log p(x) = logsumexp_i(-1/2 ||L^-1 (x - x_i)||^2) - log n - (d/2) log 2 pi - sum_j log L_jj,  H = L L^T
 * If S is singular (d >= n, or a collapsed generator) a ridge lambda I is added to H, starting at
 * 1e-9 trace(H)/d and growing x10 until the Cholesky factorisation succeeds; lambda is reported.
 *
 * Input: `queries` [q, d] (members and non-members alike), `synthetic` [k, d] (the generator's samples),
 * `reference` [m, d] (real images that are neither members nor non-members: the audit's test split),
 * same feature space; keep d small (the audit uses the top principal components), since KDE degrades
 * quickly with dimension. Squared distances run blocked on the tensor backend; the rest is float64.
 * Reference values: test/fixtures/domias.json (numpy, test/fixtures/generators/privacy_oracle.py).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import { disposePoints, forEachDistanceBlock, uploadPoints, type PointSet } from '../fidelity/distances.js';
import type { FeatureMatrix } from './nearest.js';

export interface GaussianKde {
  n: number;
  d: number;
  /** Points after whitening by L^-1 (centred on their mean first). */
  whitened: FeatureMatrix;
  /** Mean of the points (the whitening centre). */
  mean: Float64Array;
  /** Lower Cholesky factor of H, [d, d] row-major. */
  chol: Float64Array;
  /** Scott's factor h. */
  factor: number;
  /** Ridge added to H (0 when S was positive definite). */
  ridge: number;
  /** -log n - (d/2) log 2 pi - sum_j log L_jj. */
  logNormaliser: number;
}

/** Lower Cholesky factor of a symmetric matrix [d, d], or null when it is not positive definite. */
export function cholesky(a: Float64Array, d: number): Float64Array | null {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; k++) s -= l[j * d + k]! ** 2;
    if (!(s > 0)) return null;
    const ljj = Math.sqrt(s);
    l[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; k++) t -= l[i * d + k]! * l[j * d + k]!;
      l[i * d + j] = t / ljj;
    }
  }
  return l;
}

/** y = L^-1 (x - mean) for every row of `x` (forward substitution, float64). */
function whiten(x: FeatureMatrix, mean: Float64Array, chol: Float64Array): FeatureMatrix {
  const { n, d } = x;
  const out = new Float32Array(n * d);
  const y = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      let s = x.data[r * d + i]! - mean[i]!;
      for (let k = 0; k < i; k++) s -= chol[i * d + k]! * y[k]!;
      y[i] = s / chol[i * d + i]!;
    }
    for (let i = 0; i < d; i++) out[r * d + i] = y[i]!;
  }
  return { data: out, n, d };
}

/** Fits a Gaussian KDE with Scott's bandwidth (see the header). Needs n >= 2. */
export function fitGaussianKde(points: FeatureMatrix): GaussianKde {
  const { n, d } = points;
  assert(n >= 2 && d >= 1, () => `fitGaussianKde needs >= 2 points, got ${n} in ${d} dimensions`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += points.data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const factor = n ** (-1 / (d + 4));
  const h = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const da = points.data[i * d + a]! - mean[a]!;
      for (let b = 0; b <= a; b++) h[a * d + b]! += da * (points.data[i * d + b]! - mean[b]!);
    }
  }
  let trace = 0;
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      const v = (h[a * d + b]! / (n - 1)) * factor * factor;
      h[a * d + b] = v;
      h[b * d + a] = v;
    }
    trace += h[a * d + a]!;
  }
  let ridge = 0;
  let chol = cholesky(h, d);
  for (let lambda = Math.max(1e-9 * (trace / d), 1e-30); !chol; lambda *= 10) {
    const hr = Float64Array.from(h);
    for (let a = 0; a < d; a++) hr[a * d + a]! += lambda;
    chol = cholesky(hr, d);
    ridge = lambda;
  }
  let logDiag = 0;
  for (let a = 0; a < d; a++) logDiag += Math.log(chol[a * d + a]!);
  return {
    n,
    d,
    whitened: whiten(points, mean, chol),
    mean,
    chol,
    factor,
    ridge,
    logNormaliser: -Math.log(n) - (d / 2) * Math.log(2 * Math.PI) - logDiag,
  };
}

/** log p(x) of every query row under the KDE. */
export async function kdeLogDensity(kde: GaussianKde, queries: FeatureMatrix, opts: { blockElements?: number } = {}): Promise<Float64Array> {
  assert(queries.d === kde.d, () => `kdeLogDensity: queries have ${queries.d} columns, the KDE ${kde.d}`);
  const out = new Float64Array(queries.n);
  let q: PointSet | null = null;
  let p: PointSet | null = null;
  try {
    q = uploadPoints(whiten(queries, kde.mean, kde.chol), null);
    p = uploadPoints(kde.whitened, null);
    await forEachDistanceBlock(
      q,
      p,
      opts,
      (d2) => [tf.logSumExp(tf.mul(d2, -0.5), 1)],
      ([v], start) => {
        for (let i = 0; i < v!.length; i++) out[start + i] = v![i]! + kde.logNormaliser;
      },
    );
    return out;
  } finally {
    disposePoints(q);
    disposePoints(p);
  }
}

export interface DomiasResult {
  scores: Float64Array;
  logDensitySynthetic: Float64Array;
  logDensityReference: Float64Array;
  bandwidth: { synthetic: { factor: number; ridge: number }; reference: { factor: number; ridge: number } };
}

export async function domiasScores(
  queries: FeatureMatrix,
  synthetic: FeatureMatrix,
  reference: FeatureMatrix,
  opts: { blockElements?: number } = {},
): Promise<DomiasResult> {
  const kSyn = fitGaussianKde(synthetic);
  const kRef = fitGaussianKde(reference);
  const ls = await kdeLogDensity(kSyn, queries, opts);
  const lr = await kdeLogDensity(kRef, queries, opts);
  return {
    scores: ls.map((v, i) => v - lr[i]!),
    logDensitySynthetic: ls,
    logDensityReference: lr,
    bandwidth: { synthetic: { factor: kSyn.factor, ridge: kSyn.ridge }, reference: { factor: kRef.factor, ridge: kRef.ridge } },
  };
}
