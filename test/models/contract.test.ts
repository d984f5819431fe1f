// @module-tag slow (trains generators until they learn; see vitest.config.ts)
/**
 * The contract every registered generator passes (synthcity-style): it trains, samples the requested
 * number of images in [0, 1], honours the requested class and attribute, survives a save/load round trip
 * with identical samples, resumes from its optimiser state to the same weights as an uninterrupted run,
 * and leaks no tensors per step.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { generatorFactory, generatorKinds } from '../../models/registry.js';
import { initBackend } from '../../src/backend/index.js';
import { loadTensors, saveTensors } from '../../src/train/checkpoint.js';
import { regionMeans, toyConditionalImages } from '../helpers/toy-images.js';

const SIZE = 28;
const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };
const data = toyConditionalImages(256, SIZE, 7);

function batches(step: number, batch = 32) {
  const start = (step * batch) % 256;
  const idx = Array.from({ length: batch }, (_, i) => (start + i) % 256);
  return tf.tidy(() => {
    const all = data.images();
    const images = tf.gather(all, idx) as tf.Tensor4D;
    const cond = tf.tensor2d(
      encodeConditions(SPEC, idx.map((i) => data.labels[i]!), [idx.map((i) => data.sex[i]!)]),
      [batch, 4],
    );
    return { images, cond };
  });
}

/**
 * `to - from` training steps. A one-shot generator first releases its statistics of all 256 toy images
 * (exactly: σ = 0; the noise is tested in test/src/privacy/release.test.ts), then fits with no data.
 */
function train(g: Generator, from: number, to: number): Record<string, number> {
  let last: Record<string, number> = {};
  if (g.fitStep) {
    if (!g.isReleased!()) {
      const b = batchesAll();
      g.releaseStatistics!({ ...b, unitOf: null }, { clipNorm: 1, noiseMultiplier: 0, seed: 1 });
      tf.dispose([b.images, b.cond]);
    }
    for (let s = from; s < to; s++) last = g.fitStep(s);
    return last;
  }
  for (let s = from; s < to; s++) {
    const b = batches(s);
    last = g.trainStep(b, s);
    tf.dispose([b.images, b.cond]);
  }
  return last;
}

function batchesAll() {
  return tf.tidy(() => ({
    images: data.images(),
    cond: tf.tensor2d(encodeConditions(SPEC, Array.from(data.labels), [Array.from(data.sex)]), [256, 4]),
  }));
}

function condRows(label: number, sex: number, n: number): tf.Tensor2D {
  return tf.tensor2d(encodeConditions(SPEC, new Array(n).fill(label), [new Array(n).fill(sex)]), [n, 4]);
}

function weightsOf(g: Generator): Float32Array[] {
  return [...g.weights().values()].map((v) => v.dataSync() as Float32Array);
}

beforeAll(async () => {
  await initBackend('wasm');
});

/** Options that keep a generator's contract run small (the defaults are sized for real images). */
const SMALL: Record<string, Record<string, unknown>> = { dpmerf: { frequencies: 256, perCell: 16 } };
/**
 * Training steps of the first test, 250 unless a generator learns the toy task sooner. Measured at seed 1
 * (centre gap > 0.4, top-band gap > 0.3 required): the DP-GAN has 0.86 and 0.66 by step 125 and stays there
 * (0.89, 0.68 at 250); DP-MERF 0.71 and 0.64 by step 125 (0.74, 0.64 at 250). The cVAE needs all 250
 * (0.32, 0.55 at 200; 0.44, 0.62 at 250).
 */
const STEPS: Record<string, number> = { dpgan: 150, dpmerf: 150 };

describe.each(generatorKinds())('generator contract: %s', (kind) => {
  const make = (seed: number) => generatorFactory(kind)!.create(SMALL[kind] ?? {}, SPEC, { size: SIZE, channels: 1 }, seed);

  it('trains, samples n images in [0, 1], and honours class and attribute', () => {
    const g = make(1);
    try {
      const first = train(g, 0, 1);
      const last = train(g, 1, STEPS[kind] ?? 250);
      expect(Number.isFinite(last.loss!)).toBe(true);
      expect(last.loss!).toBeLessThan(first.loss!);
      const n = 24;
      const region = (label: number, sex: number) =>
        tf.tidy(() => {
          const c = condRows(label, sex, n);
          const s = g.sample(c, 5);
          expect(s.shape).toEqual([n, SIZE, SIZE, 1]);
          const v = s.dataSync() as Float32Array;
          expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
          expect(Math.max(...v)).toBeLessThanOrEqual(1);
          return regionMeans(v, n, SIZE);
        });
      // Class: bright centre (0.9) vs dark centre (0.05). Attribute: top band (0.85) vs background (0.2).
      expect(region(1, 0).centre - region(0, 0).centre).toBeGreaterThan(0.4);
      expect(region(0, 1).top - region(0, 0).top).toBeGreaterThan(0.3);
    } finally {
      g.dispose();
    }
  });

  it('gives the same samples after a save/load round trip, and the same seed gives the same bytes', async () => {
    const g = make(2);
    const h = make(99);
    const dir = mkdtempSync(join(tmpdir(), 'medsynth-gen-'));
    try {
      train(g, 0, 5);
      await saveTensors(dir, 'model', { kind }, g.weights());
      const saved = loadTensors(dir, 'model');
      for (const [name, v] of h.weights()) v.assign(saved.tensors.get(name)!);
      tf.dispose([...saved.tensors.values()]);
      const [a, a2, b] = tf.tidy(() => {
        const c = condRows(1, 1, 6);
        return [g.sample(c, 11).dataSync(), g.sample(c, 11).dataSync(), h.sample(c, 11).dataSync()];
      });
      expect(Array.from(a2!)).toEqual(Array.from(a!));
      expect(Array.from(b!)).toEqual(Array.from(a!));
    } finally {
      g.dispose();
      h.dispose();
    }
  });

  it('resumes from weights + optimiser state to the same weights as an uninterrupted run', () => {
    const straight = make(3);
    const first = make(3);
    // Same seed (a checkpoint records it), but weights zeroed: they must all come from the checkpoint.
    const resumed = make(3);
    try {
      tf.tidy(() => resumed.weights().forEach((v) => v.assign(tf.zerosLike(v))));
      train(straight, 0, 6);
      train(first, 0, 3);
      for (const [name, v] of resumed.weights()) v.assign(first.weights().get(name)!);
      const st = first.optimizerState();
      resumed.restoreOptimizerState({ step: st.step, slots: new Map(st.slots) });
      train(resumed, 3, 6);
      const a = weightsOf(straight);
      const b = weightsOf(resumed);
      a.forEach((w, i) => expect(Array.from(b[i]!)).toEqual(Array.from(w)));
    } finally {
      [straight, first, resumed].forEach((g) => g.dispose());
    }
  });

  it('leaks no tensors per training step', () => {
    const g = make(4);
    try {
      train(g, 0, 2); // burn-in: optimiser slots appear on the first step
      const before = tf.memory().numTensors;
      train(g, 2, 6);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      g.dispose();
    }
  });
});
