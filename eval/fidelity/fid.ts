/**
 * FID — Fréchet distance between Gaussians fitted to real and synthetic features. Heusel et al., "GANs
 * Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017
 * (arXiv:1706.08500), Eq. (6); the closed form is Dowson & Landau, J. Multivariate Anal. 12(3), 1982.
 *
 *   FID = ||mu_r - mu_s||^2 + tr(S_r) + tr(S_s) - 2 tr( (S_r^1/2 S_s S_r^1/2)^1/2 )
 *
 * (Heusel et al. write the last term as tr((S_r S_s)^1/2); S_r S_s and S_r^1/2 S_s S_r^1/2 have the same
 * eigenvalues, so the two traces are equal.)
 * Convention: real: [N, D], synthetic: [M, D], float32, same feature extractor, N, M >= 2. mu and S are
 * the sample mean and the unbiased sample covariance (divisor n - 1, as numpy.cov). Minimise; 0 iff the
 * two fitted Gaussians are equal. Symmetric in its arguments. A biased estimate of the population FID
 * that grows as N, M shrink (Chong & Forsyth, CVPR 2020), so compare values only at equal set sizes.
 *
 * Numerics (float64 throughout). tr((S_r^1/2 S_s S_r^1/2)^1/2) = sum_i sqrt(l_i), l_i the eigenvalues of
 * the symmetric PSD matrix S_r^1/2 S_s S_r^1/2 (they equal those of S_r S_s). With S_r = Zᵀ diag(lambda) Z
 * (symmetric eigendecomposition, eigh.ts) and S_r^1/2 = Zᵀ diag(sqrt(lambda+)) Z, that matrix is
 * orthogonally similar to  diag(sqrt(lambda+)) (Z S_s Zᵀ) diag(sqrt(lambda+)),  whose eigenvalues we take
 * with a second symmetric eigensolve. Only symmetric eigenproblems occur, so a singular S_r or S_s (fewer
 * samples than dimensions, constant features) is fine: eigenvalues below 0 by round-off are clipped to 0.
 * The classic form  tr sqrtm(S_r S_s)  (scipy.linalg.sqrtm of a non-symmetric product) is what
 * pytorch-fid and TTUR compute; it agrees on well-conditioned inputs and fails (complex parts, NaN) on
 * singular ones. Reference values: test/fixtures/fidelity.json (numpy float64, both forms).
 */
import { assert } from '../../src/core/errors.js';
import { symmetricEigen } from './eigh.js';
import type { FeatureMatrix } from './matrix.js';

/** Sample mean and unbiased covariance of a feature set: the cacheable stage before the distance. */
export interface GaussianStatistics {
  n: number;
  d: number;
  /** Length d. */
  mean: Float64Array;
  /** d × d row-major, symmetric, divisor n - 1. */
  cov: Float64Array;
}

/** Rows processed per pass over the covariance accumulator (keeps the d × d matrix in cache longer). */
const ROW_CHUNK = 64;

