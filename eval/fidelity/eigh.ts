/**
 * Eigendecomposition of a real symmetric matrix in float64: A = Qᵀ diag(λ) Q, where the rows of Q are
 * orthonormal eigenvectors (row i belongs to λ_i). medsynth's one symmetric eigensolver: FID takes the
 * square root of a covariance matrix with it, PCA (eval/features/pca.ts) its Rayleigh-Ritz step. d is at
 * most a few thousand, so plain JS loops suffice.
 * Convention: eigenvalues ascending; vectors row-major with row i the eigenvector of values[i] (a caller
 * that wants the largest first reads from the end).
 *
 * Method (Golub & Van Loan, "Matrix Computations", 4th ed., Sec. 8.3):
 *   1. Householder tridiagonalisation (Alg. 8.3.1): for k = 0..d-3 a reflector H_k = I - β v vᵀ zeroes
 *      column k below the subdiagonal, A ← H_k A H_k, applied as the symmetric rank-2 update
 *      A ← A - v wᵀ - w vᵀ with p = β A v, w = p - (β pᵀv / 2) v.  Then A = U T Uᵀ, U = H_0 H_1 … H_{d-3}.
 *   2. Implicit symmetric QR steps with the Wilkinson shift (Alg. 8.3.2) on each unreduced block of T,
 *      with deflation when |e_i| ≤ ε (|a_i| + |a_{i+1}|) (Alg. 8.3.3). Each Givens rotation J in the plane
 *      (i, i+1) maps T ← Jᵀ T J and chases the bulge down the band; the rotations are accumulated into U.
 * Cost: about 9 d³ flops with vectors, 4/3 d³ without. Accuracy: backward stable, |λ_i - λ̂_i| ≲ c ε ||A||.
 * Input: a row-major d × d Float64Array, symmetric (only its symmetry is assumed, not checked); it is
 * not modified. Eigenvalues are returned in ascending order.
 */
import { assert } from '../../src/core/errors.js';

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** d × d row-major; row i is the unit eigenvector of values[i]. Null when not asked for. */
  vectors: Float64Array | null;
}

export function symmetricEigen(a: Float64Array, d: number, opts: { vectors?: boolean } = {}): SymmetricEigen {
  assert(a.length === d * d, () => `symmetricEigen: ${a.length} entries for a ${d} × ${d} matrix`);
  const wantVectors = opts.vectors ?? true;
  if (d === 0) return { values: new Float64Array(0), vectors: wantVectors ? new Float64Array(0) : null };
  const diag = new Float64Array(d);
  const off = new Float64Array(d); // off[i] couples i and i+1; off[d-1] unused
  const u = tridiagonalize(a, d, diag, off, wantVectors);
  // Z = Uᵀ: row i of Z is column i of U, so each rotation touches two contiguous rows.
  const z = u ? transpose(u, d) : null;
  implicitQr(diag, off, d, z);
  // Sort ascending, carrying the vectors along.
  const order = Array.from(diag.keys()).sort((i, j) => diag[i]! - diag[j]!);
  const values = Float64Array.from(order, (i) => diag[i]!);
  let vectors: Float64Array | null = null;
  if (z) {
    vectors = new Float64Array(d * d);
    order.forEach((src, dst) => vectors!.set(z.subarray(src * d, src * d + d), dst * d));
  }
  return { values, vectors };
}

/** Householder reduction to tridiagonal form; returns U (row-major) when accumulating, else null. */
function tridiagonalize(a0: Float64Array, d: number, diag: Float64Array, off: Float64Array, accumulate: boolean): Float64Array | null {
  const a = Float64Array.from(a0);
  const reflectors: { v: Float64Array; beta: number }[] = [];
  const p = new Float64Array(d);
  for (let k = 0; k < d - 2; k++) {
    const m = d - k - 1; // length of the column below the diagonal
    const v = new Float64Array(m);
    let norm2 = 0;
    for (let i = 0; i < m; i++) {
      const x = a[k * d + k + 1 + i]!; // row k equals column k: contiguous
      v[i] = x;
      norm2 += x * x;
    }
    diag[k] = a[k * d + k]!;
    const x0 = v[0]!;
    // Already zero below the subdiagonal: H_k = I.
    if (norm2 - x0 * x0 === 0) {
      off[k] = x0;
      reflectors.push({ v, beta: 0 });
      continue;
    }
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2); // sign avoids cancellation in v0
    v[0] = x0 - alpha;
    const vtv = norm2 - x0 * x0 + v[0]! * v[0]!;
    const beta = 2 / vtv;
    off[k] = alpha;
    // p = β A22 v over the trailing block A22 = A[k+1:, k+1:].
    let ptv = 0;
    for (let i = 0; i < m; i++) {
      const row = (k + 1 + i) * d + k + 1;
      let s = 0;
      for (let j = 0; j < m; j++) s += a[row + j]! * v[j]!;
      p[i] = beta * s;
      ptv += p[i]! * v[i]!;
    }
    const kk = (beta * ptv) / 2;
    for (let i = 0; i < m; i++) p[i] = p[i]! - kk * v[i]!; // p is now w
    for (let i = 0; i < m; i++) {
      const row = (k + 1 + i) * d + k + 1;
      const vi = v[i]!;
      const wi = p[i]!;
      for (let j = 0; j < m; j++) a[row + j] = a[row + j]! - vi * p[j]! - wi * v[j]!;
    }
    reflectors.push({ v, beta });
  }
  if (d >= 2) {
    diag[d - 2] = a[(d - 2) * d + d - 2]!;
    off[d - 2] = a[(d - 1) * d + d - 2]!;
  }
  diag[d - 1] = a[(d - 1) * d + d - 1]!;
  if (!accumulate) return null;
  // U = H_0 … H_{d-3}, built backwards: U ← H_k U touches rows and columns k+1.. only.
  const u = new Float64Array(d * d);
  for (let i = 0; i < d; i++) u[i * d + i] = 1;
  const t = new Float64Array(d);
  for (let k = reflectors.length - 1; k >= 0; k--) {
    const { v, beta } = reflectors[k]!;
    if (beta === 0) continue;
    const m = v.length;
    const c0 = k + 1;
    t.fill(0, c0);
    for (let i = 0; i < m; i++) {
      const row = (c0 + i) * d;
      const vi = v[i]!;
      if (vi === 0) continue;
      for (let j = c0; j < d; j++) t[j] = t[j]! + vi * u[row + j]!;
    }
    for (let i = 0; i < m; i++) {
      const row = (c0 + i) * d;
      const bv = beta * v[i]!;
      for (let j = c0; j < d; j++) u[row + j] = u[row + j]! - bv * t[j]!;
    }
  }
  return u;
}

