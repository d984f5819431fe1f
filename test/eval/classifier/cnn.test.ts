// @module-tag slow (trains a classifier until it learns; see vitest.config.ts)
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { accuracyReport, CnnClassifier } from '../../../eval/classifier/cnn.js';
import { initBackend } from '../../../src/backend/index.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';

describe('accuracyReport', () => {
  it('computes accuracy, per-class recall and balanced accuracy (hand-checked)', () => {
    // truth 0,0,0,1 ; pred 0,1,0,1 → accuracy 3/4, recall [2/3, 1], balanced (2/3 + 1)/2, class 2 absent.
    const r = accuracyReport([0, 0, 0, 1], [0, 1, 0, 1], 3);
    expect(r.accuracy).toBeCloseTo(0.75, 12);
    expect(r.recall).toEqual([2 / 3, 1, null]);
    expect(r.balancedAccuracy).toBeCloseTo(5 / 6, 12);
  });
});

describe('CnnClassifier', () => {
  it('learns a class that shows as image content, and leaks nothing', async () => {
    await initBackend('wasm');
    const train = toyConditionalImages(300, 28, 1);
    const test = toyConditionalImages(100, 28, 2);
    const px = (d: ReturnType<typeof toyConditionalImages>) => tf.tidy(() => d.images().dataSync() as Float32Array);
    const before = tf.memory().numTensors;
    const clf = new CnnClassifier({ size: 28, channels: 1, classes: 2, seed: 3, steps: 150 });
    clf.fit(px(train), train.labels);
    const r = accuracyReport(test.labels, clf.predict(px(test), 100), 2);
    clf.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(r.balancedAccuracy!).toBeGreaterThanOrEqual(0.95);
  });

  it('trains the same from rows given one at a time (fitRows, a shuffled store) as from one array', async () => {
    await initBackend('wasm');
    const train = toyConditionalImages(120, 28, 4);
    const test = toyConditionalImages(60, 28, 5);
    const px = (d: ReturnType<typeof toyConditionalImages>) => tf.tidy(() => d.images().dataSync() as Float32Array);
    const images = px(train);
    const len = 28 * 28;
    // The same images stored in reverse order, read back through a row function (as eval/utility does).
    const reversed = new Float32Array(images.length);
    for (let r = 0; r < 120; r++) reversed.set(images.subarray(r * len, (r + 1) * len), (119 - r) * len);
    const opts = { size: 28, channels: 1 as const, classes: 2, seed: 8, steps: 40 };
    const a = new CnnClassifier(opts);
    const b = new CnnClassifier(opts);
    try {
      a.fit(images, train.labels);
      const before = tf.memory().numTensors;
      b.fitRows((r) => reversed.subarray((119 - r) * len, (120 - r) * len), train.labels);
      expect(tf.memory().numTensors).toBe(before); // a step leaves nothing behind
      const testPx = px(test);
      const logits = (c: CnnClassifier) => tf.tidy(() => Array.from(c.logits(tf.tensor4d(testPx, [60, 28, 28, 1])).dataSync()));
      expect(logits(b)).toEqual(logits(a)); // bit for bit
      expect(Array.from(b.predict(testPx, 60))).toEqual(Array.from(a.predict(testPx, 60)));
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
