/**
 * Augmentation multiplicity for DP-SGD (De, Berrada, Hayes, Smith & Balle, "Unlocking High-Accuracy
 * Differentially Private Image Classification through Scale", 2022, Sec. 3.1): each private example
 * enters a step as K augmented copies whose gradients are averaged BEFORE the per-unit clipping, so the
 * clipped contribution of a unit is still bounded by C (the copies belong to their unit) and the accounting
 * is unchanged, while the averaged gradient has less augmentation variance.
 *
 * The augmentation here is a translation by whole pixels, the same (dy, dx) for every image of one copy,
 * drawn uniformly from [−s, s]² per copy and step, with symmetric (mirror) padding at the borders. Copy 0
 * is the identity. No flips: a mirrored chest radiograph moves the heart to the wrong side.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';

/** The K shifts of one step: copy 0 is (0, 0), the others uniform in [−s, s]². */
export function copyShifts(copies: number, maxShift: number, rng: Rng): [number, number][] {
  const out: [number, number][] = [[0, 0]];
  for (let k = 1; k < copies; k++) out.push([rng.int(2 * maxShift + 1) - maxShift, rng.int(2 * maxShift + 1) - maxShift]);
  return out;
}

/**
 * images [B, H, W, C] → [K·B, H, W, C]: copy k (rows k·B … k·B + B − 1) is the batch shifted by shifts[k]
 * (out[y, x] = in[y − dy, x − dx], mirrored at the borders). The caller owns the tensor.
 */
export function shiftedCopies(images: tf.Tensor4D, shifts: readonly [number, number][]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = images.shape;
    const s = Math.max(1, ...shifts.map(([dy, dx]) => Math.max(Math.abs(dy), Math.abs(dx))));
    const padded = tf.mirrorPad(images, [[0, 0], [s, s], [s, s], [0, 0]], 'symmetric');
    return tf.concat(shifts.map(([dy, dx]) => tf.slice(padded, [0, s - dy, s - dx, 0], [-1, h, w, -1])), 0) as tf.Tensor4D;
  });
}
