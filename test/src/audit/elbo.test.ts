/**
 * The cVAE's per-image negative ELBO (models/cvae/index.ts `elbo`, used by the audit's white-box attack)
 * agrees with the training objective: with the same noise seed, its batch mean is the loss of `losses()`
 * at beta = 1 (rec + KL), for both likelihoods; it is per image (each image's value does not depend on
 * the rest of the batch's values) and leaks no tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cvaeFactory, type Cvae } from '../../../models/cvae/index.js';
import { encodeConditions, type ConditionSpec } from '../../../models/generator.js';
import { initBackend } from '../../../src/backend/index.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';

const SPEC: ConditionSpec = { labels: ['a', 'b'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('Cvae.elbo', () => {
  it.each([{ likelihood: 'bernoulli' }, { likelihood: 'gaussian', sigma: 0.2 }])('matches losses() at beta = 1 (%o)', (config) => {
    const gen = cvaeFactory.create({ ...config, beta: 1 }, SPEC, { size: 28, channels: 1 }, 3) as Cvae;
    const toy = toyConditionalImages(6, 28, 4);
    try {
      tf.tidy(() => {
        const images = toy.images();
        const cond = tf.tensor2d(encodeConditions(SPEC, toy.labels, [toy.sex]), [6, 4]);
        const per = gen.elbo(images, cond, 11);
        expect(per.shape).toEqual([6]);
        const t = gen.losses({ images, cond }, 0, 11);
        expect(tf.mean(per).dataSync()[0]!).toBeCloseTo(t.loss.dataSync()[0]!, 2);
        // Per image: the first image alone, with the same noise row, gives the same value.
        const first = gen.elbo(images.slice(0, 1), cond.slice(0, 1), 11).dataSync()[0]!;
        expect(first).toBeCloseTo(per.dataSync()[0]!, 2);
      });
      const images = toy.images();
      const cond = tf.tensor2d(encodeConditions(SPEC, toy.labels, [toy.sex]), [6, 4]);
      tf.dispose(gen.elbo(images, cond, 1));
      const before = tf.memory().numTensors;
      tf.dispose(gen.elbo(images, cond, 2));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([images, cond]);
    } finally {
      gen.dispose();
    }
  });
});
