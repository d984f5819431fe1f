import * as tf from '@tensorflow/tfjs';
import { encodeConditions, type ConditionSpec } from '../../models/generator.js';
import { Rng } from '../../src/core/rng.js';

/** The condition spec of `toyConditionalImages`: its two classes and the `sex` attribute. */
export const TOY_SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };

/**
 * A tiny conditional image set for generator tests, size × size grey: class 1 has a bright centre square,
 * class 0 a dark centre; attribute `sex` = male (code 1) adds a bright top band. Background noise ±0.05.
 */
export function toyConditionalImages(n: number, size: number, seed: number) {
  const rng = new Rng(seed);
  const labels = new Int32Array(n);
  const sex = new Int32Array(n);
  const px = new Float32Array(n * size * size);
  const c0 = Math.floor(size / 3);
  const c1 = size - c0;
  const band = Math.max(2, Math.floor(size / 7));
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(2);
    sex[i] = rng.int(2);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = 0.2 + rng.range(-0.05, 0.05);
        if (y >= c0 && y < c1 && x >= c0 && x < c1) v = labels[i] ? 0.9 : 0.05;
        if (y < band && sex[i]) v = 0.85;
        px[(i * size + y) * size + x] = v;
      }
    }
  }
  return { labels, sex, images: () => tf.tensor4d(px, [n, size, size, 1]) };
}

/** Mean brightness of the centre square and of the top band of images [n, s, s, 1]. */
export function regionMeans(images: Float32Array, n: number, size: number): { centre: number; top: number } {
  const c0 = Math.floor(size / 3);
  const c1 = size - c0;
  const band = Math.max(2, Math.floor(size / 7));
  let centre = 0;
  let top = 0;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = images[(i * size + y) * size + x]!;
        if (y >= c0 && y < c1 && x >= c0 && x < c1) centre += v;
        if (y < band && x >= c0 && x < c1) top += v;
      }
    }
  }
  return { centre: centre / (n * (c1 - c0) ** 2), top: top / (n * band * (c1 - c0)) };
}

/** The first n toy images [n, size, size, 1] with their encoded conditions [n, 4] (TOY_SPEC). Caller owns both. */
export function toyBatch(data: ReturnType<typeof toyConditionalImages>, n: number, size: number) {
  return tf.tidy(() => ({
    images: tf.slice(data.images(), [0, 0, 0, 0], [n, size, size, 1]) as tf.Tensor4D,
    cond: tf.tensor2d(encodeConditions(TOY_SPEC, Array.from(data.labels.slice(0, n)), [Array.from(data.sex.slice(0, n))]), [n, 4]),
  }));
}