/**
 * Implicit QR with Wilkinson shifts on the tridiagonal (diag, off); rotations applied to the rows of z.
 * On return diag holds the eigenvalues (unordered) and off is zero.
 */
function implicitQr(diag: Float64Array, off: Float64Array, d: number, z: Float64Array | null): void {
  const eps = Number.EPSILON;
  const negligible = (i: number): boolean =>
    Math.abs(off[i]!) <= eps * (Math.abs(diag[i]!) + Math.abs(diag[i + 1]!)) || Math.abs(off[i]!) < Number.MIN_VALUE * 1e10;
  let hi = d - 1;
  let iterations = 0;
  const maxIterations = 50 * Math.max(d, 1);
  while (hi > 0) {
    if (negligible(hi - 1)) {
      off[hi - 1] = 0;
      hi--;
      continue;
    }
    let lo = hi - 1;
    while (lo > 0 && !negligible(lo - 1)) lo--;
    if (lo > 0) off[lo - 1] = 0;
    assert(++iterations <= maxIterations, () => `symmetricEigen: no convergence after ${maxIterations} QR steps (d = ${d})`);
    qrStep(diag, off, lo, hi, d, z);
  }
}

/** One implicit symmetric QR step with Wilkinson shift on the unreduced block lo..hi (G&VL Alg. 8.3.2). */
function qrStep(diag: Float64Array, off: Float64Array, lo: number, hi: number, d: number, z: Float64Array | null): void {
  // Shift: the eigenvalue of the trailing 2 × 2 block closer to its last diagonal entry.
  const delta = (diag[hi - 1]! - diag[hi]!) / 2;
  const b2 = off[hi - 1]! * off[hi - 1]!;
  const sign = delta >= 0 ? 1 : -1;
  const mu = diag[hi]! - b2 / (delta + sign * Math.hypot(delta, off[hi - 1]!));
  let x = diag[lo]! - mu;
  let y = off[lo]!;
  for (let k = lo; k < hi; k++) {
    // J = [[c, -s], [s, c]] in the plane (k, k+1), with Jᵀ (x, y) = (r, 0).
    const r = Math.hypot(x, y);
    const c = r === 0 ? 1 : x / r;
    const s = r === 0 ? 0 : y / r;
    if (k > lo) off[k - 1] = r; // the bulge at (k-1, k+1) is absorbed
    const ak = diag[k]!;
    const bk = off[k]!;
    const ak1 = diag[k + 1]!;
    diag[k] = c * c * ak + 2 * c * s * bk + s * s * ak1;
    diag[k + 1] = s * s * ak - 2 * c * s * bk + c * c * ak1;
    off[k] = c * s * (ak1 - ak) + (c * c - s * s) * bk;
    if (k + 1 < hi) {
      const next = off[k + 1]!;
      y = s * next; // new bulge at (k, k+2)
      off[k + 1] = c * next;
      x = off[k]!;
    }
    if (z) {
      const rk = k * d;
      const rk1 = (k + 1) * d;
      for (let j = 0; j < d; j++) {
        const p = z[rk + j]!;
        const q = z[rk1 + j]!;
        z[rk + j] = c * p + s * q;
        z[rk1 + j] = -s * p + c * q;
      }
    }
  }
}

function transpose(m: Float64Array, d: number): Float64Array {
  const t = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) t[j * d + i] = m[i * d + j]!;
  return t;
}
