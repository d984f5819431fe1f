/**
 * Gradients of the non-conv ops that medsynth's models train with (dense, activations, reductions,
 * normalisation, losses, shape ops), wasm vs the cpu oracle, on random shapes: max|a − b| / max|b| ≤ 1e-4.
 * The conv ops have their own test (wasm-kernels.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, setNativeKernelsEnabled } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';
import { maxDiff } from '../../helpers/compare.js';

type Op = { name: string; arity: 1 | 2; shapes: (r: number, c: number) => number[][]; f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor };

const OPS: Op[] = [
  { name: 'matMul', arity: 2, shapes: (r, c) => [[r, c], [c, r + 1]], f: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D) },
  { name: 'matMul(aT)', arity: 2, shapes: (r, c) => [[c, r], [c, r + 2]], f: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, false) },
  { name: 'matMul(bT)', arity: 2, shapes: (r, c) => [[r, c], [r + 3, c]], f: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true) },
  { name: 'dense+bias', arity: 2, shapes: (r, c) => [[r, c], [c]], f: (a, b) => tf.add(tf.matMul(a as tf.Tensor2D, tf.ones([a.shape[1]!, a.shape[1]!]) as tf.Tensor2D), b) },
  { name: 'relu', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.relu(a) },
  { name: 'leakyRelu', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.leakyRelu(a, 0.2) },
  { name: 'sigmoid', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.sigmoid(a) },
  { name: 'tanh', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.tanh(a) },
  { name: 'exp', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.exp(tf.mul(a, 0.5)) },
  { name: 'softplus', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.softplus(a) },
  { name: 'square+sqrt', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.sqrt(tf.add(tf.square(a), 1)) },
  { name: 'sum(axis)', arity: 1, shapes: (r, c) => [[r, c, 3]], f: (a) => tf.sum(a, [1, 2]) },
  { name: 'mean(axis)', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.mean(a, 0) },
  { name: 'max(axis)', arity: 1, shapes: (r, c) => [[r, c]], f: (a) => tf.max(a, 1) },
  { name: 'moments/normalise', arity: 1, shapes: (r, c) => [[r, c, 4]], f: (a) => {
    const { mean, variance } = tf.moments(a, [1, 2], true);
    return tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5)));
  } },
  { name: 'sigmoidCrossEntropy', arity: 2, shapes: (r, c) => [[r, c], [r, c]], f: (a, b) => tf.losses.sigmoidCrossEntropy(tf.sigmoid(b), a, undefined, undefined, tf.Reduction.NONE) },
  { name: 'softmaxCrossEntropy', arity: 2, shapes: (r, c) => [[r, c + 1], [r, c + 1]], f: (a, b) => tf.losses.softmaxCrossEntropy(tf.softmax(b), a) },
  { name: 'concat/slice/reshape', arity: 2, shapes: (r, c) => [[r, c], [r, 2]], f: (a, b) => tf.reshape(tf.slice(tf.concat([a, b], 1), [0, 1], [r0(a), c0(a)]), [-1]) },
  { name: 'concat channels (NHWC)', arity: 2, shapes: (r, c) => [[r, c, 3, 1], [r, c, 3, 4]], f: (a, b) => tf.concat([a, b], 3) },
  { name: 'tile/broadcast mul', arity: 2, shapes: (r, c) => [[r, 1, 1, 2], [r, c, c, 2]], f: (a, b) => tf.mul(tf.tile(a, [1, c1(b), c1(b), 1]), b) },
];
function r0(t: tf.Tensor) { return t.shape[0]!; }
function c0(t: tf.Tensor) { return t.shape[1]!; }
function c1(t: tf.Tensor) { return t.shape[1]!; }

async function grads(backend: 'cpu' | 'wasm', op: Op, r: number, c: number, seed: number): Promise<Float32Array[]> {
  await initBackend(backend);
  const rng = new Rng(seed);
  return tf.tidy(() => {
    const shapes = op.shapes(r, c);
    const inputs = shapes.map((s) => tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()), s));
    const y0 = op.f(inputs[0]!, inputs[1]!);
    const weights = tf.tensor(Float32Array.from({ length: y0.size }, () => rng.normal()), y0.shape);
    const g =
      op.arity === 2
        ? tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op.f(a, b), weights)))
        : tf.grads((a: tf.Tensor) => tf.sum(tf.mul(op.f(a, a), weights)));
    return g(inputs).map((t) => t.dataSync() as Float32Array);
  });
}

const hasNative = loadNativeAddon() !== null;

describe('leakyRelu gradient (replaced by src/backend/gradients.ts)', () => {
  it('is 1 for x > 0 and alpha for x <= 0, on both backends', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.leakyRelu(x, 0.2)))(tf.tensor1d([-2, -0.5, 0, 0.5, 3])).arraySync());
      expect(g).toEqual([0.2, 0.2, 0.2, 1, 1].map((v) => Math.fround(v)));
    }
  });
});

describe.each([
  ['wasm kernels', false],
  ['native oneDNN matmul', true],
] as const)('gradients on wasm (%s) match the cpu oracle', (_label, native) => {
  it.skipIf(native && !hasNative).each(OPS.map((o) => [o.name, o] as const))('%s, on random shapes', async (_name, op) => {
    setNativeKernelsEnabled(native);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.nat(10_000), async (r, c, seed) => {
        const ref = await grads('cpu', op, r, c, seed);
        const got = await grads('wasm', op, r, c, seed);
        ref.forEach((rv, i) => {
          const { diff, scale } = maxDiff(got[i]!, rv);
          expect(diff, `${op.name} input ${i}, r=${r} c=${c} seed=${seed}`).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-6));
        });
      }),
      { numRuns: 15, seed: 42 },
    );
    setNativeKernelsEnabled(true);
  });
});
