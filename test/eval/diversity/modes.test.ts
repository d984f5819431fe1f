import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assignNearest,
  binCounts,
  erfc,
  fitModes,
  intraClassDistances,
  kmeans,
  kmeansPlusPlusInit,
  lloyd,
  meanPairwiseDistance,
  ndb,
  occupancy,
  type Features,
} from '../../../eval/diversity/modes.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Bin { real: number; other: number; z: number; p: number; different: boolean }
interface Fixture {
  real: { n: number; d: number; data: number[] };
  synthetic: { n: number; d: number; data: number[] };
  lloyd: { initRows: number[]; k: number; centroids: number[]; assign: number[]; inertia: number; iterations: number };
  realCounts: number[];
  syntheticCounts: number[];
  ndb: Bin[];
  countCases: { real: number[]; other: number[]; bins: Bin[] }[];
  mpd: { real: number; synthetic: number; realFirst5: number };
  erfc: { x: number; erfc: number }[];
}
const fx = loadFixture<Fixture>('modes');
const feats = (f: { n: number; d: number; data: number[] }): Features => ({ data: Float32Array.from(f.data), n: f.n, d: f.d });
const real = feats(fx.real);
const syn = feats(fx.synthetic);

function expectBins(got: Bin[], want: Bin[]) {
  expect(got).toHaveLength(want.length);
  got.forEach((b, j) => {
    const w = want[j]!;
    expect([b.real, b.other, b.different]).toEqual([w.real, w.other, w.different]);
    expect(b.z).toBeCloseTo(w.z, 10);
    expect(b.p).toBeCloseTo(w.p, 12);
    expect(Math.abs(b.p - w.p)).toBeLessThanOrEqual(1e-12 * Math.max(w.p, 1e-300) + 1e-300);
  });
}

describe('k-means, NDB and pairwise distance against the numpy oracle', () => {
  it("Lloyd's iterations from a fixed start give numpy's centres, labels and inertia", () => {
    const { initRows, k } = fx.lloyd;
    const init = new Float64Array(k * real.d);
    initRows.forEach((r, j) => init.set(real.data.subarray(r * real.d, (r + 1) * real.d), j * real.d));
    const km = lloyd(real, init, k);
    expect(km.converged).toBe(true);
    expect(km.iterations).toBe(fx.lloyd.iterations);
    expect(Array.from(km.assign)).toEqual(fx.lloyd.assign);
    km.centroids.forEach((v, i) => expect(v).toBeCloseTo(fx.lloyd.centroids[i]!, 12));
    expect(km.inertia).toBeCloseTo(fx.lloyd.inertia, 9);
    expect(binCounts(assignNearest(syn, km.centroids, k), k)).toEqual(fx.syntheticCounts);
  });

  it('NDB z-statistics, p-values and decisions match, for the oracle bins and hand-readable counts', () => {
    expectBins(ndb(fx.realCounts, fx.syntheticCounts).bins, fx.ndb);
    for (const c of fx.countCases) expectBins(ndb(c.real, c.other).bins, c.bins);
    // Equal shares: nothing differs. One dropped mode of four, others over-filled.
    expect(ndb([10, 10, 10, 10], [5, 5, 5, 5]).ndb).toBe(0);
    const dropped = ndb([25, 25, 25, 25], [0, 40, 30, 30]);
    expect(dropped.bins[0]!.different).toBe(true);
    expect(dropped.underfilled).toBe(1);
  });

  it('erfc matches math.erfc to 1e-14 relative, far into the tail', () => {
    for (const { x, erfc: want } of fx.erfc) {
      expect(Math.abs(erfc(x) - want), `x=${x}`).toBeLessThanOrEqual(1e-14 * want + 1e-300);
    }
  });

  it('mean pairwise distance matches numpy', () => {
    expect(meanPairwiseDistance(real)).toBeCloseTo(fx.mpd.real, 5);
    expect(meanPairwiseDistance(syn)).toBeCloseTo(fx.mpd.synthetic, 5);
    expect(meanPairwiseDistance({ data: real.data.subarray(0, 5 * real.d), n: 5, d: real.d })).toBeCloseTo(fx.mpd.realFirst5, 6);
    expect(meanPairwiseDistance({ data: new Float32Array(4), n: 1, d: 4 })).toBeNull();
  });
});

