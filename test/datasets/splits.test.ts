import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assignSplits, emptySplitWarnings, splitIndices, splitsCsv } from '../../datasets/splits.js';
import { parseCsv } from '../../datasets/csv.js';
import { DatasetError } from '../../src/core/errors.js';
import { toyDataset } from '../helpers/toy.js';

describe('assignSplits', () => {
  it('puts every image of a patient in one split', () => {
    const ds = toyDataset({ n: 600, patients: true, seed: 3 });
    const a = assignSplits(ds, { seed: 1 });
    expect(a.unit).toBe('patient');
    const where = new Map<string, string>();
    ds.patientIds!.forEach((p, i) => {
      const s = a.split[i]!;
      expect(where.get(p) ?? s).toBe(s);
      where.set(p, s);
    });
    expect(a.units.train + a.units.holdout + a.units.test).toBe(where.size);
  });

  it('keeps the overall fractions within one unit per split, over random datasets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 400 }), fc.nat(1000), (n, seed) => {
        const ds = toyDataset({ n, seed, classWeights: [0.6, 0.3, 0.1] });
        const a = assignSplits(ds, { seed });
        expect(a.sizes.train + a.sizes.holdout + a.sizes.test).toBe(n);
        expect(Math.abs(a.sizes.train - 0.7 * n)).toBeLessThanOrEqual(1.0001);
        expect(Math.abs(a.sizes.holdout - 0.15 * n)).toBeLessThanOrEqual(1.0001);
        expect(Math.abs(a.sizes.test - 0.15 * n)).toBeLessThanOrEqual(1.0001);
      }),
      { numRuns: 60 },
    );
  });

  it('stratifies: a rare class appears in every split in proportion', () => {
    const ds = toyDataset({ n: 2000, seed: 11, classWeights: [0.95, 0.05] });
    const a = assignSplits(ds, { seed: 5 });
    const rare = (s: 'train' | 'holdout' | 'test') => splitIndices(a, s).filter((i) => ds.labels[i] === 1).length;
    const total = rare('train') + rare('holdout') + rare('test');
    expect(Math.abs(rare('train') - 0.7 * total)).toBeLessThanOrEqual(2);
    expect(Math.abs(rare('test') - 0.15 * total)).toBeLessThanOrEqual(2);
    // ... and within the rare class, the minority sex too.
    const rareFemale = (s: 'train' | 'test') =>
      splitIndices(a, s).filter((i) => ds.labels[i] === 1 && ds.attributes[0]!.codes[i] === 0).length;
    expect(rareFemale('test')).toBeGreaterThan(0);
    expect(rareFemale('train')).toBeGreaterThan(rareFemale('test'));
  });

  it('is a function of the seed', () => {
    const ds = toyDataset({ n: 300, seed: 2, patients: true });
    expect(assignSplits(ds, { seed: 9 }).split).toEqual(assignSplits(ds, { seed: 9 }).split);
    expect(assignSplits(ds, { seed: 9 }).split).not.toEqual(assignSplits(ds, { seed: 10 }).split);
    expect(splitsCsv(ds, assignSplits(ds, { seed: 9 }))).toBe(splitsCsv(ds, assignSplits(ds, { seed: 9 })));
  });

  it('writes ids the CSV parser reads back unchanged (commas, quotes, edge spaces)', () => {
    const ds = toyDataset({ n: 4, seed: 1 });
    const ids = [' lead', 'trail ', 'a,b', 'say "x"'];
    const withIds = { ...ds, ids };
    const t = parseCsv(splitsCsv(withIds, assignSplits(withIds, { seed: 1 })), 'splits.csv');
    expect(t.rows.map((r) => r.fields[0])).toEqual(ids);
  });

  it('honours splits given by the source', () => {
    const given = Array.from({ length: 50 }, (_, i): 'train' | 'holdout' | 'test' => (i < 10 ? 'test' : i < 20 ? 'holdout' : 'train'));
    const ds = toyDataset({ n: 50, sourceSplits: given });
    const a = assignSplits(ds, { seed: 1 });
    expect(a.origin).toBe('source');
    expect(a.split).toEqual(given);
  });

  it('refuses a patient whose images the source put in two splits', () => {
    const ds = toyDataset({ n: 30, patients: true, seed: 4 });
    const first = ds.patientIds![0]!;
    const idx = ds.patientIds!.flatMap((p, i) => (p === first ? [i] : []));
    if (idx.length < 2) {
      // Make patient 0 own two images so the conflict can be set up.
      ds.patientIds![1] = first;
      idx.push(1);
    }
    ds.sourceSplits = ds.ids.map(() => null);
    ds.sourceSplits[idx[0]!] = 'train';
    ds.sourceSplits[idx[1]!] = 'test';
    expect(() => assignSplits(ds, { seed: 1 })).toThrow(DatasetError);
    expect(() => assignSplits(ds, { seed: 1 })).toThrow(/one patient but are in splits train and test/);
  });

  it('refuses fractions that do not sum to one', () => {
    const ds = toyDataset({ n: 10 });
    expect(() => assignSplits(ds, { seed: 1, fractions: { train: 0.5, holdout: 0.2, test: 0.2 } })).toThrow(/sum to 1/);
  });
});

describe('emptySplitWarnings', () => {
  it('is silent when every split has images', () => {
    expect(emptySplitWarnings(assignSplits(toyDataset({ n: 200, seed: 1 }), { seed: 1 }))).toEqual([]);
  });

  it('names what an empty holdout or test split rules out, and why it is empty (too little data)', () => {
    const w = emptySplitWarnings(assignSplits(toyDataset({ n: 1, seed: 1 }), { seed: 1 }));
    expect(w).toEqual([
      expect.stringMatching(/^the holdout split is empty: no membership audit possible .*; only 1 image to share out, too few to fill it \(it gets about 15%\); add data$/),
      expect.stringMatching(/^the test split is empty: no held-out utility or fairness evaluation .*; only 1 image to share out/),
    ]);
  });

  it('points at the source when the source assigned every image (a manifest split column, an .npz)', () => {
    const ds = toyDataset({ n: 30, seed: 1, sourceSplits: [...Array(20).fill('train'), ...Array(10).fill('test')] });
    const w = emptySplitWarnings(assignSplits(ds, { seed: 1 }));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^the holdout split is empty: no membership audit possible .*add holdout rows to the manifest's split column \(an \.npz: val_images and val_labels\)/);
  });
});
