import { describe, expect, it } from 'vitest';
import { PrivacyLedger } from '../../../src/privacy/ledger.js';
import { releaseClippedSum } from '../../../src/privacy/release.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Case {
  sigma: number;
  delta: number;
  rdpEpsilon: number;
  rdpOrder: number;
  exactEpsilon: number;
}

describe('one Gaussian release: the clipped sum', () => {
  // Hand calculation. dim 2, cells 2, units: {0, 1} (a patient with two images), {2}.
  //   image 0: (3, 0) in cell 0; image 1: (0, 4) in cell 1  -> unit 0's block vector (3, 0 | 0, 4), norm 5
  //   image 2: (0.6, 0.8) in cell 0                        -> unit 1: (0.6, 0.8 | 0, 0), norm 1
  // C = 1: unit 0 scaled by 1/5 -> (0.6, 0 | 0, 0.8); unit 1 kept.
  //   S = cell 0: (0.6 + 0.6, 0 + 0.8) = (1.2, 0.8); cell 1: (0, 0.8)
  const input = {
    vectors: Float32Array.from([3, 0, 0, 4, 0.6, 0.8]),
    dim: 2,
    levels: [{ cellOf: Int32Array.from([0, 1, 0]), weight: 1 }],
    cells: 2,
    unitOf: Int32Array.from([0, 0, 1]),
  };

  it('sums each unit clipped to C over cells, by hand', () => {
    const r = releaseClippedSum(input, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
    expect(Array.from(r.sum)).toEqual([1.2, 0.8, 0, 0.8].map((x) => Math.fround(x)));
    expect(r.clippedShare).toBe(0.5);
  });

  it('clips a unit as a whole, not image by image', () => {
    // Image units: image 0 -> (1, 0), image 1 -> (0, 1), image 2 unchanged: cell 0 (1.6, 0.8), cell 1 (0, 1).
    const r = releaseClippedSum({ ...input, unitOf: null }, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
    expect(Array.from(r.sum)).toEqual([1.6, 0.8, 0, 1].map((x) => Math.fround(x)));
    expect(r.clippedShare).toBeCloseTo(2 / 3, 12);
  });

  it('adds each image to one cell per level with its weight, and clips a unit over all levels', () => {
    // Hand calculation. dim 2; cells 0, 1 (level 1, weight β = 0.8) and 2 (level 2, e.g. their class, weight α = 0.6).
    //   image 0: (0.6, 0.8) in cells 0 and 2; image 1: (1, 0) in cells 1 and 2; α² + β² = 1.
    // Image units (norm sqrt(0.64 + 0.36) = 1 each, not clipped):
    //   cell 0: 0.8 (0.6, 0.8) = (0.48, 0.64); cell 1: (0.8, 0); cell 2: 0.6 (1.6, 0.8) = (0.96, 0.48).
    const two = {
      vectors: Float32Array.from([0.6, 0.8, 1, 0]),
      dim: 2,
      levels: [
        { cellOf: Int32Array.from([0, 1]), weight: 0.8 },
        { cellOf: Int32Array.from([2, 2]), weight: 0.6 },
      ],
      cells: 3,
      unitOf: null,
    };
    const images = releaseClippedSum(two, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
    [0.48, 0.64, 0.8, 0, 0.96, 0.48].forEach((x, k) => expect(images.sum[k]).toBeCloseTo(x, 6));
    expect(images.clippedShare).toBe(0);
    // One patient with both images: the block vector above has norm sqrt(2.432) = 1.55949, so every entry is divided by it.
    const patient = releaseClippedSum({ ...two, unitOf: Int32Array.from([0, 0]) }, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
    [0.48, 0.64, 0.8, 0, 0.96, 0.48].forEach((x, k) => expect(patient.sum[k]).toBeCloseTo(x / Math.sqrt(2.432), 6));
    expect(patient.clippedShare).toBe(1);
  });

  it('adds N(0, (σC)²) noise: mean 0 and std σC within sampling error, same seed same bytes', () => {
    const dim = 20000;
    const zero = { vectors: new Float32Array(dim), dim, levels: [{ cellOf: Int32Array.from([0]), weight: 1 }], cells: 1, unitOf: null };
    const r = releaseClippedSum(zero, { clipNorm: 0.5, noiseMultiplier: 3, seed: 11 });
    const n = r.sum.length;
    const mean = r.sum.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(r.sum.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    // σC = 1.5; the standard error of the mean is 1.5/sqrt(20000) = 0.0106, of the sd about 1.5/sqrt(40000) = 0.0075.
    expect(Math.abs(mean)).toBeLessThan(0.045);
    expect(Math.abs(sd - 1.5)).toBeLessThan(0.03);
    const again = releaseClippedSum(zero, { clipNorm: 0.5, noiseMultiplier: 3, seed: 11 });
    expect(Buffer.from(again.sum.buffer).equals(Buffer.from(r.sum.buffer))).toBe(true);
    const other = releaseClippedSum(zero, { clipNorm: 0.5, noiseMultiplier: 3, seed: 12 });
    expect(Buffer.from(other.sum.buffer).equals(Buffer.from(r.sum.buffer))).toBe(false);
  });
});

describe('one Gaussian release: its epsilon', () => {
  const fx = loadFixture<{ cases: Case[] }>('gaussian-release');

  it('RDP: one step at q = 1 is the hand-calculated Gaussian mechanism', () => {
    for (const c of fx.cases) {
      const e = new PrivacyLedger('rdp', c.sigma, 1, c.delta).epsilon(1);
      expect(e.epsilon).toBeCloseTo(c.rdpEpsilon, 9);
      expect(e.order).toBe(c.rdpOrder);
      // RDP is an upper bound on the tight value, and not a loose one.
      expect(e.epsilon).toBeGreaterThanOrEqual(c.exactEpsilon);
      expect(e.epsilon).toBeLessThan(c.exactEpsilon * 1.12);
    }
  });

  it('PRV: one step at q = 1 matches the exact analytic Gaussian mechanism (Balle & Wang 2018)', () => {
    for (const c of fx.cases) {
      const e = new PrivacyLedger('prv', c.sigma, 1, c.delta).epsilon(1);
      expect(Math.abs(e.epsilon - c.exactEpsilon) / c.exactEpsilon).toBeLessThan(0.01);
    }
  });
});