export function gaussianStatistics(x: FeatureMatrix): GaussianStatistics {
  const { data, n, d } = x;
  assert(n >= 2, () => `gaussianStatistics needs n >= 2 rows, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + data[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  // Upper triangle of sum_i (x_i - mu)(x_i - mu)ᵀ, a chunk of centred rows at a time, stored column-major
  // in the chunk so the inner loop is a contiguous dot product.
  const cov = new Float64Array(d * d);
  const cols = new Float64Array(d * ROW_CHUNK);
  for (let start = 0; start < n; start += ROW_CHUNK) {
    const rows = Math.min(ROW_CHUNK, n - start);
    for (let r = 0; r < rows; r++) {
      const src = (start + r) * d;
      for (let j = 0; j < d; j++) cols[j * ROW_CHUNK + r] = data[src + j]! - mean[j]!;
    }
    for (let a = 0; a < d; a++) {
      const oa = a * ROW_CHUNK;
      const row = a * d;
      let b = a;
      // Four columns per pass: column a is loaded once for four dot products.
      for (; b + 3 < d; b += 4) {
        const o0 = b * ROW_CHUNK;
        const o1 = o0 + ROW_CHUNK;
        const o2 = o1 + ROW_CHUNK;
        const o3 = o2 + ROW_CHUNK;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = 0; r < rows; r++) {
          const xa = cols[oa + r]!;
          s0 += xa * cols[o0 + r]!;
          s1 += xa * cols[o1 + r]!;
          s2 += xa * cols[o2 + r]!;
          s3 += xa * cols[o3 + r]!;
        }
        cov[row + b] = cov[row + b]! + s0;
        cov[row + b + 1] = cov[row + b + 1]! + s1;
        cov[row + b + 2] = cov[row + b + 2]! + s2;
        cov[row + b + 3] = cov[row + b + 3]! + s3;
      }
      for (; b < d; b++) {
        const ob = b * ROW_CHUNK;
        let s = 0;
        for (let r = 0; r < rows; r++) s += cols[oa + r]! * cols[ob + r]!;
        cov[row + b] = cov[row + b]! + s;
      }
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { n, d, mean, cov };
}

/** Fréchet distance between N(real.mean, real.cov) and N(synthetic.mean, synthetic.cov). */
export function frechetDistance(real: GaussianStatistics, synthetic: GaussianStatistics): number {
  const d = real.d;
  assert(synthetic.d === d, () => `frechetDistance: dimensions ${d} and ${synthetic.d} differ`);
  let meanTerm = 0;
  let traces = 0;
  for (let j = 0; j < d; j++) {
    const diff = real.mean[j]! - synthetic.mean[j]!;
    meanTerm += diff * diff;
    traces += real.cov[j * d + j]! + synthetic.cov[j * d + j]!;
  }
  const cross = traceSqrtProduct(real.cov, synthetic.cov, d);
  // FID is a squared 2-Wasserstein distance, so >= 0; identical inputs give ±1e-13 round-off.
  return Math.max(0, meanTerm + traces - 2 * cross);
}

/** FID of two feature sets. */
export function fid(real: FeatureMatrix, synthetic: FeatureMatrix): number {
  return frechetDistance(gaussianStatistics(real), gaussianStatistics(synthetic));
}

/**
 * tr((A^1/2 B A^1/2)^1/2) for symmetric PSD A, B (d × d row-major), by two symmetric eigensolves
 * (see the module header).
 */
export function traceSqrtProduct(a: Float64Array, b: Float64Array, d: number): number {
  const { values, vectors } = symmetricEigen(a, d, { vectors: true });
  const z = vectors!;
  const root = Float64Array.from(values, (l) => Math.sqrt(Math.max(l, 0)));
  // m = diag(root) (Z B Zᵀ) diag(root), symmetrised.
  const zb = matMul(z, b, d); // Z B
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const oi = i * d;
    for (let j = 0; j <= i; j++) {
      const v = root[i]! * dot(zb, oi, z, j * d, d) * root[j]!; // (Z B Zᵀ)_ij, scaled
      m[oi + j] = v;
      m[j * d + i] = v;
    }
  }
  const { values: mu } = symmetricEigen(m, d, { vectors: false });
  let tr = 0;
  for (const l of mu) tr += Math.sqrt(Math.max(l, 0));
  return tr;
}

/** The PSD square root Zᵀ diag(sqrt(max(lambda, 0))) Z of a symmetric matrix (d × d row-major). */
export function psdSqrt(a: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, d, { vectors: true });
  const z = vectors!;
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const r = Math.sqrt(Math.max(values[k]!, 0));
    if (r === 0) continue;
    const ok = k * d;
    for (let i = 0; i < d; i++) {
      const zi = z[ok + i]! * r;
      const oi = i * d;
      for (let j = 0; j < d; j++) out[oi + j] = out[oi + j]! + zi * z[ok + j]!;
    }
  }
  return out;
}

/** Row-major d × d product a · b, four rows of b per pass over a row of the result. */
function matMul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const oi = i * d;
    let k = 0;
    for (; k + 3 < d; k += 4) {
      const a0 = a[oi + k]!;
      const a1 = a[oi + k + 1]!;
      const a2 = a[oi + k + 2]!;
      const a3 = a[oi + k + 3]!;
      const o0 = k * d;
      const o1 = o0 + d;
      const o2 = o1 + d;
      const o3 = o2 + d;
      for (let j = 0; j < d; j++) out[oi + j] = out[oi + j]! + a0 * b[o0 + j]! + a1 * b[o1 + j]! + a2 * b[o2 + j]! + a3 * b[o3 + j]!;
    }
    for (; k < d; k++) {
      const ak = a[oi + k]!;
      const ok = k * d;
      for (let j = 0; j < d; j++) out[oi + j] = out[oi + j]! + ak * b[ok + j]!;
    }
  }
  return out;
}

/** Dot product of x[ox .. ox+len) and y[oy .. oy+len), two accumulators. */
function dot(x: Float64Array, ox: number, y: Float64Array, oy: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < len; k += 2) {
    s0 += x[ox + k]! * y[oy + k]!;
    s1 += x[ox + k + 1]! * y[oy + k + 1]!;
  }
  if (k < len) s0 += x[ox + k]! * y[oy + k]!;
  return s0 + s1;
}
