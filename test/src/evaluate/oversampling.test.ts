/**
 * Way (d) as `medsynth evaluate` builds it, for both sources of (c): an --augmented set (synthetic rows
 * flagged synthetic=1) and real train + --synthetic. Synthetic images are a sentinel value, so any
 * synthetic row reaching (d) fails the test; test images are another, so any test image does too.
 */
import { describe, expect, it } from 'vitest';
import { imageLength } from '../../../datasets/dataset.js';
import { assignSplits, splitIndices } from '../../../datasets/splits.js';
import { gatherRows, materialise, type GatheredImages } from '../../../eval/utility/gather.js';
import { augmentedSyntheticFlags, oversamplingRecord, oversamplingWay } from '../../../src/evaluate/oversampling.js';
import { toyDataset } from '../../helpers/toy.js';

const SYNTHETIC = -1;

function setup() {
  const real = toyDataset({ n: 300, seed: 4, classWeights: [0.8, 0.2] });
  const len = imageLength(real);
  const split = assignSplits(real, { seed: 1 });
  const train = splitIndices(split, 'train');
  const held = new Set([...splitIndices(split, 'holdout'), ...splitIndices(split, 'test')]);
  // Real image i holds i + 1 in every pixel (so a source can be read back); held-out images are marked.
  const images = Float32Array.from({ length: real.n * len }, (_, k) => Math.floor(k / len) + 1);
  const realGroup = real.attributes[0]!.codes;
  const trainLabels = Int32Array.from(train, (i) => real.labels[i]!);
  return { real, len, train, held, images, realGroup, aSet: gatherRows(images, train, trainLabels) };
}

/** Cell counts (label/group -> n) of a gathered set, its rows' groups read from the real images. */
function cells(set: GatheredImages, len: number, groupOf: (row: number, pixel: number) => number): Map<string, number> {
  const img = materialise(set, len).images;
  const out = new Map<string, number>();
  for (let r = 0; r < set.n; r++) {
    const key = `${set.labels[r]}/${groupOf(r, img[r * len]!)}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

describe('oversamplingWay', () => {
  const s = setup();

  it('--augmented: keeps its real rows, replaces each synthetic row by a real train image of the cell', () => {
    // The augmented set: the real train rows, then 40 synthetic rows, all in the rare cell (1, female).
    const nSyn = 40;
    const n = s.train.length + nSyn;
    const augImages = new Float32Array(n * s.len);
    s.train.forEach((i, r) => augImages.set(s.images.subarray(i * s.len, (i + 1) * s.len), r * s.len));
    augImages.fill(SYNTHETIC, s.train.length * s.len);
    const labels = Int32Array.from({ length: n }, (_, r) => (r < s.train.length ? s.real.labels[s.train[r]!]! : 1));
    const groups = Int32Array.from({ length: n }, (_, r) => (r < s.train.length ? s.realGroup[s.train[r]!]! : 0));
    const synthetic = Uint8Array.from({ length: n }, (_, r) => (r < s.train.length ? 0 : 1));
    const way = oversamplingWay({
      real: { images: s.images, labels: s.real.labels },
      realGroup: s.realGroup,
      byGroup: true,
      train: s.train,
      augmented: { images: augImages, labels, groups, synthetic },
      aSet: s.aSet,
      synthetic: { images: new Float32Array(0), labels: new Int32Array(0), groups: null },
      seed: 9,
    });
    expect(way.skipped).toBeNull();
    const d = way.d!;
    expect(d.n).toBe(n);
    const img = materialise(d, s.len).images;
    expect(img.includes(SYNTHETIC)).toBe(false); // fails if (d) used a synthetic row
    for (let r = 0; r < d.n; r++) {
      const src = img[r * s.len]! - 1;
      expect(s.held.has(src), `row ${r} is held-out image ${src}`).toBe(false);
      expect(s.real.labels[src]).toBe(labels[r]);
      expect(s.realGroup[src]).toBe(groups[r]);
    }
    // Same count in every cell as (c).
    const cCells = new Map<string, number>();
    for (let r = 0; r < n; r++) cCells.set(`${labels[r]}/${groups[r]}`, (cCells.get(`${labels[r]}/${groups[r]}`) ?? 0) + 1);
    expect(cells(d, s.len, (_, px) => s.realGroup[px - 1]!)).toEqual(cCells);
    expect(way.plan!.cells).toEqual([expect.objectContaining({ label: 1, group: 0, rows: nSyn })]);
    const rec = oversamplingRecord(way, 9, s.real.labelNames, ['female', 'male'], ['sex'])!;
    expect(rec).toMatchObject({ seed: 9, matchedOn: 'class x sex', replaced: 40, filled: 40, leftOut: 0, notes: [] });
    expect(rec.cells[0]).toMatchObject({ class: 'class_1', group: 'female', rows: 40 });
  });

  it('real train + --synthetic: (c) gathers both without copying, (d) swaps the synthetic part for real duplicates', () => {
    const nSyn = 30;
    const synImages = new Float32Array(nSyn * s.len).fill(SYNTHETIC);
    const synLabels = Int32Array.from({ length: nSyn }, (_, i) => i % 2);
    const synGroups = Int32Array.from({ length: nSyn }, (_, i) => (i < 20 ? 0 : 1));
    const way = oversamplingWay({
      real: { images: s.images, labels: s.real.labels },
      realGroup: s.realGroup,
      byGroup: true,
      train: s.train,
      augmented: null,
      aSet: s.aSet,
      synthetic: { images: synImages, labels: synLabels, groups: synGroups },
      seed: 2,
    });
    const c = way.c as GatheredImages;
    expect(c.sources).toEqual([s.images, synImages]);
    expect(c.n).toBe(s.train.length + nSyn);
    expect(materialise(c, s.len).images.includes(SYNTHETIC)).toBe(true);
    const d = way.d!;
    expect(d.n).toBe(c.n);
    const img = materialise(d, s.len).images;
    expect(img.includes(SYNTHETIC)).toBe(false);
    for (let r = 0; r < d.n; r++) expect(s.held.has(img[r * s.len]! - 1)).toBe(false);
    const expected = new Map<string, number>();
    s.train.forEach((i) => expected.set(`${s.real.labels[i]}/${s.realGroup[i]}`, (expected.get(`${s.real.labels[i]}/${s.realGroup[i]}`) ?? 0) + 1));
    for (let i = 0; i < nSyn; i++) expected.set(`${synLabels[i]}/${synGroups[i]}`, (expected.get(`${synLabels[i]}/${synGroups[i]}`) ?? 0) + 1);
    expect(cells(d, s.len, (_, px) => s.realGroup[px - 1]!)).toEqual(expected);
  });

  it('an augmented set without a synthetic column: (d) is skipped with the reason', () => {
    const way = oversamplingWay({
      real: { images: s.images, labels: s.real.labels },
      realGroup: s.realGroup,
      byGroup: true,
      train: s.train,
      augmented: { images: s.images, labels: Int32Array.from(s.real.labels), groups: s.realGroup, synthetic: augmentedSyntheticFlags(s.real) },
      aSet: s.aSet,
      synthetic: { images: new Float32Array(0), labels: new Int32Array(0), groups: null },
      seed: 2,
    });
    expect(way.d).toBeNull();
    expect(way.skipped).toMatch(/no synthetic column/);
    expect(oversamplingRecord(way, 2, s.real.labelNames, [], [])).toBeNull();
  });
});
