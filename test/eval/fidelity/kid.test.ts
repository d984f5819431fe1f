/**
 * KID against numpy float64 MMD²_u on the oracle's fixed subsets, the biased estimator differing from the
 * unbiased one, seeded subset draws (same seed, same subsets; without replacement), batching that does
 * not change the values, small sets, and no tensor growth.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { drawKidSubsets, kid, kidOnSubsets, kidUnavailable, mmdSquared, type KidSubset } from '../../../eval/fidelity/kid.js';
import { initBackend } from '../../../src/backend/index.js';
import { expectNoTensorLeak, fixture, fixtureCase, gaussian, pick } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const c = fixtureCase('gaussian-200x16-180x16');
const oracleSubsets: KidSubset[] = fixture.kid.subsets.map((s) => ({ real: Int32Array.from(s.real), synthetic: Int32Array.from(s.synthetic) }));

describe('KID against the numpy oracle', () => {
  it('matches MMD²_u on each fixed subset pair (60 real, 50 synthetic), and their mean and std', async () => {
    const values = await kidOnSubsets(c.x, c.y, oracleSubsets);
    values.forEach((v, i) => expect(Math.abs(v - fixture.kid.values[i]!)).toBeLessThan(2e-6 * Math.max(1, Math.abs(fixture.kid.values[i]!))));
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(mean).toBeCloseTo(fixture.kid.mean, 6);
    expect(std).toBeCloseTo(fixture.kid.std, 6);
  });

  it('matches on whole sets and on two halves of the real set (near 0, negative: unbiased)', async () => {
    const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    const [whole] = await kidOnSubsets(c.x, c.y, [{ real: all(200), synthetic: all(180) }]);
    expect(whole).toBeCloseTo(fixture.kid.wholeSets, 6);
    const first = pick(c.x, all(100));
    const second = pick(c.x, Int32Array.from({ length: 100 }, (_, i) => 100 + i));
    const [halves] = await kidOnSubsets(first, second, [{ real: all(100), synthetic: all(100) }]);
    expect(halves).toBeCloseTo(fixture.kid.realHalves, 6);
    expect(halves!).toBeLessThan(0);
  });

  it('tells the biased V-statistic from the unbiased U-statistic', () => {
    // Both from the oracle: the biased one is larger here by the diagonal terms.
    fixture.kid.values.forEach((u, i) => expect(fixture.kid.biasedValues[i]! - u).toBeGreaterThan(0.01));
    const sums = { m: 2, n: 2, xx: 10, xxDiag: 6, yy: 8, yyDiag: 4, xy: 12 };
    expect(mmdSquared(sums)).toBeCloseTo(4 / 2 + 4 / 2 - 24 / 4, 14); // = -2
    expect(mmdSquared(sums, 'biased')).toBeCloseTo(10 / 4 + 8 / 4 - 24 / 4, 14); // = -1.5
  });
});

describe('KID subsets and batching', () => {
  it('draws the same subsets for the same seed, other subsets for another, each without replacement', () => {
    const a = drawKidSubsets(50, 40, { subsets: 20, subsetSize: 30, seed: 1 });
    const b = drawKidSubsets(50, 40, { subsets: 20, subsetSize: 30, seed: 1 });
    const other = drawKidSubsets(50, 40, { subsets: 20, subsetSize: 30, seed: 2 });
    expect(a.map((s) => Array.from(s.real))).toEqual(b.map((s) => Array.from(s.real)));
    expect(a.map((s) => Array.from(s.synthetic))).not.toEqual(other.map((s) => Array.from(s.synthetic)));
    for (const s of a) {
      expect(new Set(s.real).size).toBe(30);
      expect(new Set(s.synthetic).size).toBe(30);
      expect(Math.max(...s.synthetic)).toBeLessThan(40);
    }
    // Subset size is capped at each set's size.
    const capped = drawKidSubsets(7, 12, { subsets: 2, subsetSize: 10 });
    expect(capped[0]!.real.length).toBe(7);
    expect(capped[0]!.synthetic.length).toBe(10);
  });

  it('gives the same values whatever the number of subsets per backend batch', async () => {
    const subsets = drawKidSubsets(200, 180, { subsets: 9, subsetSize: 40, seed: 3 });
    const one = await kidOnSubsets(c.x, c.y, subsets, { batchElements: 1 }); // one subset per batch
    const all = await kidOnSubsets(c.x, c.y, subsets, { batchElements: 1 << 24 }); // all nine at once
    one.forEach((v, i) => expect(Math.abs(v - all[i]!)).toBeLessThan(1e-9));
  });

  it('is ≈ 0 for one distribution and larger for a shifted one; small sets work; no tensor growth', async () => {
    const x = gaussian(400, 12, 1);
    const same = await kid(x, gaussian(400, 12, 2), { subsets: 20, subsetSize: 100 });
    const moved = await kid(x, gaussian(400, 12, 3, 0.5), { subsets: 20, subsetSize: 100 });
    expect(Math.abs(same.mean)).toBeLessThan(3 * same.std + 1e-3);
    expect(moved.mean).toBeGreaterThan(10 * Math.abs(same.mean));
    const tiny = await kid(gaussian(3, 4, 4), gaussian(2, 4, 5), { subsets: 5 });
    expect(tiny.subsetSize).toEqual({ real: 3, synthetic: 2 });
    expect(Number.isFinite(tiny.mean)).toBe(true);
    expect(kidUnavailable(1, 5)).toMatch(/at least 2 samples/);
    await expectNoTensorLeak(() => kid(c.x, c.y, { subsets: 3, subsetSize: 50 }));
  });
});
