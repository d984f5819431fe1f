import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CnnClassifier } from '../../../eval/classifier/cnn.js';
import { embedImages, logitsFromEmbedding } from '../../../eval/features/domain-cnn.js';
import { computeFeatures, parseExtractorSpec, type FeatureInput } from '../../../eval/features/index.js';
import { initBackend } from '../../../src/backend/index.js';
import { ConfigError } from '../../../src/core/errors.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';
import { npyBytes } from '../../datasets/helpers.js';

const SIZE = 28;
let work: string;
let input: FeatureInput;

function pixels(n: number, seed: number) {
  const t = toyConditionalImages(n, SIZE, seed);
  const img = t.images();
  const data = img.dataSync() as Float32Array;
  img.dispose();
  return { images: Float32Array.from(data), labels: t.labels };
}

beforeAll(async () => {
  await initBackend('wasm');
  work = mkdtempSync(join(tmpdir(), 'medsynth-features-'));
  const real = pixels(120, 1);
  const syn = pixels(40, 2);
  input = {
    real: { images: real.images, labels: real.labels, n: 120, fingerprint: 'f'.repeat(64) },
    trainIndices: Array.from({ length: 80 }, (_, i) => i),
    synthetic: { images: syn.images, n: 40 },
    size: SIZE,
    channels: 1,
    classes: 2,
    seed: 4,
    splitSeed: 1,
  };
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('feature extractor specs', () => {
  it('parses names and .npy paths, and nothing else', () => {
    expect(parseExtractorSpec('pixel-pca')).toBe('pixel-pca');
    expect(parseExtractorSpec('domain-cnn')).toBe('domain-cnn');
    expect(parseExtractorSpec('feats.NPY')).toEqual({ file: 'feats.NPY' });
    expect(parseExtractorSpec('inception')).toBeNull();
  });
});

describe('pixel-pca', () => {
  it('records its name, preprocessing and fit, and is fitted on the train split only', () => {
    const a = computeFeatures('pixel-pca', input, { cacheDir: null });
    expect(a.info.name).toBe('pixel-pca');
    expect(a.info.fittedOn).toBe('real train split (80 images)');
    expect(a.info.preprocessing).toMatch(/centred on the real-train mean/);
    expect(a.info.dim).toBe(64);
    expect([a.real.n, a.real.d, a.synthetic.n, a.synthetic.d]).toEqual([120, 64, 40, 64]);
    // Changing a non-train image changes that image's features but not the model.
    const images = Float32Array.from(input.real.images);
    images.fill(0.5, 100 * SIZE * SIZE, 101 * SIZE * SIZE);
    const b = computeFeatures('pixel-pca', { ...input, real: { ...input.real, images } }, { cacheDir: null });
    expect(Array.from(b.real.data.subarray(0, 80 * 64))).toEqual(Array.from(a.real.data.subarray(0, 80 * 64)));
    expect(Array.from(b.synthetic.data)).toEqual(Array.from(a.synthetic.data));
    expect(b.real.data[100 * 64]).not.toBe(a.real.data[100 * 64]);
  });
});

describe('domain-cnn', () => {
  it('is the classifier penultimate layer, cached by key, and leaks no tensor', () => {
    const cacheDir = join(work, 'cache');
    const before = tf.memory().numTensors;
    const first = computeFeatures('domain-cnn', input, { cacheDir, steps: 8 });
    expect(tf.memory().numTensors).toBe(before);
    expect(first.info.details.cache).toBe('miss');
    expect(first.info.fittedOn).toBe('real train split (80 images, class labels)');
    expect(first.real.d).toBe(64); // 28 -> 14 -> 7 -> 4: three convs, the last 64 wide
    expect(readdirSync(join(cacheDir, 'domain-cnn'))).toEqual([`${first.info.details.cacheKey}.json`]);
    const second = computeFeatures('domain-cnn', input, { cacheDir, steps: 8 });
    expect(second.info.details.cache).toBe('hit');
    expect(Array.from(second.real.data)).toEqual(Array.from(first.real.data));
    expect(Array.from(second.synthetic.data)).toEqual(Array.from(first.synthetic.data));
    expect(tf.memory().numTensors).toBe(before);
    // A different seed is a different key.
    const other = computeFeatures('domain-cnn', { ...input, seed: 5 }, { cacheDir, steps: 8 });
    expect(other.info.details.cacheKey).not.toBe(first.info.details.cacheKey);
    expect(readdirSync(join(cacheDir, 'domain-cnn'))).toHaveLength(2);
    // Without a cache folder nothing is written.
    const off = computeFeatures('domain-cnn', input, { cacheDir: null, steps: 8 });
    expect(off.info.details.cache).toBe('off');
    expect(Array.from(off.real.data)).toEqual(Array.from(first.real.data));
  });

  it('a damaged cache file is retrained over, not trusted', () => {
    const cacheDir = join(work, 'cache-bad');
    const a = computeFeatures('domain-cnn', input, { cacheDir, steps: 5 });
    writeFileSync(a.info.details.cacheFile as string, '{"format": "medsynth-domain-cnn-v1", "weights": []');
    const b = computeFeatures('domain-cnn', input, { cacheDir, steps: 5 });
    expect(b.info.details.cache).toBe('miss');
    expect(Array.from(b.real.data)).toEqual(Array.from(a.real.data));
  });

  it('its last dense layer on the embedding gives the classifier prediction', () => {
    const clf = new CnnClassifier({ size: SIZE, channels: 1, classes: 2, seed: 9, steps: 5 });
    try {
      const train = pixels(80, 3);
      clf.fit(train.images, train.labels);
      const test = pixels(30, 4);
      const emb = embedImages(clf, test.images, 30, SIZE, 1);
      const logits = logitsFromEmbedding(clf, emb, 30);
      const pred = clf.predict(test.images, 30);
      for (let i = 0; i < 30; i++) expect(logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0).toBe(pred[i]);
    } finally {
      clf.dispose();
    }
  });
});

describe('FILE.npy', () => {
  it('splits the rows into real then synthetic, and records the file', () => {
    const d = 3;
    const rows = 160;
    const data = Float32Array.from({ length: rows * d }, (_, i) => i);
    const file = join(work, 'feats.npy');
    writeFileSync(file, npyBytes('<f4', [rows, d], data));
    const f = computeFeatures({ file }, input, { cacheDir: null });
    expect(f.info.name).toBe('file:feats.npy');
    expect(f.info.fittedOn).toMatch(/user-supplied/);
    expect(f.info.details.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect([f.real.n, f.synthetic.n, f.real.d]).toEqual([120, 40, 3]);
    expect(f.synthetic.data[0]).toBe(120 * d);
  });

  it('refuses a file whose row count does not match, naming both counts', () => {
    const file = join(work, 'short.npy');
    writeFileSync(file, npyBytes('<f8', [10, 2], new Float64Array(20)));
    expect(() => computeFeatures({ file }, input, { cacheDir: null })).toThrow(ConfigError);
    expect(() => computeFeatures({ file }, input, { cacheDir: null })).toThrow(/has 10 rows of 2 features; expected 160 rows = 120 real images \(load order\) \+ 40 synthetic/);
    expect(() => computeFeatures({ file: join(work, 'missing.npy') }, input, { cacheDir: null })).toThrow(/cannot read the file/);
    expect(existsSync(join(work, 'missing.npy'))).toBe(false);
  });
});
