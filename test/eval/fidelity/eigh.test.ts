/**
 * The symmetric eigensolver FID relies on: A v = λ v, orthonormal vectors, ascending values, exact cases
 * by hand, singular and repeated spectra, and eigenvalues without vectors equal to those with.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { symmetricEigen } from '../../../eval/fidelity/eigh.js';
import { Rng } from '../../../src/core/rng.js';

function randomSymmetric(d: number, seed: number, rank = d): Float64Array {
  // B Bᵀ with B d × rank, plus a random symmetric part when full rank (indefinite).
  const rng = new Rng(seed);
  const b = Float64Array.from({ length: d * rank }, () => rng.normal());
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < rank; k++) a[i * d + j] += b[i * rank + k]! * b[j * rank + k]!;
  if (rank === d) {
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) { const v = rng.normal() * 3; a[i * d + j] -= v; if (i !== j) a[j * d + i] -= v; }
  }
  return a;
}

/** max |A v - λ v| and max |V Vᵀ - I|, relative to ||A||_max. */
function residuals(a: Float64Array, d: number) {
  const { values, vectors } = symmetricEigen(a, d);
  const v = vectors!;
  let scale = 1e-300;
  for (const x of a) scale = Math.max(scale, Math.abs(x));
  let res = 0;
  let orth = 0;
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += a[i * d + j]! * v[k * d + j]!;
      res = Math.max(res, Math.abs(av - values[k]! * v[k * d + i]!) / scale);
    }
    for (let l = 0; l < d; l++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += v[k * d + j]! * v[l * d + j]!;
      orth = Math.max(orth, Math.abs(dot - (k === l ? 1 : 0)));
    }
  }
  return { values, res, orth };
}

describe('symmetricEigen', () => {
  it('solves small cases by hand', () => {
    expect(Array.from(symmetricEigen(Float64Array.of(7), 1).values)).toEqual([7]);
    const two = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(two.values[0]).toBeCloseTo(1, 14);
    expect(two.values[1]).toBeCloseTo(3, 14);
    expect(Math.abs(two.vectors![2]!)).toBeCloseTo(Math.SQRT1_2, 14); // (1, 1)/√2 for λ = 3
    // diag(3, -1, 0) stays diagonal; zero matrix gives zeros.
    expect(Array.from(symmetricEigen(Float64Array.of(3, 0, 0, 0, -1, 0, 0, 0, 0), 3).values)).toEqual([-1, 0, 3]);
    expect(Array.from(symmetricEigen(new Float64Array(16), 4).values)).toEqual([0, 0, 0, 0]);
    // The 3 × 3 second-difference matrix: 2 - 2cos(kπ/4), k = 1..3.
    const t = symmetricEigen(Float64Array.of(2, -1, 0, -1, 2, -1, 0, -1, 2), 3).values;
    [1, 2, 3].forEach((k, i) => expect(t[i]).toBeCloseTo(2 - 2 * Math.cos((k * Math.PI) / 4), 14));
  });

  it('satisfies A v = λ v with orthonormal vectors on random matrices (full rank, low rank, repeated)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 2 }), (d, seed, kind) => {
        const rank = kind === 0 ? d : kind === 1 ? Math.max(1, Math.floor(d / 3)) : 1;
        const { values, res, orth } = residuals(randomSymmetric(d, seed, rank), d);
        expect(res).toBeLessThan(1e-12);
        expect(orth).toBeLessThan(1e-12);
        for (let i = 1; i < d; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('gives the same eigenvalues without vectors, and handles the identity (all eigenvalues equal)', () => {
    const d = 30;
    const a = randomSymmetric(d, 3);
    const withV = symmetricEigen(a, d).values;
    const without = symmetricEigen(a, d, { vectors: false });
    expect(without.vectors).toBeNull();
    for (let i = 0; i < d; i++) expect(Math.abs(without.values[i]! - withV[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(withV[i]!)));
    const eye = new Float64Array(d * d);
    for (let i = 0; i < d; i++) eye[i * d + i] = 1;
    const r = residuals(eye, d);
    expect(Array.from(r.values).every((v) => v === 1)).toBe(true);
    expect(r.orth).toBeLessThan(1e-15);
  });

  it('does not modify its input', () => {
    const a = randomSymmetric(12, 5);
    const copy = Float64Array.from(a);
    symmetricEigen(a, 12);
    expect(Array.from(a)).toEqual(Array.from(copy));
  });
});
