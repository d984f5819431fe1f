/**
 * DP-GAN specifics (the shared contract is in contract.test.ts): DP on the discriminator only — a DP step
 * changes D through DP-SGD and leaves G's update to the fakes — the discriminator has no BatchNorm, and a
 * generator that stops learning is reported as collapsed.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GeneratorCollapsedError, encodeConditions, type ConditionSpec } from '../../models/generator.js';
import { Dpgan, dpganFactory } from '../../models/dpgan/index.js';
import { initBackend } from '../../src/backend/index.js';
import { BatchNorm, GroupNorm } from '../../src/nn/layers.js';
import { dpViolations } from '../../src/privacy/validate.js';
import { toyConditionalImages } from '../helpers/toy-images.js';

const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };
const data = toyConditionalImages(64, 28, 3);

function batch(n: number) {
  return tf.tidy(() => ({
    images: tf.slice(data.images(), [0, 0, 0, 0], [n, 28, 28, 1]) as tf.Tensor4D,
    cond: tf.tensor2d(encodeConditions(SPEC, Array.from(data.labels.slice(0, n)), [Array.from(data.sex.slice(0, n))]), [n, 4]),
  }));
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('dpgan', () => {
  it('keeps BatchNorm out of the discriminator, so the DP validators accept it', () => {
    const g = dpganFactory.create({}, SPEC, { size: 28, channels: 1 }, 1) as Dpgan;
    try {
      const priv = g.privateLayers();
      expect(priv.some((l) => l instanceof BatchNorm)).toBe(false);
      expect(priv.some((l) => l instanceof GroupNorm)).toBe(true);
      expect(priv.every((l) => l.name.startsWith('discriminator/'))).toBe(true);
      expect(dpViolations({ privateLayers: priv, units: 1000, delta: 1e-5, sampling: 'poisson', clipNorm: 1, noiseMultiplier: 1 })).toEqual([]);
    } finally {
      g.dispose();
    }
  });

  it('a DP step updates the discriminator; the generator moves only on its own step, and no tensor leaks', () => {
    const g = dpganFactory.create({ dSteps: 2 }, SPEC, { size: 28, channels: 1 }, 2) as Dpgan;
    const b = batch(16);
    try {
      const snap = () => new Map([...g.weights()].map(([k, v]) => [k, Array.from(v.dataSync().slice(0, 8))]));
      const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
      const w0 = snap();
      const l0 = g.privateStep({ ...b, grouping: null }, 0, dp); // D only (step 0 of a 2-step cycle)
      const w1 = snap();
      const changed = (a: Map<string, number[]>, c: Map<string, number[]>, prefix: string) =>
        [...a.keys()].filter((k) => k.startsWith(prefix) && !k.includes('moving')).some((k) => a.get(k)!.join() !== c.get(k)!.join());
      expect(changed(w0, w1, 'discriminator/')).toBe(true);
      expect(changed(w0, w1, 'generator/')).toBe(false);
      expect(l0.g).toBeUndefined();
      const l1 = g.privateStep({ ...b, grouping: null }, 1, dp); // D, then G
      expect(Number.isFinite(l1.g!)).toBe(true);
      expect(changed(w1, snap(), 'generator/')).toBe(true);
      // An empty Poisson batch is still a (noise-only) D step.
      const empty = { images: tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, cond: tf.zeros([0, 4]) as tf.Tensor2D, grouping: null };
      g.privateStep(empty, 2, dp);
      const before = tf.memory().numTensors;
      g.privateStep({ ...b, grouping: null }, 3, dp);
      g.privateStep(empty, 4, dp);
      g.privateStep({ ...b, grouping: null }, 5, dp);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([empty.images, empty.cond]);
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
    }
  });

  it('reports collapse when the generator stops learning and the discriminator rejects every fake', () => {
    // G never steps (dSteps 1000) while D trains fast: D soon rejects all fakes.
    const g = dpganFactory.create({ dSteps: 1000, lr: 5e-3, collapseWindow: 10 }, SPEC, { size: 28, channels: 1 }, 3);
    const b = batch(32);
    try {
      let err: unknown = null;
      for (let s = 0; s < 300 && !err; s++) {
        try {
          g.trainStep(b, s);
        } catch (e) {
          err = e;
        }
      }
      expect(err).toBeInstanceOf(GeneratorCollapsedError);
      expect((err as Error).message).toMatch(/collapsed at step \d+: the discriminator has rejected >= 99% of generated images for 10 steps in a row/);
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
    }
  });
});
