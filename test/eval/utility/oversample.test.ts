/**
 * The oversampling baseline (d) as pure functions: seeded, the augmented plan's count in every cell,
 * duplicates drawn from the real train split only, and never a synthetic row.
 */
import { describe, expect, it } from 'vitest';
import { concatGathered, gatherRows, materialise } from '../../../eval/utility/gather.js';
import { oversamplePlan, oversampledSet, type OversampleRequest } from '../../../eval/utility/oversample.js';
import { Rng } from '../../../src/core/rng.js';

/** 60 real images, 2 classes x 2 groups; train = the first 40, the last 20 are holdout/test. */
function realSet() {
  const rng = new Rng(5);
  const n = 60;
  const labels = Int32Array.from({ length: n }, () => (rng.bernoulli(0.3) ? 1 : 0));
  const groups = Int32Array.from({ length: n }, () => (rng.bernoulli(0.25) ? 0 : 1));
  // Make sure every cell has train images and cell (1, 0) has exactly two.
  labels.set([1, 1, 1, 0, 0, 0], 0);
  groups.set([0, 0, 1, 0, 0, 1], 0);
  for (let i = 6; i < 40; i++) if (labels[i] === 1 && groups[i] === 0) groups[i] = 1;
  const train = Array.from({ length: 40 }, (_, i) => i);
  return { labels, groups, train, n };
}

/** The rows a balance plan would add: per cell (label, group) a count. */
function rowsOf(plan: [number, number, number][]) {
  const rowLabels: number[] = [];
  const rowGroups: number[] = [];
  for (const [l, g, k] of plan) for (let i = 0; i < k; i++) (rowLabels.push(l), rowGroups.push(g));
  return { rowLabels: Int32Array.from(rowLabels), rowGroups: Int32Array.from(rowGroups) };
}

const cellKey = (l: number, g: number) => `${l}/${g}`;

describe('oversamplePlan', () => {
  const real = realSet();
  const rows = rowsOf([[1, 0, 25], [0, 0, 7], [1, 1, 3]]);
  const req = (seed: number): OversampleRequest => ({ ...rows, train: real.train, labels: real.labels, groups: real.groups, seed });

  it('fills every row from a real TRAIN image of its own class x group cell, the same count per cell', () => {
    const plan = oversamplePlan(req(1));
    expect(plan.filled).toBe(35);
    expect(plan.leftOut).toBe(0);
    expect(plan.byGroup).toBe(true);
    const wanted = new Map<string, number>();
    const got = new Map<string, number>();
    for (let r = 0; r < rows.rowLabels.length; r++) {
      const src = plan.source[r]!;
      expect(real.train).toContain(src); // never holdout or test
      expect(src).toBeLessThan(40);
      expect(real.labels[src]).toBe(rows.rowLabels[r]);
      expect(real.groups[src]).toBe(rows.rowGroups[r]);
      wanted.set(cellKey(rows.rowLabels[r]!, rows.rowGroups[r]!), (wanted.get(cellKey(rows.rowLabels[r]!, rows.rowGroups[r]!)) ?? 0) + 1);
      got.set(cellKey(real.labels[src]!, real.groups[src]!), (got.get(cellKey(real.labels[src]!, real.groups[src]!)) ?? 0) + 1);
    }
    expect(got).toEqual(wanted);
    const rare = plan.cells.find((c) => c.label === 1 && c.group === 0)!;
    expect(rare).toMatchObject({ rows: 25, realTrain: 2, distinct: 2 }); // 25 draws from 2 images hit both
  });

  it('is seeded: same seed, same duplicates; another seed, other duplicates; each cell its own stream', () => {
    expect(oversamplePlan(req(1)).source).toEqual(oversamplePlan(req(1)).source);
    expect(oversamplePlan(req(2)).source).not.toEqual(oversamplePlan(req(1)).source);
    // Dropping one cell's rows leaves the other cells' draws as they were.
    const fewer = rowsOf([[0, 0, 7], [1, 1, 3]]);
    const part = oversamplePlan({ ...req(1), ...fewer });
    expect([...part.source]).toEqual([...oversamplePlan(req(1)).source.subarray(25)]);
  });

  it('leaves out rows of a cell with no real train image and says how many', () => {
    // Cell (0, 0) only in the test part: move its train images away.
    const groups = Int32Array.from(real.groups, (g, i) => (i < 40 && real.labels[i] === 0 && g === 0 ? 1 : g));
    const plan = oversamplePlan({ ...req(1), groups });
    expect(plan.leftOut).toBe(7);
    expect([...plan.source.subarray(25, 32)]).toEqual(new Array(7).fill(-1));
    expect(plan.cells.find((c) => c.label === 0 && c.group === 0)).toMatchObject({ rows: 7, realTrain: 0, distinct: 0 });
  });

  it('matches on class only when the rows carry no group', () => {
    const plan = oversamplePlan({ ...req(1), rowGroups: null });
    expect(plan.byGroup).toBe(false);
    expect(plan.cells.map((c) => [c.label, c.group, c.rows])).toEqual([[1, null, 28], [0, null, 7]]);
    for (let r = 0; r < plan.source.length; r++) expect(real.labels[plan.source[r]!]).toBe(rows.rowLabels[r]);
  });
});

describe('oversampledSet', () => {
  const LEN = 4;
  const real = realSet();
  // Real image i is filled with i; synthetic images with the sentinel -1.
  const realImages = Float32Array.from({ length: real.n * LEN }, (_, k) => Math.floor(k / LEN));
  const SYN = 12;
  const synLabels = Int32Array.from({ length: SYN }, (_, i) => (i < 9 ? 1 : 0));
  const synGroups = Int32Array.from({ length: SYN }, (_, i) => (i < 9 ? 0 : 1));
  const synImages = new Float32Array(SYN * LEN).fill(-1);
  const trainLabels = Int32Array.from(real.train, (i) => real.labels[i]!);
  const c = concatGathered(gatherRows(realImages, real.train, trainLabels), gatherRows(synImages, [...Array(SYN).keys()], synLabels));
  const flags = Uint8Array.from({ length: c.n }, (_, r) => (r >= 40 ? 1 : 0));

  it('keeps the real rows of (c), replaces every synthetic row by a real train image, and copies nothing', () => {
    const plan = oversamplePlan({ rowLabels: synLabels, rowGroups: synGroups, train: real.train, labels: real.labels, groups: real.groups, seed: 3 });
    const d = oversampledSet(c, flags, plan, realImages);
    expect(d.n).toBe(c.n);
    expect(d.sources).toHaveLength(2); // shares (c)'s arrays
    expect([...d.labels]).toEqual([...c.labels]);
    const img = materialise(d, LEN);
    // Fails if (d) used a synthetic row: those images are all -1.
    expect(img.images.includes(-1)).toBe(false);
    for (let r = 0; r < d.n; r++) {
      const src = img.images[r * LEN]!;
      expect(real.train).toContain(src);
      expect(real.labels[src]).toBe(d.labels[r]);
      if (r >= 40) expect(real.groups[src]).toBe(synGroups[r - 40]);
    }
    // (c) itself does hold the synthetic rows.
    expect(materialise(c, LEN).images.includes(-1)).toBe(true);
  });

  it('drops rows whose cell has no real image', () => {
    const plan = oversamplePlan({ rowLabels: synLabels, rowGroups: synGroups.map(() => 7), train: real.train, labels: real.labels, groups: real.groups, seed: 3 });
    expect(plan.leftOut).toBe(SYN);
    expect(oversampledSet(c, flags, plan, realImages).n).toBe(40);
  });
});
