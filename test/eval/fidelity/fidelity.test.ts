/**
 * `fidelity()`, the entry point `medsynth evaluate` and `medsynth metrics` call: all metrics on one pair
 * of sets, nulls with reasons for sets too small for a metric, and one-line user errors for bad input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FIDELITY_METRICS, fidelity } from '../../../eval/fidelity/index.js';
import { initBackend } from '../../../src/backend/index.js';
import { ConfigError, DatasetError } from '../../../src/core/errors.js';
import { expectNoTensorLeak, fixtureCase, gaussian } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('fidelity()', () => {
  it('reports FID, KID and PRDC with the oracle values, the settings and the time per metric', async () => {
    const c = fixtureCase('gaussian-200x16-180x16');
    const r = await fidelity(c.x, c.y, { kidSubsets: 10, kidSubsetSize: 50 });
    expect(Math.abs(r.fid! - c.fid) / c.fid).toBeLessThan(1e-10);
    const ref = c.prdc.find((p) => p.k === 5)!;
    expect([r.precision, r.recall, r.density, r.coverage]).toEqual([ref.precision, ref.recall, ref.density, ref.coverage]);
    expect(r.kid!.mean).toBeGreaterThan(0);
    expect(r.kid!.std).toBeGreaterThan(0);
    expect(r.skipped).toEqual([]);
    expect(r.settings).toEqual({ k: 5, kidSubsets: 10, kidSubsetSize: { real: 50, synthetic: 50 }, seed: 2020 });
    expect(r.n).toEqual({ real: 200, synthetic: 180 });
    expect(r.seconds.fid + r.seconds.kid + r.seconds.prdc).toBeGreaterThan(0);
    // Same seed, same KID; another seed, another draw.
    const again = await fidelity(c.x, c.y, { kidSubsets: 10, kidSubsetSize: 50 });
    const other = await fidelity(c.x, c.y, { kidSubsets: 10, kidSubsetSize: 50, seed: 7 });
    expect(again.kid).toEqual(r.kid);
    expect(other.kid!.mean).not.toBe(r.kid!.mean);
  });

  it('works on small per-class subsets: null with a reason where a metric needs more samples', async () => {
    const r = await fidelity(gaussian(4, 8, 1), gaussian(3, 8, 2));
    expect(r.fid).toBeGreaterThan(0);
    expect(r.kid).not.toBeNull();
    expect(r.settings.kidSubsetSize).toEqual({ real: 4, synthetic: 3 });
    expect([r.precision, r.recall, r.density, r.coverage]).toEqual([null, null, null, null]);
    expect(r.skipped).toEqual([{ metric: 'prdc', reason: expect.stringMatching(/at least k \+ 1 = 6 samples.*got 4 real and 3 synthetic/) }]);
    const one = await fidelity(gaussian(1, 8, 1), gaussian(30, 8, 2), { k: 2 });
    expect(one.fid).toBeNull();
    expect(one.kid).toBeNull();
    expect(one.skipped.map((s) => s.metric)).toEqual(['fid', 'kid', 'prdc']);
  });

  it('refuses NaN, mismatched dimensions and bad options with one-line user errors', async () => {
    const x = gaussian(20, 4, 1);
    const bad = { ...x, data: Float32Array.from(x.data) };
    bad.data[2 * 4 + 1] = NaN;
    await expect(fidelity(x, bad, { names: { real: 'a.npy', synthetic: 'b.npy' } })).rejects.toThrow(
      new DatasetError('b.npy: row 3, column 2 is NaN; features must be finite numbers (check the feature extractor)'),
    );
    await expect(fidelity(x, gaussian(20, 5, 2))).rejects.toThrow(/synthetic features has 5 features per row but real features has 4/);
    await expect(fidelity(x, x, { k: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(fidelity(x, { n: 2, d: 4, data: new Float32Array(7) })).rejects.toBeInstanceOf(DatasetError);
  });

  it('declares each metric for the report, and leaks no tensors', async () => {
    expect(FIDELITY_METRICS.map((m) => m.name)).toEqual(['fid', 'kid', 'precision', 'recall', 'density', 'coverage']);
    await expectNoTensorLeak(() => fidelity(gaussian(60, 6, 3), gaussian(50, 6, 4), { kidSubsets: 4, kidSubsetSize: 20 }));
  });
});
