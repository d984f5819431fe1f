import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { clipAndNoise, clipFactors } from '../../../src/privacy/clip-noise.js';
import { poissonSample, privacyUnits } from '../../../src/privacy/poisson.js';

describe('Poisson sampling of privacy units', () => {
  it('includes each unit with probability q, so batch sizes vary (Binomial mean and variance)', () => {
    const units = privacyUnits(1000, 'image');
    const rng = new Rng(3);
    const sizes = Array.from({ length: 400 }, () => poissonSample(units, 0.05, rng).length);
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    const variance = sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / (sizes.length - 1);
    expect(Math.abs(mean - 50)).toBeLessThan(5 * Math.sqrt(47.5 / 400));
    expect(variance).toBeGreaterThan(47.5 * 0.7);
    expect(variance).toBeLessThan(47.5 * 1.3);
    expect(new Set(sizes).size).toBeGreaterThan(10);
  });

  it('groups a patient\'s images into one unit', () => {
    const u = privacyUnits(5, 'patient', ['A', 'B', 'A', 'C', 'A']);
    expect(u.members).toEqual([[0, 2, 4], [1], [3]]);
    expect(() => privacyUnits(5, 'patient')).toThrow(/patient_id/);
  });
});

describe('clip and noise', () => {
  it('clips each unit to norm C: a patient with 3 images contributes at most C', () => {
    // Three images of one patient, each with gradient (3, 4) (norm 5): summed within the unit, (9, 12), norm 15.
    const unit = new Float32Array([9, 12]);
    const out = clipAndNoise([unit], { clipNorm: 1, noiseMultiplier: 0, expectedBatch: 1, rng: new Rng(1), dim: 2 });
    expect(Math.hypot(out[0]!, out[1]!)).toBeCloseTo(1, 6);
    expect(out[0]! / out[1]!).toBeCloseTo(0.75, 6); // direction kept
    expect(Array.from(clipFactors([0.25, 4], 1))).toEqual([1, 0.5]); // small gradients are not scaled up
  });

  it('adds noise with standard deviation sigma * C (fixed seed, 5-sigma band on the sample std)', () => {
    const dim = 200_000;
    const out = clipAndNoise([new Float32Array(dim)], { clipNorm: 0.5, noiseMultiplier: 1.3, expectedBatch: 1, rng: new Rng(11), dim });
    let s = 0;
    let ss = 0;
    for (const v of out) {
      s += v;
      ss += v * v;
    }
    const mean = s / dim;
    const sd = Math.sqrt(ss / dim - mean * mean);
    const expected = 1.3 * 0.5;
    expect(Math.abs(mean)).toBeLessThan((5 * expected) / Math.sqrt(dim));
    expect(Math.abs(sd - expected)).toBeLessThan(5 * expected / Math.sqrt(2 * dim));
  });

  it('divides by the expected batch size, not the realised one', () => {
    const g = [new Float32Array([0.2, 0]), new Float32Array([0.2, 0])];
    const out = clipAndNoise(g, { clipNorm: 1, noiseMultiplier: 0, expectedBatch: 4, rng: new Rng(1), dim: 2 });
    expect(out[0]).toBeCloseTo(0.1, 7);
  });
});
