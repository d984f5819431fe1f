/**
 * Parameter-efficient DP fine-tuning (#18, item 2): a `trainable` option (cVAE) or `dTrainable` (DP-GAN's
 * discriminator) names the layers DP-SGD updates. A DP step must leave every frozen layer bit-identical,
 * move the trained ones, leak no tensor, and report both sets; a prefix that names no layer is refused with
 * the layer names. (That the clipping norm covers the trained layers alone is tested against a per-example
 * oracle in test/src/privacy/dp-sgd.test.ts.)
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Generator } from '../../models/generator.js';
import { cvaeFactory } from '../../models/cvae/index.js';
import { dpganFactory } from '../../models/dpgan/index.js';
import { initBackend } from '../../src/backend/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { TOY_SPEC, toyBatch, toyConditionalImages } from '../helpers/toy-images.js';

const SPEC = TOY_SPEC;
const data = toyConditionalImages(32, 28, 5);

const batch = (n: number) => toyBatch(data, n, 28);

const snapshot = (g: Generator) => new Map([...g.weights()].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/**
 * Four DP steps (the first two create the optimizers' moments, and the DP-GAN's first G step at dSteps 2;
 * the last two must not add a tensor); returns the weight names that changed and those that did not.
 */
function step(g: Generator): { moved: string[]; still: string[] } {
  const b = batch(16);
  const before = snapshot(g);
  const run = (s: number) => g.privateStep!({ ...b, grouping: null }, s, { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 3 + s });
  try {
    run(0);
    run(1);
    const n0 = tf.memory().numTensors;
    run(2);
    run(3);
    expect(tf.memory().numTensors).toBe(n0);
  } finally {
    tf.dispose([b.images, b.cond]);
  }
  const after = snapshot(g);
  const moved = [...before.keys()].filter((k) => !same(before.get(k)!, after.get(k)!));
  return { moved, still: [...before.keys()].filter((k) => !moved.includes(k)) };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('trainable layers under DP', () => {
  it('cVAE: trainable ["decoder/"] moves only the decoder; the encoder stays bit-identical', () => {
    const g = cvaeFactory.create({ trainable: ['decoder/'] }, SPEC, { size: 28, channels: 1 }, 1);
    try {
      expect(g.trainedPrivateLayers!().map((l) => l.name)).toEqual(['decoder/in', 'decoder/convt0', 'decoder/convt1']);
      expect(g.privateLayers!().length).toBe(6); // two convs, head, in, two convTs: all see the data
      const { moved, still } = step(g);
      expect(moved.length).toBe(6); // kernel and bias of the three trained layers
      expect(moved.every((k) => k.startsWith('decoder/'))).toBe(true);
      expect(still.filter((k) => k.startsWith('encoder/')).length).toBe(6);
      const arch = g.architecture();
      expect(arch.frozen).toEqual(['encoder/conv0', 'encoder/conv1', 'encoder/head']);
      expect(arch.trainedParameters).toBeLessThan(arch.parameters as number);
      expect(arch.trainedParameters).toBe(g.trainedPrivateLayers!().reduce((a, l) => a + l.params.reduce((s, v) => s + v.size, 0), 0));
    } finally {
      g.dispose();
    }
  });

  it('cVAE: without the option every layer trains (unchanged behaviour) and the card adds nothing', () => {
    const g = cvaeFactory.create({}, SPEC, { size: 28, channels: 1 }, 1);
    try {
      expect(g.trainedPrivateLayers!().length).toBe(g.privateLayers!().length);
      expect(step(g).still).toEqual([]);
      expect(g.architecture().frozen).toBeUndefined();
    } finally {
      g.dispose();
    }
  });

  it('DP-GAN: dTrainable [head, embed] moves only those in D; its convs and norms stay bit-identical', () => {
    // G trains (post-processing); only D's layers are checked.
    const g = dpganFactory.create({ dSteps: 2, dTrainable: ['discriminator/head', 'discriminator/embed'] }, SPEC, { size: 28, channels: 1 }, 2);
    try {
      const r = step(g);
      const moved = r.moved.filter((k) => k.startsWith('discriminator/'));
      const still = r.still.filter((k) => k.startsWith('discriminator/'));
      expect(r.moved.some((k) => k.startsWith('generator/'))).toBe(true);
      expect(moved.sort()).toEqual(['discriminator/embed/bias', 'discriminator/embed/kernel', 'discriminator/head/bias', 'discriminator/head/kernel']);
      expect(still.some((k) => k.startsWith('discriminator/conv'))).toBe(true);
      expect(g.architecture().discriminatorFrozen).toEqual(g.privateLayers!().filter((l) => !/head|embed/.test(l.name)).map((l) => l.name));
    } finally {
      g.dispose();
    }
  });

  it('refuses a prefix that names no layer, listing the layers', () => {
    expect(() => cvaeFactory.create({ trainable: ['decoder/last'] }, SPEC, { size: 28, channels: 1 }, 1)).toThrow(ConfigError);
    expect(() => cvaeFactory.create({ trainable: ['decoder/last'] }, SPEC, { size: 28, channels: 1 }, 1)).toThrow(/cvae option trainable: 'decoder\/last' names no layer \(layers: encoder\/conv0, .*decoder\/convt1\)/);
    expect(() => dpganFactory.create({ dTrainable: ['generator/'] }, SPEC, { size: 28, channels: 1 }, 1)).toThrow(/dpgan option dTrainable: 'generator\/' names no layer/);
  });
});
