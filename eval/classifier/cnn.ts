/**
 * A small CNN image classifier: the judge of conditional accuracy (does a sample show the class it was
 * asked for?) and, later, the evaluation classifier for utility and fairness.
 *
 * Input: images NHWC float32 in [0, 1] (Float32Array, n·size·size·channels) and integer labels.
 * Each image is standardised to zero mean and unit variance. Network: stride-2 3×3 convolutions with
 * ReLU (widths 16, 32, 64, ... until the side is ≤ 4), global average pooling, dense to the classes.
 * Training: softmax cross-entropy, Adam, class-balanced minibatches (every class equally likely per
 * draw), so a rare class is learned rather than ignored. Seeded.
 */
import * as tf from '@tensorflow/tfjs';
import { mean, variance } from 'simple-statistics';
import { Rng } from '../../src/core/rng.js';
import { Conv2d, Dense, disposeLayers, paramsOf, type Layer } from '../../src/nn/layers.js';
import { FusedAdam } from '../../src/nn/optim.js';

export interface ClassifierOptions {
  size: number;
  channels: 1 | 3;
  classes: number;
  seed: number;
  /** Optimisation steps (default 600). */
  steps?: number;
  batchSize?: number;
  lr?: number;
  /** Called after each optimisation step with (steps done, steps), for progress lines. */
  onStep?: (done: number, steps: number) => void;
}

/**
 * The classifier's input transform, per image: x' = (x - mean(x)) / sqrt(var(x) + 1e-6), with the
 * population variance (divide by len) of that image's len values. Takes the first n images of `images`
 * (NHWC, len = size·size·channels values each) and returns a new [n·len] array. domain-cnn embeds with the
 * classifier's layers, so it calls this too.
 */
export function standardiseImages(images: Float32Array, n: number, len: number): Float32Array {
  const out = new Float32Array(n * len);
  for (let i = 0; i < n; i++) {
    const img = images.subarray(i * len, (i + 1) * len);
    // simple-statistics reads only length and indices, so a typed array serves as its number[].
    const values = img as unknown as readonly number[];
    const mu = mean(values);
    const inv = 1 / Math.sqrt(variance(values) + 1e-6);
    for (let k = 0; k < len; k++) out[i * len + k] = (img[k]! - mu) * inv;
  }
  return out;
}

export class CnnClassifier {
  private readonly convs: Conv2d[] = [];
  private readonly out: Dense;
  constructor(private readonly opts: ClassifierOptions) {
    const rng = new Rng(opts.seed).derive('init');
    let side = opts.size;
    let cin: number = opts.channels;
    let width = 16;
    while (side > 4) {
      this.convs.push(new Conv2d(`clf/conv${this.convs.length}`, cin, width, 3, 2, 'same', rng));
      cin = width;
      width = Math.min(width * 2, 128);
      side = Math.ceil(side / 2);
    }
    this.out = new Dense('clf/out', cin, opts.classes, rng);
  }

  private get layers(): Layer[] {
    return [...this.convs, this.out];
  }

  /** Class logits [n, classes]; the caller owns the tensor. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor = x;
      for (const c of this.convs) h = tf.relu(c.apply(h));
      return this.out.apply(tf.mean(h, [1, 2])) as tf.Tensor2D;
    });
  }

  fit(images: Float32Array, labels: ArrayLike<number>): void {
    const len = this.opts.size * this.opts.size * this.opts.channels;
    this.fitRows((r) => images.subarray(r * len, (r + 1) * len), labels);
  }

  /**
   * `fit` on images given one at a time: `row(r)` is image r (len values, NHWC; a view is enough), for
   * r < labels.length. Only each step's minibatch is standardised and uploaded, so training holds no copy
   * of the set, on the heap or in the backend; the result is the same as fit's on the same images.
   */
  fitRows(row: (r: number) => Float32Array, labels: ArrayLike<number>): void {
    const { size, channels, classes } = this.opts;
    const len = size * size * channels;
    const n = labels.length;
    const byClass: number[][] = Array.from({ length: classes }, () => []);
    for (let i = 0; i < n; i++) byClass[labels[i]!]!.push(i);
    const present = byClass.map((l, k) => (l.length ? k : -1)).filter((k) => k >= 0);
    const rng = new Rng(this.opts.seed).derive('batches');
    const batch = this.opts.batchSize ?? 64;
    const opt = new FusedAdam({ learningRate: this.opts.lr ?? 2e-3 });
    const raw = new Float32Array(batch * len);
    try {
      for (let step = 0; step < (this.opts.steps ?? 600); step++) {
        const idx: number[] = [];
        const ys: number[] = [];
        for (let b = 0; b < batch; b++) {
          const k = present[rng.int(present.length)]!;
          idx.push(byClass[k]![rng.int(byClass[k]!.length)]!);
          ys.push(k);
        }
        idx.forEach((r, b) => raw.set(row(r), b * len));
        const x = standardiseImages(raw, batch, len);
        tf.tidy(() => {
          const xb = tf.tensor4d(x, [batch, size, size, channels]);
          const yb = tf.oneHot(tf.tensor1d(ys, 'int32'), classes);
          opt.minimize(() => tf.losses.softmaxCrossEntropy(yb, this.logits(xb)) as tf.Scalar, paramsOf(this.layers)).dispose();
        });
        this.opts.onStep?.(step + 1, this.opts.steps ?? 600);
      }
    } finally {
      opt.dispose();
    }
  }

  /** Predicted class per image. */
  predict(images: Float32Array, n: number): Int32Array {
    const { size, channels } = this.opts;
    const len = size * size * channels;
    const out = new Int32Array(n);
    for (let s = 0; s < n; s += 256) {
      const e = Math.min(n, s + 256);
      const x = standardiseImages(images.subarray(s * len, e * len), e - s, len); // one chunk at a time
      const p = tf.tidy(() => tf.argMax(this.logits(tf.tensor4d(x, [e - s, size, size, channels])), 1).dataSync());
      out.set(p, s);
    }
    return out;
  }

  dispose(): void {
    disposeLayers(this.layers);
  }
}

/** Accuracy and per-class recall of predictions; balanced accuracy = mean recall over present classes. */
export function accuracyReport(truth: ArrayLike<number>, pred: ArrayLike<number>, classes: number) {
  const hit = new Array<number>(classes).fill(0);
  const tot = new Array<number>(classes).fill(0);
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    tot[truth[i]!]!++;
    if (pred[i] === truth[i]) {
      hit[truth[i]!]!++;
      correct++;
    }
  }
  const recall = tot.map((t, k) => (t ? hit[k]! / t : null));
  const present = recall.filter((r): r is number => r !== null);
  return {
    n: truth.length,
    accuracy: truth.length ? correct / truth.length : null,
    balancedAccuracy: present.length ? present.reduce((a, b) => a + b, 0) / present.length : null,
    recall,
  };
}
