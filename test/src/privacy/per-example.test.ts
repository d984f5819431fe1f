/**
 * Oracle test (opacus grad_samples style): per-example gradient norms and the clipped sum computed in one
 * batched pass equal a loop of batch-of-one tf.grads, to 1e-5 relative, for a dense network.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { Conv2d, ConvTranspose2d, Dense, GroupNorm, disposeLayers, paramsOf, type Tape } from '../../../src/nn/layers.js';
import { clipFactors } from '../../../src/privacy/clip-noise.js';
import { CaptureTape, clippedSum, perExampleNorms } from '../../../src/privacy/per-example.js';
import { maxDiff } from '../../helpers/compare.js';

/**
 * The oracle: a loop of batch-of-one tf.grads. Checks each example's squared gradient norm against
 * `squaredNorms` and the clipped sum (clip norm C) against `sums`, both to 1e-5 relative.
 */
function checkAgainstLoop(
  params: tf.Variable[],
  lossOfExample: (i: number) => tf.Scalar,
  b: number,
  squaredNorms: Float32Array,
  sums: Map<tf.Variable, tf.Tensor>,
  clipNorm: number,
): void {
  const expectedSum = params.map((p) => new Float64Array(p.size));
  for (let i = 0; i < b; i++) {
    const { grads } = tf.variableGrads(() => lossOfExample(i), params);
    const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
    const norm2 = gs.reduce((a, g) => a + g.reduce((s2, v) => s2 + v * v, 0), 0);
    expect(Math.abs(squaredNorms[i]! - norm2) / norm2, `example ${i}`).toBeLessThan(1e-5);
    const c = Math.min(1, clipNorm / Math.sqrt(norm2));
    gs.forEach((g, k) => g.forEach((v, j) => (expectedSum[k]![j]! += c * v)));
    tf.dispose(Object.values(grads));
  }
  params.forEach((p, k) => {
    const { diff, scale } = maxDiff(sums.get(p)!.dataSync(), expectedSum[k]!);
    expect(diff, p.name).toBeLessThanOrEqual(1e-5 * scale);
  });
}

