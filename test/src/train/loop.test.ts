/**
 * The shared training loop's epoch summary: each loss term is averaged over the steps that reported it.
 * A DP-GAN with 2 D steps per G step reports its G loss on every second step only; the epoch mean of that
 * term must be the mean of those steps' values, not half of it.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeConditions, type ConditionSpec } from '../../../models/generator.js';
import { dpganFactory } from '../../../models/dpgan/index.js';
import { initBackend } from '../../../src/backend/index.js';
import { trainLoop, type EpochSummary } from '../../../src/train/loop.js';
import { toyConditionalImages } from '../../helpers/toy-images.js';

const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [] };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('trainLoop epoch summary', () => {
  it('averages each loss term over the steps that reported it', async () => {
    const toy = toyConditionalImages(64, 28, 3);
    const images = toy.images();
    const cond = tf.tensor2d(encodeConditions(SPEC, Array.from(toy.labels), []), [64, 2]);
    const gen = dpganFactory.create({ dSteps: 2 }, SPEC, { size: 28, channels: 1 }, 1);
    const reported: Record<string, number[]> = {};
    let epoch: EpochSummary | null = null;
    try {
      await trainLoop(gen, { images, cond }, {
        epochs: 1,
        batchSize: 16,
        seed: 1,
        checkpoint: async () => {},
        onProgress: (p) => {
          for (const [k, v] of Object.entries(p.losses)) (reported[k] ??= []).push(v);
        },
        onEpoch: (e) => {
          epoch = e;
        },
      });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(reported.loss).toHaveLength(4);
      expect(reported.g).toHaveLength(2); // steps 2 and 4 end a cycle of 2 D steps
      expect(epoch!.losses.g).toBeCloseTo(mean(reported.g!), 10);
      expect(epoch!.losses.loss).toBeCloseTo(mean(reported.loss!), 10);
    } finally {
      gen.dispose();
      tf.dispose([images, cond]);
    }
  });
});
