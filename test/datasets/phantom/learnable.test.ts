// @module-tag slow (trains a classifier until it learns; see vitest.config.ts)
/**
 * The learnability check: a tiny CNN trained on a default-config phantom separates disease from
 * healthy images of unseen patients with balanced accuracy >= 0.90. (Plain accuracy would be meaningless
 * at a 10 % disease rate: "always healthy" already scores 0.90.)
 *
 * Data: 1200 images at 32×32 from a fixed seed, split by patient and stratified by label (a quarter of the
 * diseased and of the healthy patients are held out), so no patient is in both sets. Each image is
 * standardised to zero mean and unit variance.
 *
 * Model: three 3×3 convolutions with stride 2 and ReLU (8, 16, 16 filters; 32 → 16 → 8 → 4 pixels), global
 * max pool, dense 2, softmax cross-entropy, Adam (lr 0.005), 6 epochs. Two convolutions were tried first:
 * their 7-pixel receptive field is smaller than the larger lesions (up to ~6 pixels across at 32×32, more
 * when two overlap) and held-out balanced accuracy stalled near 0.85; the third layer widens it to 15.
 * Balanced minibatches of 32: each epoch shows every healthy training image once, each paired with a
 * diseased training image drawn with replacement; every training image is mirrored left-right with
 * probability 1/2 and shifted by up to 2 pixels (edge pixels repeated). Weights are He-normal from our
 * seeded Rng, so the run is deterministic.
 *
 * Backend: wasm, with medsynth's conv-gradient kernels (src/backend/wasm-kernels.ts; tfjs's wasm backend
 * alone has no Conv2DBackpropFilter).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { generatePhantom } from '../../../datasets/phantom/index.js';

const SIZE = 32;
const STRIDE = 2;
const K = 3;

function heNormal(rng: Rng, shape: number[], fanIn: number): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const sd = Math.sqrt(2 / fanIn);
  const values = Float32Array.from({ length: n }, () => sd * rng.normal());
  return tf.tidy(() => tf.variable(tf.tensor(values, shape)));
}

function zerosVar(n: number): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zeros([n])));
}

function balancedAccuracy(truth: number[], pred: ArrayLike<number>): { bacc: number; tpr: number; tnr: number } {
  let tp = 0;
  let tn = 0;
  let pos = 0;
  let neg = 0;
  truth.forEach((t, i) => {
    if (t === 1) {
      pos++;
      if (pred[i] === 1) tp++;
    } else {
      neg++;
      if (pred[i] === 0) tn++;
    }
  });
  const tpr = tp / pos;
  const tnr = tn / neg;
  return { bacc: (tpr + tnr) / 2, tpr, tnr };
}

describe('phantom learnability', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('a small CNN separates disease from healthy at >= 90% balanced accuracy on held-out patients', () => {
    const t0 = performance.now();
    const data = generatePhantom({ n: 1200, size: SIZE, seed: 20240611 });
    const tGen = performance.now() - t0;
    const rng = new Rng(99);

    // Split by patient, stratified by label: a quarter of the diseased and of the healthy patients.
    const testPatients = new Set<string>();
    const split = rng.derive('split');
    for (const label of [0, 1]) {
      const group = [...new Set(data.rows.filter((r) => r.label === label).map((r) => r.patient_id))];
      split.shuffle(group);
      group.slice(0, Math.round(group.length * 0.25)).forEach((p) => testPatients.add(p));
    }
    const trainIdx: number[] = [];
    const testIdx: number[] = [];
    data.rows.forEach((r, i) => (testPatients.has(r.patient_id) ? testIdx : trainIdx).push(i));
    const labels = data.rows.map((r) => r.label as number);
    const testPos = testIdx.filter((i) => labels[i] === 1).length;
    expect(testPos).toBeGreaterThanOrEqual(20); // enough diseased test images for the metric to mean something

    // Each image standardised to zero mean and unit variance; optional mirror and shift per image.
    const px = SIZE * SIZE;
    const toTensor = (idx: number[], aug?: Rng): tf.Tensor4D => {
      const buf = new Float32Array(idx.length * px);
      idx.forEach((src, j) => {
        const img = data.pixels[src]!;
        let mean = 0;
        for (let k = 0; k < px; k++) mean += img[k]!;
        mean /= px;
        let ss = 0;
        for (let k = 0; k < px; k++) ss += (img[k]! - mean) ** 2;
        const inv = 1 / Math.sqrt(ss / px + 1e-6);
        const flip = aug ? aug.bernoulli(0.5) : false;
        const dx = aug ? aug.int(5) - 2 : 0;
        const dy = aug ? aug.int(5) - 2 : 0;
        for (let y = 0; y < SIZE; y++) {
          const sy = Math.min(SIZE - 1, Math.max(0, y + dy));
          for (let x = 0; x < SIZE; x++) {
            const tx = Math.min(SIZE - 1, Math.max(0, x + dx));
            const sx = flip ? SIZE - 1 - tx : tx;
            buf[j * px + y * SIZE + x] = (img[sy * SIZE + sx]! - mean) * inv;
          }
        }
      });
      return tf.tensor4d(buf, [idx.length, SIZE, SIZE, 1]);
    };

    const before = tf.memory().numTensors;
    const init = rng.derive('init');
    const w1 = heNormal(init, [K, K, 1, 8], K * K);
    const w2 = heNormal(init, [K, K, 8, 16], K * K * 8);
    const w3 = heNormal(init, [K, K, 16, 16], K * K * 16);
    const wd = heNormal(init, [16, 2], 16);
    const [b1, b2, b3, bd] = [zerosVar(8), zerosVar(16), zerosVar(16), zerosVar(2)];
    const conv = (x: tf.Tensor4D, w: tf.Variable) => tf.conv2d(x, w as tf.Tensor4D, STRIDE, 'same');
    const forward = (x: tf.Tensor4D): tf.Tensor2D => {
      const h1 = tf.relu(tf.add(conv(x, w1), b1)) as tf.Tensor4D;
      const h2 = tf.relu(tf.add(conv(h1, w2), b2)) as tf.Tensor4D;
      const h3 = tf.relu(tf.add(conv(h2, w3), b3)) as tf.Tensor4D;
      return tf.add(tf.matMul(tf.max(h3, [1, 2]), wd), bd) as tf.Tensor2D;
    };
    const optimizer = tf.train.adam(0.005);

    const pos = trainIdx.filter((i) => labels[i] === 1);
    const neg = trainIdx.filter((i) => labels[i] === 0);
    const order = rng.derive('batches');
    const aug = rng.derive('augment');
    const batch = 32;
    for (let epoch = 0; epoch < 6; epoch++) {
      const items: number[] = [];
      for (const j of order.shuffle([...neg])) items.push(j, pos[order.int(pos.length)]!);
      for (let b = 0; b < items.length; b += batch) {
        const idx = items.slice(b, b + batch);
        const xs = toTensor(idx, aug);
        const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(idx.map((i) => labels[i]!), 'int32'), 2));
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, forward(xs)) as tf.Scalar);
        tf.dispose([xs, ys]);
      }
    }
    const tTrain = performance.now() - t0 - tGen;

    const xt = toTensor(testIdx);
    const pred = tf.tidy(() => forward(xt).argMax(-1).dataSync());
    xt.dispose();
    const { bacc, tpr, tnr } = balancedAccuracy(
      testIdx.map((i) => labels[i]!),
      pred,
    );
    tf.dispose([w1, b1, w2, b2, w3, b3, wd, bd]);
    optimizer.dispose();
    // Everything created here is released again.
    expect(tf.memory().numTensors).toBe(before);

    console.log(
      `phantom learnability: balanced accuracy ${bacc.toFixed(3)} (TPR ${tpr.toFixed(3)}, TNR ${tnr.toFixed(3)}; ` +
        `${testIdx.length} held-out images, ${testPos} diseased); generate ${(tGen / 1000).toFixed(1)} s, train ${(tTrain / 1000).toFixed(1)} s`,
    );
    expect(bacc).toBeGreaterThanOrEqual(0.9);
  });
});
