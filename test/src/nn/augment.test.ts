/**
 * Augmentation multiplicity (src/nn/augment.ts): shifted copies against a hand-built 4×4 example, the
 * shifts' range and seeding, and — in a cVAE DP step — that a unit's K copies are clipped together as one
 * unit (against the same step written out by hand), that shifts change the step, and that no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cvaeFactory } from '../../../models/cvae/index.js';
import { encodeConditions, type ConditionSpec, type Generator } from '../../../models/generator.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { copyShifts, shiftedCopies } from '../../../src/nn/augment.js';
import type { UnitGrouping } from '../../../src/privacy/per-example.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('shifted copies', () => {
  it('shifts by whole pixels with mirrored borders (hand-built 4×4 image)', () => {
    // in[y][x] = 10·y + x
    const img = tf.tensor4d(Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4)), [1, 4, 4, 1]);
    const out = shiftedCopies(img, [[0, 0], [1, 0], [0, -2]]);
    try {
      expect(out.shape).toEqual([3, 4, 4, 1]);
      const v = Array.from(out.dataSync());
      const copy = (k: number) => Array.from({ length: 4 }, (_, y) => v.slice(k * 16 + 4 * y, k * 16 + 4 * y + 4));
      expect(copy(0)).toEqual([[0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 22, 23], [30, 31, 32, 33]]);
      // dy = 1: out[y] = in[y − 1]; row −1 mirrors row 0 (symmetric padding).
      expect(copy(1)).toEqual([[0, 1, 2, 3], [0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 22, 23]]);
      // dx = −2: out[.][x] = in[.][x + 2]; columns 4, 5 mirror columns 3, 2.
      expect(copy(2)[0]).toEqual([2, 3, 3, 2]);
      expect(copy(2)[3]).toEqual([32, 33, 33, 32]);
    } finally {
      tf.dispose([img, out]);
    }
  });

  it('draws copy 0 as the identity and the others in [−s, s]², from the seed alone', () => {
    const a = copyShifts(50, 2, new Rng(4));
    expect(a[0]).toEqual([0, 0]);
    expect(a.flat().every((d) => d >= -2 && d <= 2)).toBe(true);
    expect(new Set(a.slice(1).map((p) => p.join())).size).toBeGreaterThan(10); // of 25 possible
    expect(copyShifts(50, 2, new Rng(4))).toEqual(a);
    expect(copyShifts(50, 2, new Rng(5))).not.toEqual(a);
  });
});

describe('augmentation multiplicity in a cVAE DP step', () => {
  const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [] };
  const data = toyConditionalImages(16, 28, 9);
  const weights = (g: Generator) => [...g.weights().values()].map((v) => Array.from(v.dataSync()));

  const UNCLIPPED = { clipNorm: 1e6, noiseMultiplier: 1e-12, expectedUnits: 8, seed: 1 };

  /** Two DP steps of a fresh cVAE on the first 8 toy images (repeated `repeat` times, with `grouping`). */
  function oneStep(config: Record<string, unknown>, dp = UNCLIPPED, repeat = 1, grouping: UnitGrouping | null = null): { w: number[][]; r: Record<string, number>; leaked: number } {
    const g = cvaeFactory.create(config, SPEC, { size: 28, channels: 1 }, 3);
    const images = tf.tidy(() => tf.tile(tf.slice(data.images(), [0, 0, 0, 0], [8, 28, 28, 1]), [repeat, 1, 1, 1]) as tf.Tensor4D);
    const labels = Array.from({ length: 8 * repeat }, (_, r) => data.labels[r % 8]!);
    const cond = tf.tensor2d(encodeConditions(SPEC, labels, []), [8 * repeat, 2]);
    try {
      g.privateStep!({ images, cond, grouping }, 0, dp);
      const n0 = tf.memory().numTensors;
      const r = g.privateStep!({ images, cond, grouping }, 1, dp);
      return { w: weights(g), r, leaked: tf.memory().numTensors - n0 };
    } finally {
      tf.dispose([images, cond]);
      g.dispose();
    }
  }

  it('with shifts the step differs (the copies are really shifted)', () => {
    const plain = oneStep({});
    const shifted = oneStep({ augment: { copies: 4, shift: 2 } });
    let worst = 0;
    plain.w.forEach((w, k) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - shifted.w[k]![j]!)))));
    expect(worst).toBeGreaterThan(1e-5);
  });

  it('clips each unit once over its copies: 4 unshifted copies are the step on the 4-fold batch grouped by unit', () => {
    // The same step written out by hand: the batch repeated 4 times, row k·8 + i in unit i. Every unit is
    // clipped (tiny C), so summing or averaging a unit's copies before clipping gives the same clipped
    // vector; the noise has the same seed. Were each copy its own unit, the clipped sum would be 4× as
    // large against the same noise, and the update would differ.
    const dp = { clipNorm: 1e-3, noiseMultiplier: 1, expectedUnits: 8, seed: 5 };
    const four = oneStep({ augment: { copies: 4, shift: 0 } }, dp);
    expect(four.leaked).toBe(0);
    expect(four.r.clipped).toBe(1);
    expect(four.r.batch).toBe(8); // units, not copies
    const unitOf = Int32Array.from({ length: 32 }, (_, r) => r % 8);
    const byHand = oneStep({}, dp, 4, { unitOf, units: 8 });
    const asCopies = oneStep({}, dp, 4, null);
    const gap = (x: number[][], y: number[][]) => {
      let worst = 0;
      x.forEach((w, k) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - y[k]![j]!)))));
      return worst;
    };
    expect(gap(four.w, byHand.w)).toBeLessThan(1e-6);
    expect(gap(four.w, asCopies.w)).toBeGreaterThan(1e-4);
  });
});
