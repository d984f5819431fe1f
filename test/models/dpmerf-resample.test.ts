/**
 * Importance resampling towards the release (models/dpmerf/resample.ts): the weight and the one-pass
 * weighted choice against hand calculations and their exact probabilities, and the model's sampling:
 * K = 1 is G's plain draw, the same seed gives the same bytes, no tensors leak, and when the release is of
 * the brighter half of G's own draws, the resampled images' mean embedding is closer to it than G's plain
 * draws are.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DpMerf } from '../../models/dpmerf/index.js';
import { DENSITY_FLOOR, importanceWeight, reservoirStep } from '../../models/dpmerf/resample.js';
import { encodeConditions, type ConditionSpec } from '../../models/generator.js';
import { generatorFactory } from '../../models/registry.js';
import { initBackend } from '../../src/backend/index.js';
import { Rng } from '../../src/core/rng.js';
import { toyConditionalImages } from '../helpers/toy-images.js';

const SIZE = 28;
const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('importance weight', () => {
  it('is max(p, 0) / max(q, floor), by hand', () => {
    expect(importanceWeight(0.2, 0.1)).toBeCloseTo(2, 12);
    expect(importanceWeight(0.03, 0.12)).toBeCloseTo(0.25, 12);
    expect(importanceWeight(-0.1, 0.3)).toBe(0); // a negative density estimate (noise) weighs nothing
    expect(importanceWeight(0.5, 0)).toBeCloseTo(0.5 / DENSITY_FLOOR, 3);
    expect(importanceWeight(0.2, -0.4)).toBeCloseTo(0.2 / DENSITY_FLOOR, 3);
  });
});

describe('one-pass weighted choice', () => {
  it('replaces the kept candidate as a hand trace says', () => {
    // W = 0, w = 2: always taken; then w = 2 with W = 4 is taken iff 4u < 2.
    expect(reservoirStep(0, 2, 0.99)).toEqual({ take: true, total: 2 });
    expect(reservoirStep(2, 2, 0.49)).toEqual({ take: true, total: 4 });
    expect(reservoirStep(2, 2, 0.5)).toEqual({ take: false, total: 4 });
    expect(reservoirStep(3, 0, 0)).toEqual({ take: false, total: 3 });
    expect(reservoirStep(0, 0, 0)).toEqual({ take: false, total: 0 });
    expect(reservoirStep(0, Number.NaN, 0)).toEqual({ take: false, total: 0 });
  });

  it('keeps candidate k with probability w_k / Σ w (within 4 standard errors over 60 000 rows)', () => {
    const weights = [0, 1, 2, 3, 0, 4];
    const total = weights.reduce((a, b) => a + b, 0);
    const rows = 60_000;
    const rng = new Rng(11);
    const kept = new Array<number>(weights.length).fill(0);
    for (let r = 0; r < rows; r++) {
      let w = 0;
      let keep = 0;
      weights.forEach((x, k) => {
        const s = reservoirStep(w, x, rng.uniform());
        w = s.total;
        if (s.take) keep = k;
      });
      kept[keep]!++;
    }
    weights.forEach((x, k) => {
      const p = x / total;
      expect(Math.abs(kept[k]! / rows - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / rows) + 1e-12);
    });
    expect(kept[0]).toBe(0);
    expect(kept[4]).toBe(0);
  });
});

describe('dpmerf sampling with resampling', () => {
  const n = 64;
  const data = toyConditionalImages(n, SIZE, 5);
  const condRows = encodeConditions(SPEC, Array.from(data.labels), [Array.from(data.sex)]);

  /** A dpmerf released exactly on the toy images and fitted for `steps` steps. */
  function fitted(resample: number, steps: number): DpMerf {
    const g = generatorFactory('dpmerf')!.create({ frequencies: 256, perCell: 16, resample }, SPEC, { size: SIZE, channels: 1 }, 3) as DpMerf;
    const images = data.images();
    const cond = tf.tensor2d(condRows, [n, 4]);
    try {
      g.releaseStatistics({ images, cond, unitOf: null }, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
    } finally {
      tf.dispose([images, cond]);
    }
    for (let s = 0; s < steps; s++) g.fitStep(s);
    return g;
  }

  it('with K = 1 is G\'s plain draw, with K > 1 gives the same bytes for the same seed, and leaks no tensors', () => {
    const plain = fitted(1, 2);
    const resampling = fitted(8, 2);
    const cond = tf.tensor2d(condRows.subarray(0, 8 * 4), [8, 4]);
    try {
      const a = tf.tidy(() => plain.sample(cond, 5).dataSync());
      const direct = tf.tidy(() => plain.decode(tf.randomNormal([8, 32], 0, 1, 'float32', 5) as tf.Tensor2D, cond).dataSync());
      expect(Array.from(a)).toEqual(Array.from(direct));
      const first = tf.tidy(() => resampling.sample(cond, 5).dataSync()); // draws and keeps the reference means
      const before = tf.memory().numTensors;
      const again = tf.tidy(() => resampling.sample(cond, 5).dataSync());
      const other = tf.tidy(() => resampling.sample(cond, 6).dataSync());
      expect(tf.memory().numTensors).toBe(before);
      expect(Array.from(again)).toEqual(Array.from(first));
      expect(Array.from(other)).not.toEqual(Array.from(first));
    } finally {
      cond.dispose();
      plain.dispose();
      resampling.dispose();
    }
  });

  it('moves the samples towards the release: released = the brighter half of G\'s own draws, per cell', () => {
    // Two models with the same seed hold the same G; one keeps its first draw, the other resamples 16.
    const make = (resample: number) => generatorFactory('dpmerf')!.create({ frequencies: 256, resample }, SPEC, { size: SIZE, channels: 1 }, 3) as DpMerf;
    const g = make(16);
    const plain = make(1);
    const m = 128;
    const rowsOf = (c: number, k: number) => tf.tensor2d(encodeConditions(SPEC, new Array<number>(k).fill(c >> 1), [new Array<number>(k).fill(c & 1)]), [k, 4]);
    try {
      const halves = [0, 1, 2, 3].map((c) =>
        tf.tidy(() => {
          const x = plain.sample(rowsOf(c, 2 * m), 100 + c);
          const brightness = tf.mean(x, [1, 2, 3]).dataSync();
          const brighter = Array.from(brightness.keys()).sort((a, b) => brightness[b]! - brightness[a]!).slice(0, m);
          return tf.gather(x, tf.tensor1d(brighter, 'int32')) as tf.Tensor4D;
        }),
      );
      const released = tf.tidy(() => ({ images: tf.concat(halves) as tf.Tensor4D, cond: tf.concat([0, 1, 2, 3].map((c) => rowsOf(c, m))) as tf.Tensor2D }));
      for (const x of [g, plain]) x.releaseStatistics({ ...released, unitOf: null }, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
      tf.dispose([released.images, released.cond]);
      for (let c = 0; c < 4; c++) {
        const [resampled, drawn] = tf.tidy(() => {
          const target = tf.mean(g.features(halves[c]!), 0);
          const cond = rowsOf(c, 256);
          const gap = (x: tf.Tensor4D) => tf.norm(tf.sub(tf.mean(g.features(x), 0), target)).dataSync()[0]!;
          return [gap(g.sample(cond, 7)), gap(plain.sample(cond, 7))];
        });
        // Measured 0.80-0.86 of the plain draw's gap (2026-12-05); importance weights turned the wrong way give > 1.
        expect(resampled / drawn).toBeLessThan(0.92);
      }
      tf.dispose(halves);
    } finally {
      g.dispose();
      plain.dispose();
    }
  });
});
