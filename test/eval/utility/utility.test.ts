import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FairnessReport } from '../../../eval/fairness/metrics.js';
import { gatherRows } from '../../../eval/utility/gather.js';
import { compareWays, untaughtClasses, untaughtSentence, utilityTable, type LabelledImages, type UtilityInput, type UtilityWayResult } from '../../../eval/utility/index.js';
import { initBackend } from '../../../src/backend/index.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';

const SIZE = 12; // 12 -> 6 -> 3: two conv layers, small and quick, and enough for the toy task

function toy(n: number, seed: number, flip = false): LabelledImages & { group: Int32Array } {
  const t = toyConditionalImages(n, SIZE, seed);
  const img = t.images();
  const images = Float32Array.from(img.dataSync() as Float32Array);
  img.dispose();
  const labels = flip ? Int32Array.from(t.labels, (l) => 1 - l) : Int32Array.from(t.labels);
  return { images, labels, n, group: Int32Array.from(t.sex) };
}

const empty: LabelledImages = { images: new Float32Array(0), labels: new Int32Array(0), n: 0 };

function input(train: UtilityInput['train'], steps: number): UtilityInput {
  return {
    train,
    augmentedSource: 'test',
    test: toy(60, 9),
    size: SIZE,
    channels: 1,
    classes: 2,
    groups: 2,
    positive: 1,
    seed: 3,
    steps,
    batchSize: 32,
  };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('utilityTable', () => {
  it('tests all four ways on the real test split: real learns, label-swapped synthetic fails, no tensor leaks', () => {
    const real = toy(100, 1);
    const swapped = toy(100, 2, true); // "synthetic" whose labels are the wrong way round
    const both: LabelledImages = {
      images: Float32Array.from([...real.images, ...swapped.images]),
      labels: Int32Array.from([...real.labels, ...swapped.labels]),
      n: 200,
    };
    const before = tf.memory().numTensors;
    // (d) gathered by index: the real images twice over, nothing copied until it trains.
    const twice = gatherRows(real.images, [...Array(100).keys(), ...Array(100).keys()], [...real.labels, ...real.labels]);
    const r = utilityTable(input({ a: real, b: swapped, c: both, d: twice }, 30));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.ways.map((w) => w.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.ways.map((w) => w.trainImages)).toEqual([100, 100, 200, 200]);
    expect(r.ways[3]!.report!.balancedAccuracy!).toBeGreaterThan(0.9);
    // One seed: every way has one report and no interval.
    expect(r.ways[0]!.reports).toHaveLength(1);
    expect(r.ways[0]!.summary!.balancedAccuracy).toMatchObject({ n: 1, lo: null, hi: null });
    // (c) learned half its data the wrong way round: far below (a) and (d).
    expect(r.augmentedVsReal!.verdict).toBe('real only is better here');
    expect(r.augmentedVsOversampling!.verdict).toBe('oversampling is better here');
    expect(r.augmentedVsOversampling!.ci).toBeNull();
    expect(r.testImages).toBe(60);
    expect(r.classifier).toMatchObject({ name: 'cnn', steps: 30, seed: 3, batchSize: 32 });
    const [a, b] = r.ways.map((w) => w.report!);
    expect(a!.balancedAccuracy!).toBeGreaterThan(0.9);
    expect(b!.balancedAccuracy!).toBeLessThan(0.1);
    expect(a!.mode).toBe('binary');
    expect(a!.perPositive[0]!.positive).toBe(1);
    expect(a!.groupAccuracy).toHaveLength(2);
  });

  it('skips a way with no training images, and is reproducible with a fixed seed', () => {
    const real = toy(40, 1);
    const one = utilityTable({ ...input({ a: real, b: empty, c: empty, d: null }, 3), skipReasons: { d: 'no synthetic column' } });
    const two = utilityTable(input({ a: real, b: empty, c: empty, d: null }, 3));
    expect(one.ways[1]!.report).toBeNull();
    expect(one.ways[1]!.skipped).toBe('no training images');
    expect(one.ways[3]!).toMatchObject({ report: null, reports: [], summary: null, skipped: 'no synthetic column' });
    expect(one.augmentedVsOversampling).toBeNull();
    expect(two.ways[0]!.report).toEqual(one.ways[0]!.report);
  });

  it('trains every way once per classifier seed (the first as given) and reports mean and t-interval', () => {
    const real = toy(40, 1);
    const r = utilityTable({ ...input({ a: real, b: real, c: real, d: real }, 3), classifierSeeds: 3 });
    expect(r.classifier.seeds).toHaveLength(3);
    expect(r.classifier.seeds[0]).toBe(3);
    expect(new Set(r.classifier.seeds).size).toBe(3);
    expect(r.interval).toEqual({ kind: 'student-t', confidence: 0.95, over: 'classifier seeds' });
    const a = r.ways[0]!;
    expect(a.reports).toHaveLength(3);
    expect(a.report).toEqual(a.reports[0]);
    // Seed 0 of three equals the single-seed run.
    expect(a.reports[0]).toEqual(utilityTable(input({ a: real, b: empty, c: empty, d: null }, 3)).ways[0]!.report);
    const ba = a.summary!.balancedAccuracy;
    expect(ba.values).toEqual(a.reports.map((x) => x.balancedAccuracy));
    expect(ba.mean!).toBeCloseTo(a.reports.reduce((s, x) => s + x.balancedAccuracy!, 0) / 3, 12);
    expect(ba.lo!).toBeLessThanOrEqual(ba.mean!);
    expect(a.summary!.recall).toHaveLength(2);
    // Same data and seeds in (c) and (d): a zero paired difference.
    expect(r.augmentedVsOversampling).toMatchObject({ deltaBalancedAccuracy: 0, ci: { lo: 0, hi: 0 }, verdict: 'within 1 point' });
  });
});

describe('compareWays', () => {
  const way = (ba: number[]): UtilityWayResult => ({
    key: 'c',
    label: '',
    trainImages: 1,
    trainPerClass: [],
    report: null,
    reports: ba.map((b) => ({ balancedAccuracy: b }) as FairnessReport),
    summary: null,
    skipped: null,
  });

  it('reads the mean paired difference: above +1 point, within 1 point (ends included), below -1 point', () => {
    const d = way([0.8, 0.82, 0.84]);
    expect(compareWays(way([0.83, 0.85, 0.87]), d, 'oversampling is better here')!.verdict).toBe('augmentation better');
    expect(compareWays(way([0.81, 0.83, 0.85]), d, 'oversampling is better here')!.verdict).toBe('within 1 point');
    expect(compareWays(way([0.79, 0.81, 0.83]), d, 'oversampling is better here')!.verdict).toBe('within 1 point');
    const worse = compareWays(way([0.77, 0.80, 0.82]), d, 'oversampling is better here')!;
    expect(worse.verdict).toBe('oversampling is better here');
    expect(worse.deltaBalancedAccuracy).toBeCloseTo(-0.0233333, 6);
    expect(worse.perSeed.map((x) => Number(x!.toFixed(9)))).toEqual([-0.03, -0.02, -0.02]);
    expect(worse.ci!.hi).toBeGreaterThan(worse.deltaBalancedAccuracy);
    expect(compareWays(way([]), d, 'oversampling is better here')).toBeNull();
  });
});

describe('untaughtClasses', () => {
  /** A way whose classifier seeds recalled these per-class shares (null: no real test image of the class). */
  const way = (key: string, recalls: (number | null)[][], trainPerClass = [10, 10, 10, 10]): UtilityWayResult => ({
    key: key as UtilityWayResult['key'],
    label: '',
    trainImages: 1,
    trainPerClass,
    report: null,
    reports: recalls.map((recall) => ({ recall }) as FairnessReport),
    summary: null,
    skipped: null,
  });
  const real = way('a', [
    [0.99, 0.88, 0.5, null],
    [1, 0.88, 0.25, null],
    [0.98, 0.88, 0, null],
  ]);

  it('names a class that no seed trained on the samples recalls, with the real-trained mean recall', () => {
    // The non-private GAN of eval/results/private-generators.md (eighth session): disease recall 0 in all three seeds.
    const b = way('b', [
      [1, 0, 0, null],
      [1, 0, 0.1, null],
      [1, 0, 0, null],
    ]);
    const u = untaughtClasses(b, real);
    expect(u).toHaveLength(1);
    expect(u[0]!.class).toBe(1);
    expect(u[0]!.referenceRecall).toBeCloseTo(0.88, 12);
  });

  it('says nothing when one seed found one real image, when real data does not teach the class either, or with no test images', () => {
    const oneHit = way('b', [
      [1, 0, 0.5, null],
      [1, 0.04, 0.5, null],
      [1, 0, 0.5, null],
    ]);
    expect(untaughtClasses(oneHit, real)).toEqual([]);
    const realBlind = way('a', [
      [1, 0, 0.5, null],
      [1, 0, 0.5, null],
    ]);
    expect(untaughtClasses(way('b', [[1, 0, 0, 0]]), realBlind)).toEqual([{ class: 2, referenceRecall: 0.5 }]);
    expect(untaughtClasses(way('b', []), real)).toEqual([]);
    // A class the samples hold no image of (a balance folder tops up the rare classes only) is not theirs to teach.
    const topUps = way('b', [[0, 0.5, 0.5, null]], [0, 10, 10, 0]);
    expect(untaughtClasses(topUps, real)).toEqual([]);
    expect(untaughtClasses(way('b', [[0, 0.5, 0.5, null]], [3, 10, 10, 0]), real)).toEqual([{ class: 0, referenceRecall: (0.99 + 1 + 0.98) / 3 }]);
  });

  it('writes one sentence naming each class and its real-trained recall', () => {
    const s = untaughtSentence([{ name: 'disease', realRecall: 0.88 }]);
    expect(s).toMatch(/pool the classes/);
    expect(s).toMatch(/disease \(a classifier trained on real images: recall 0\.880\)/);
    expect(s).toMatch(/do not teach this class/);
    expect(untaughtSentence([{ name: 'df', realRecall: 0.2 }, { name: 'vasc', realRecall: 0.5 }])).toMatch(/df .*, vasc .*these classes/);
  });
});