describe('mode coverage properties', () => {
  it('seeded k-means finds three well-separated blobs and is reproducible', () => {
    const a = fitModes(real, { k: 3, seed: 7 });
    const b = fitModes(real, { k: 3, seed: 7 });
    expect(a.realCounts.sort()).toEqual([20, 20, 20]);
    expect(Array.from(b.centroids)).toEqual(Array.from(fitModes(real, { k: 3, seed: 7 }).centroids));
    expect(a.inertia).toBeCloseTo(fx.lloyd.inertia, 6);
  });

  it('mode collapse: the collapsed synthetic set covers 2 of 3 modes and fails NDB; a real resample passes', () => {
    const modes = fitModes(real, { k: 3, seed: 1 });
    const collapsed = occupancy(modes, syn);
    expect(collapsed.coverage).toBeCloseTo(2 / 3, 12);
    expect(collapsed.ndb.ndb).toBe(2);
    expect(collapsed.ndb.underfilled).toBe(1);
    expect(collapsed.indices.emptyCells).toBe(1);
    const same = occupancy(modes, real);
    expect(same.coverage).toBe(1);
    expect(same.ndb.ndb).toBe(0);
    expect(same.indices.gini).toBeCloseTo(0, 12);
  });

  it('k-means++ picks distinct rows, never a duplicate while an unchosen distinct point remains', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 12 }), (seed, k) => {
        // 12 points, pairs of which coincide: 6 distinct locations.
        const data = Float32Array.from({ length: 24 }, (_, i) => Math.floor(i / 4) * 3 + (i % 2));
        const x: Features = { data, n: 12, d: 2 };
        const rows = kmeansPlusPlusInit(x, k, new Rng(seed));
        expect(new Set(rows).size).toBe(k);
        const locations = new Set(rows.map((r) => `${data[2 * r]},${data[2 * r + 1]}`));
        expect(locations.size).toBe(Math.min(k, 6));
      }),
      { numRuns: 60 },
    );
  });

  it('Lloyd never increases the inertia of its start, and labels point at the nearest centre', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const rng = new Rng(seed);
        const x: Features = { data: Float32Array.from({ length: 40 * 3 }, () => rng.normal()), n: 40, d: 3 };
        const k = 1 + rng.int(6);
        const init = new Float64Array(k * 3);
        for (let j = 0; j < k; j++) init.set(x.data.subarray(j * 3, j * 3 + 3), j * 3);
        const start = lloyd(x, init, k, { maxIter: 0 });
        const done = lloyd(x, init, k);
        expect(done.inertia).toBeLessThanOrEqual(start.inertia + 1e-9);
        expect(Array.from(assignNearest(x, done.centroids, k))).toEqual(Array.from(done.assign));
        expect(kmeans(x, { k, seed }).inertia).toBeGreaterThan(0);
      }),
      { numRuns: 40 },
    );
  });

  it('intra-class spread: per class, subsampled beyond maxPerClass, null below two rows', () => {
    const labels = Int32Array.from({ length: 60 }, (_, i) => (i < 20 ? 0 : i < 40 ? 1 : 2));
    const full = intraClassDistances(real, labels, 4, { seed: 1 });
    expect(full[0]).toBeCloseTo(meanPairwiseDistance({ data: real.data.subarray(0, 80), n: 20, d: 4 })!, 10);
    expect(full[3]).toBeNull();
    const sub = intraClassDistances(real, labels, 4, { seed: 1, maxPerClass: 10 });
    expect(sub[0]).not.toBe(full[0]);
    expect(Math.abs(sub[0]! - full[0]!) / full[0]!).toBeLessThan(0.4);
    expect(intraClassDistances(real, labels, 4, { seed: 1, maxPerClass: 10 })).toEqual(sub);
  });
});
