import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { utilityTable, type LabelledImages, type UtilityInput } from '../../../eval/utility/index.js';
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
  it('tests all three ways on the real test split: real learns, label-swapped synthetic fails, no tensor leaks', () => {
    const real = toy(100, 1);
    const swapped = toy(100, 2, true); // "synthetic" whose labels are the wrong way round
    const both: LabelledImages = {
      images: Float32Array.from([...real.images, ...swapped.images]),
      labels: Int32Array.from([...real.labels, ...swapped.labels]),
      n: 200,
    };
    const before = tf.memory().numTensors;
    const r = utilityTable(input({ a: real, b: swapped, c: both }, 30));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.ways.map((w) => w.key)).toEqual(['a', 'b', 'c']);
    expect(r.ways.map((w) => w.trainImages)).toEqual([100, 100, 200]);
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
    const one = utilityTable(input({ a: real, b: empty, c: empty }, 3));
    const two = utilityTable(input({ a: real, b: empty, c: empty }, 3));
    expect(one.ways[1]!.report).toBeNull();
    expect(one.ways[1]!.skipped).toBe('no training images');
    expect(two.ways[0]!.report).toEqual(one.ways[0]!.report);
  });
});
