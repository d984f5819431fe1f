/**
 * LOGAN black-box baseline — Hayes, Melis, Danezis & De Cristofaro, "LOGAN: Membership Inference Attacks
 * Against Generative Models", PoPETs 2019(1) (arXiv:1705.07663), Sec. 4, black-box attack without
 * auxiliary knowledge: the attacker fits a local discriminator to the target's released samples and
 * scores each query by how much that discriminator believes it came from the target; samples
 * concentrated near training images make the discriminator fire on those images.
 *
 * What is implemented (a reduced form, stated in every report): the paper trains a whole local GAN on
 * the released samples and keeps its discriminator; eval/ trains no generators, so here the local
 * discriminator D is a small MLP trained to tell the target's samples (label 1) from reference real
 * images (label 0) — the paper's "fake" class replaced by real images the target never saw. Then
 *
 *   score(x) = logit D(x)                                  higher = more likely a member
 *
 * D: standardise (mean/std of the training pool), Dense(d -> h) + ReLU, Dense(h -> h) + ReLU,
 * Dense(h -> 1); class-balanced logistic loss
 *   L = -(1/2) [ mean_syn log s(D(x)) + mean_ref log(1 - s(D(x))) ],  s = sigmoid,
 * full-batch Adam (lr 1e-3) for `steps` steps from a seeded Glorot initialisation.
 *
 * Input: `queries` [q, d] (members and non-members), `synthetic` [k, d], `reference` [m, d] (the test
 * split: neither members nor non-members), one feature space. Output: one score per query, float64.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { Dense, disposeLayers, paramsOf } from '../../src/nn/layers.js';
import { FusedAdam } from '../../src/nn/optim.js';
import type { FeatureMatrix } from './nearest.js';

export interface LoganOptions {
  seed: number;
  hidden?: number;
  steps?: number;
  learningRate?: number;
}

export interface LoganResult {
  scores: Float64Array;
  /** Final training loss (class-balanced logistic loss). */
  trainLoss: number;
  config: { hidden: number; steps: number; learningRate: number; seed: number };
}

export function loganBlackBoxScores(queries: FeatureMatrix, synthetic: FeatureMatrix, reference: FeatureMatrix, opts: LoganOptions): LoganResult {
  const d = queries.d;
  assert(synthetic.d === d && reference.d === d, () => `loganBlackBoxScores: dimensions ${queries.d}, ${synthetic.d}, ${reference.d} differ`);
  assert(synthetic.n >= 1 && reference.n >= 1, () => 'loganBlackBoxScores: empty training set');
  const hidden = opts.hidden ?? 128;
  const steps = opts.steps ?? 500;
  const learningRate = opts.learningRate ?? 1e-3;
  // Standardisation from the training pool, in float64.
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  const nPool = synthetic.n + reference.n;
  for (const m of [synthetic, reference]) for (let i = 0; i < m.n * d; i++) mean[i % d]! += m.data[i]!;
  for (let j = 0; j < d; j++) mean[j]! /= nPool;
  for (const m of [synthetic, reference]) for (let i = 0; i < m.n * d; i++) sd[i % d]! += (m.data[i]! - mean[i % d]!) ** 2;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]! / nPool) || 1;
  const standardise = (m: FeatureMatrix) => Float32Array.from(m.data, (v, i) => (v - mean[i % d]!) / sd[i % d]!);

  const rng = new Rng(opts.seed).derive('logan-discriminator');
  const layers = [new Dense('logan/d0', d, hidden, rng), new Dense('logan/d1', hidden, hidden, rng), new Dense('logan/out', hidden, 1, rng)];
  const forward = (x: tf.Tensor2D) => tf.reshape(layers[2]!.apply(tf.relu(layers[1]!.apply(tf.relu(layers[0]!.apply(x))))), [-1]) as tf.Tensor1D;
  const optimizer = new FusedAdam({ learningRate });
  const xs = tf.tensor2d(standardise(synthetic), [synthetic.n, d]);
  const xr = tf.tensor2d(standardise(reference), [reference.n, d]);
  let trainLoss = NaN;
  try {
    for (let s = 0; s < steps; s++) {
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            // -log s(z) = softplus(-z); -log(1 - s(z)) = softplus(z).
            const pos = tf.mean(tf.softplus(tf.neg(forward(xs))));
            const neg = tf.mean(tf.softplus(forward(xr)));
            return tf.mul(0.5, tf.add(pos, neg)) as tf.Scalar;
          }),
        paramsOf(layers),
      );
      if (s === steps - 1) trainLoss = loss.dataSync()[0]!; // sync point: the last step only
      loss.dispose();
    }
    const logits = tf.tidy(() => forward(tf.tensor2d(standardise(queries), [queries.n, d])).dataSync()); // sync point
    return { scores: Float64Array.from(logits), trainLoss, config: { hidden, steps, learningRate, seed: opts.seed } };
  } finally {
    tf.dispose([xs, xr]);
    optimizer.dispose();
    disposeLayers(layers);
  }
}
