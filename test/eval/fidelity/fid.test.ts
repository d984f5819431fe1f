/**
 * FID against numpy float64 references (test/fixtures/fidelity.json), the hand-checkable 1-D case, and
 * properties: identical sets give 0, symmetry, translation invariance, a mean shift adds ||δ||², and the
 * PSD square root squares back.
 */
import { describe, expect, it } from 'vitest';
import { fid, frechetDistance, gaussianStatistics, psdSqrt } from '../../../eval/fidelity/fid.js';
import { fixture, fixtureCase, gaussian, matrix } from './helpers.js';

describe('FID against the numpy oracle', () => {
  it('matches on correlated Gaussians (200×16 vs 180×16)', () => {
    const c = fixtureCase('gaussian-200x16-180x16');
    expect(Math.abs(fid(c.x, c.y) - c.fid) / c.fid).toBeLessThan(1e-10);
    // The oracle's classic eig(S_r S_s) form agrees on this well-conditioned case.
    expect(Math.abs(c.fidProductForm - c.fid) / c.fid).toBeLessThan(1e-10);
  });

  it('matches on singular covariances (10 and 12 samples in 16-d, one constant feature)', () => {
    const c = fixtureCase('rank-deficient-10x16-12x16');
    const got = fid(c.x, c.y);
    expect(Number.isFinite(got)).toBe(true);
    // Zero eigenvalues of S_r^1/2 S_s S_r^1/2 come out as ±ε||M||, and their square roots as ~1e-8: that
    // floor is shared by every float64 method (the oracle's two forms differ by 1.2e-9 relative here).
    expect(Math.abs(got - c.fid) / c.fid).toBeLessThan(1e-7);
  });

  it('gives 22 - 4√2 for real {0, 2} vs synthetic {3, 5, 7} (1-D, by hand)', () => {
    const got = fid(matrix(fixture.hand.real), matrix(fixture.hand.synthetic));
    expect(got).toBeCloseTo(22 - 4 * Math.SQRT2, 12);
    expect(got).toBeCloseTo(fixture.hand.fid, 12);
  });
});

describe('FID properties', () => {
  const x = gaussian(300, 8, 1);
  const y = gaussian(250, 8, 2, 0.3, 1.4);

  it('is 0 for identical sets (and for a singular set against itself)', () => {
    expect(fid(x, x)).toBeLessThan(1e-10);
    const small = gaussian(5, 8, 3); // rank 4 covariance
    expect(fid(small, small)).toBeLessThan(1e-6);
  });

  it('is symmetric and translation-invariant', () => {
    const a = fid(x, y);
    expect(fid(y, x)).toBeCloseTo(a, 10);
    const shift = (m: typeof x, c: number) => ({ ...m, data: m.data.map((v) => v + c) });
    expect(fid(shift(x, 2.5), shift(y, 2.5))).toBeCloseTo(a, 4); // float32 inputs: shifted values round differently
  });

  it('adds ||δ||² for a mean shift δ of one set', () => {
    const sx = gaussianStatistics(x);
    const moved = { ...sx, mean: sx.mean.map((v, j) => v + (j === 0 ? 3 : j === 1 ? -4 : 0)) };
    expect(frechetDistance(sx, moved)).toBeCloseTo(25, 9);
  });

  it('takes PSD square roots that square back, singular included', () => {
    const s = gaussianStatistics(gaussian(5, 8, 4)).cov; // rank 4
    const r = psdSqrt(s, 8);
    let err = 0;
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        let v = 0;
        for (let k = 0; k < 8; k++) v += r[i * 8 + k]! * r[k * 8 + j]!;
        err = Math.max(err, Math.abs(v - s[i * 8 + j]!));
      }
    }
    expect(err).toBeLessThan(1e-10);
  });
});