describe.each(['wasm', 'cpu'] as const)('per-example gradients on %s', (backend) => {
  it('equal a loop of batch-of-one gradients: norms and clipped sum', async () => {
    await initBackend(backend);
    const rng = new Rng(5);
    const l1 = new Dense('pe/d1', 6, 8, rng);
    const l2 = new Dense('pe/d2', 8, 3, rng);
    const params = paramsOf([l1, l2]);
    const b = 7;
    const x = tf.tensor2d(Float32Array.from({ length: b * 6 }, () => rng.normal()), [b, 6]);
    const y = tf.tensor2d(Float32Array.from({ length: b * 3 }, () => rng.normal()), [b, 3]);
    const perExampleLoss = (xi: tf.Tensor, yi: tf.Tensor, tape?: Tape) =>
      tf.sum(tf.square(tf.sub(l2.apply(tf.tanh(l1.apply(xi, { tape })), { tape }), yi)), 1);

    // Batched.
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, y, t)) as tf.Scalar, tape);
    const factors = Float32Array.from(clipFactors(r.squaredNorms, 0.5));
    const sums = clippedSum(tape, factors);

    checkAgainstLoop(
      params,
      (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0], [1, 6]), tf.slice(y, [i, 0], [1, 3]))) as tf.Scalar,
      b,
      r.squaredNorms,
      sums,
      0.5,
    );
    tf.dispose([...sums.values(), x, y]);
    tape.dispose();
    disposeLayers([l1, l2]);
  });

  it('leaks no tensors per step', async () => {
    await initBackend(backend);
    const rng = new Rng(6);
    const l1 = new Dense('pe/m1', 4, 5, rng);
    const x = tf.tensor2d(Float32Array.from({ length: 12 }, () => rng.normal()), [3, 4]);
    const step = () => {
      const tape = new CaptureTape();
      const r = perExampleNorms(x, (xi, t) => tf.sum(tf.square(l1.apply(xi, { tape: t }))) as tf.Scalar, tape);
      const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, 1)));
      tf.dispose([...sums.values()]);
      tape.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeLayers([l1]);
  });

  it('equal a loop of batch-of-one gradients for conv and transposed-conv layers', async () => {
    await initBackend(backend);
    const rng = new Rng(8);
    const conv = new Conv2d('pe/conv', 2, 3, 4, 2, 'same', rng);
    const convT = new ConvTranspose2d('pe/convt', 3, 2, 4, 2, 'same', rng);
    const conv3 = new Conv2d('pe/conv3', 2, 2, 3, 1, 'same', rng);
    const params = paramsOf([conv, convT, conv3]);
    const b = 5;
    const x = tf.tensor4d(Float32Array.from({ length: b * 8 * 8 * 2 }, () => rng.normal()), [b, 8, 8, 2]);
    const y = tf.tensor4d(Float32Array.from({ length: b * 8 * 8 * 2 }, () => rng.normal()), [b, 8, 8, 2]);
    const perExampleLoss = (xi: tf.Tensor, yi: tf.Tensor, tape?: Tape) => {
      const h = tf.tanh(conv.apply(xi, { tape }));
      const o = conv3.apply(tf.tanh(convT.apply(h, { tape })), { tape });
      return tf.sum(tf.square(tf.sub(o, yi)), [1, 2, 3]);
    };
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, y, t)) as tf.Scalar, tape);
    const factors = Float32Array.from(clipFactors(r.squaredNorms, 0.3));
    const sums = clippedSum(tape, factors);
    checkAgainstLoop(
      params,
      (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0, 0, 0], [1, 8, 8, 2]), tf.slice(y, [i, 0, 0, 0], [1, 8, 8, 2]))) as tf.Scalar,
      b,
      r.squaredNorms,
      sums,
      0.3,
    );
    tf.dispose([...sums.values(), x, y]);
    tape.dispose();
    disposeLayers([conv, convT, conv3]);
  });

  it('equal a loop of batch-of-one gradients for GroupNorm and valid-padded conv layers', async () => {
    await initBackend(backend);
    const rng = new Rng(9);
    const conv = new Conv2d('pe/gconv', 2, 4, 3, 2, 'valid', rng);
    const gn = new GroupNorm('pe/gn', 4, 2);
    const head = new Dense('pe/ghead', 4 * 3 * 3, 1, rng);
    // Non-trivial gamma and beta, so their gradients are not symmetric.
    gn.gamma.assign(tf.tensor1d([0.5, 1.5, -1, 2]));
    gn.beta.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
    const params = paramsOf([conv, gn, head]);
    const b = 4;
    const x = tf.tensor4d(Float32Array.from({ length: b * 7 * 7 * 2 }, () => rng.normal()), [b, 7, 7, 2]);
    const perExampleLoss = (xi: tf.Tensor, tape?: Tape) => {
      const h = tf.leakyRelu(gn.apply(conv.apply(xi, { tape }), { tape }), 0.2);
      return tf.square(head.apply(tf.reshape(h, [xi.shape[0]!, -1]), { tape }));
    };
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, t)) as tf.Scalar, tape);
    const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, 0.2)));
    checkAgainstLoop(params, (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0, 0, 0], [1, 7, 7, 2]))) as tf.Scalar, b, r.squaredNorms, sums, 0.2);
    tf.dispose([...sums.values(), x]);
    tape.dispose();
    disposeLayers([conv, gn, head]);
  });

  it('clip the SUM of a patient\'s image gradients: unit norms equal a loop over patients, and a 3-image patient contributes at most C', async () => {
    await initBackend(backend);
    const rng = new Rng(10);
    const conv = new Conv2d('pe/uconv', 1, 3, 3, 1, 'same', rng);
    const head = new Dense('pe/uhead', 3 * 5 * 5, 2, rng);
    const params = paramsOf([conv, head]);
    // 6 images of 3 patients: patient 0 has images 0, 2, 5; patient 1 has 1; patient 2 has 3, 4.
    const unitOf = Int32Array.from([0, 1, 0, 2, 2, 0]);
    const members = [[0, 2, 5], [1], [3, 4]];
    const b = 6;
    const x = tf.tensor4d(Float32Array.from({ length: b * 25 }, () => rng.normal()), [b, 5, 5, 1]);
    const perExampleLoss = (xi: tf.Tensor, tape?: Tape) =>
      tf.sum(tf.square(head.apply(tf.reshape(tf.tanh(conv.apply(xi, { tape })), [xi.shape[0]!, -1]), { tape })), 1);
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, t)) as tf.Scalar, tape, { unitOf, units: 3 });
    expect(r.squaredNorms.length).toBe(3);
    const clip = 0.05;
    const unitFactors = clipFactors(r.squaredNorms, clip);
    const imageFactors = Float32Array.from(unitOf, (u) => unitFactors[u]!);
    const sums = clippedSum(tape, imageFactors);
    // Oracle: the gradient of each patient's summed loss, by tf.grads on just that patient's images.
    const expectedSum = params.map((p) => new Float64Array(p.size));
    members.forEach((imgs, u) => {
      const { grads } = tf.variableGrads(() => tf.sum(perExampleLoss(tf.gather(x, imgs))) as tf.Scalar, params);
      const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
      const norm2 = gs.reduce((a, g) => a + g.reduce((s2, v) => s2 + v * v, 0), 0);
      expect(Math.abs(r.squaredNorms[u]! - norm2) / norm2, `patient ${u}`).toBeLessThan(1e-5);
      const c = Math.min(1, clip / Math.sqrt(norm2));
      gs.forEach((g, k) => g.forEach((v, j) => (expectedSum[k]![j]! += c * v)));
      tf.dispose(Object.values(grads));
    });
    params.forEach((p, k) => {
      const { diff, scale } = maxDiff(sums.get(p)!.dataSync(), expectedSum[k]!);
      expect(diff, p.name).toBeLessThanOrEqual(1e-5 * scale);
    });
    // The 3-image patient alone: its clipped contribution has norm at most C (the image-level norms of
    // its images may each be near C, so per-image clipping would have allowed up to 3C).
    const alone = clippedSum(tape, Float32Array.from(unitOf, (u) => (u === 0 ? unitFactors[0]! : 0)));
    const norm0 = Math.sqrt(params.reduce((a, p) => a + (alone.get(p)!.dataSync() as Float32Array).reduce((s2, v) => s2 + v * v, 0), 0));
    expect(norm0).toBeLessThanOrEqual(clip * (1 + 1e-5));
    expect(norm0).toBeGreaterThan(clip * 0.99); // it was clipped, not zeroed
    tf.dispose([...sums.values(), ...alone.values(), x]);
    tape.dispose();
    disposeLayers([conv, head]);
  });
});
