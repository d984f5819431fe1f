import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { FusedAdam } from '../../../src/nn/optim.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface AdamFixture {
  lr: number; beta1: number; beta2: number; epsilon: number; init: number[]; grads: number[][]; params_after_each_step: number[][];
}
const fx = loadFixture<AdamFixture>('adam');

describe.each(['wasm', 'cpu'] as const)('FusedAdam on %s', (backend) => {
  it('matches the hand-calculated Adam steps', async () => {
    await initBackend(backend);
    const p = tf.variable(tf.tensor1d(fx.init), true, `adam-test-${backend}`);
    const opt = new FusedAdam({ learningRate: fx.lr, beta1: fx.beta1, beta2: fx.beta2, epsilon: fx.epsilon });
    fx.grads.forEach((g, t) => {
      const gt = tf.tensor1d(g);
      opt.applyGradients([[p, gt]]);
      gt.dispose();
      const got = Array.from(p.dataSync());
      got.forEach((v, i) => expect(v).toBeCloseTo(fx.params_after_each_step[t]![i]!, 6));
    });
    opt.dispose();
    p.dispose();
  });

  it('equals tfjs AdamOptimizer with the same epsilon, and does not leak', async () => {
    await initBackend(backend);
    const init = tf.randomNormal([40, 7], 0, 1, 'float32', 3);
    const target = tf.randomNormal([40, 7], 0, 1, 'float32', 4);
    const a = tf.variable(init.clone(), true, `adam-a-${backend}`);
    const b = tf.variable(init.clone(), true, `adam-b-${backend}`);
    const fused = new FusedAdam({ learningRate: 0.05, beta1: 0.5, beta2: 0.99, epsilon: 1e-7 });
    const ref = tf.train.adam(0.05, 0.5, 0.99, 1e-7);
    const loss = (v: tf.Variable) => () => tf.sum(tf.square(tf.sub(tf.sin(v), target))) as tf.Scalar;
    fused.minimize(loss(a), [a]).dispose(); // burn-in: slots are created on the first step
    ref.minimize(loss(b), false, [b]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      fused.minimize(loss(a), [a]).dispose();
      ref.minimize(loss(b), false, [b]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-5);
    fused.dispose();
    ref.dispose();
    tf.dispose([init, target, a, b]);
  });
});
