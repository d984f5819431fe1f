/**
 * The learned-at-all evidence of `medsynth evaluate` (src/evaluate/learned.ts) on seeded 2-class feature
 * clouds: samples collapsed onto one point fail it, samples from the real distribution pass it, samples
 * with swapped classes fail the conditional test only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fitModes, type Features } from '../../../eval/diversity/modes.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { judgeLearned, learnedEvidence, nearestClassAgreement } from '../../../src/evaluate/learned.js';

const D = 8;

/** n rows, class i % 2, class c centred at (±3, 0, ...), unit noise. */
function cloud(n: number, seed: number): { f: Features; labels: Int32Array } {
  const rng = new Rng(seed);
  const data = new Float32Array(n * D);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) data[i * D + d] = rng.normal() + (d === 0 ? (labels[i] ? 3 : -3) : 0);
  return { f: { data, n, d: D }, labels };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('learned-at-all evidence', () => {
  const train = cloud(200, 1);
  const test = cloud(60, 2);
  const modes = () => fitModes(train.f, { k: 10, seed: 4 });
  const run = (syn: { f: Features; labels: Int32Array }) =>
    learnedEvidence({ space: 'toy', train: train.f, trainLabels: train.labels, test: test.f, testLabels: test.labels, synthetic: syn.f, syntheticLabels: syn.labels, classes: 2, modes: modes(), seed: 5 });

  it('passes samples drawn from the real distribution', async () => {
    const l = await run(cloud(90, 3));
    expect(l.m).toBe(60);
    expect(l.distinctNearest.ratio!).toBeGreaterThan(0.6);
    expect(l.modeCoverage.ratio!).toBeGreaterThan(0.6);
    expect(l.conditionalAccuracy!.margin!).toBeGreaterThan(0.6);
    expect(l).toMatchObject({ collapsed: false, conditional: true, learned: true, reasons: [] });
  });

  it('fails collapsed samples (one average image), saying why', async () => {
    const collapsed = { f: { data: new Float32Array(90 * D).fill(0.01), n: 90, d: D }, labels: Int32Array.from({ length: 90 }, (_, i) => i % 2) };
    const l = await run(collapsed);
    expect(l.distinctNearest.synthetic).toBe(1);
    expect(l.collapsed).toBe(true);
    expect(l.learned).toBe(false);
    expect(l.reasons[0]).toMatch(/60 samples have 1 distinct nearest real training images, \d+% of the \d+ of as many real held-out images \(threshold 25%\)/);
    expect(l.reasons.some((r) => /k-means modes/.test(r))).toBe(true);
  });

  it('fails the conditional test alone when the classes are swapped', async () => {
    const s = cloud(90, 3);
    const l = await run({ f: s.f, labels: Int32Array.from(s.labels, (c) => 1 - c) });
    expect(l.collapsed).toBe(false);
    expect(l.conditional).toBe(false);
    expect(l.learned).toBe(false);
    expect(l.reasons.join(' ')).toMatch(/do not follow their class/);
  });

  it('judges from the figures alone, and ignores a judge that does not beat chance', () => {
    expect(nearestClassAgreement([0, 1, 1], [0, 1], [0, 1, 0], 2)).toBeCloseTo((1 + 0.5) / 2, 12);
    const ok = { m: 100, distinctNearest: { synthetic: 50, reference: 60, ratio: 50 / 60 }, modeCoverage: { k: 10, synthetic: 0.8, reference: 0.9, ratio: 0.8 / 0.9 } };
    expect(judgeLearned({ ...ok, conditionalAccuracy: { judge: '', synthetic: 0.5, reference: 0.55, chance: 0.5, margin: null } }).learned).toBe(true);
    expect(judgeLearned({ ...ok, distinctNearest: { synthetic: 7, reference: 60, ratio: 7 / 60 }, conditionalAccuracy: null })).toMatchObject({ collapsed: true, learned: false });
  });
});
