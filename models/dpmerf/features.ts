/**
 * Random Fourier features of a Gaussian kernel on (pooled) pixels, the feature map DP-MERF matches.
 *
 * Rahimi & Recht, "Random Features for Large-Scale Kernel Machines", NeurIPS 2007, Sec. 3 (Bochner's
 * theorem): for k(x, y) = exp(-||x - y||² / (2ℓ²)) and ω ~ N(0, ℓ⁻² I),
 *   φ(x) = sqrt(1/F) [cos(ω_1·x), ..., cos(ω_F·x), sin(ω_1·x), ..., sin(ω_F·x)]
 *   E_ω[φ(x)·φ(y)] = k(x, y),   ||φ(x)||² = (1/F) Σ_j (cos² + sin²) = 1 exactly.
 * A mixture of bandwidths (frequency j uses ℓ_{j mod L}) approximates the average of L Gaussian kernels,
 * itself a characteristic kernel; each ℓ is given relative to the RMS pixel distance:
 *   ℓ = r · sqrt(d)   (d = pooled pixels × channels), so r is the per-pixel RMS difference at which the
 *   kernel is exp(-1/2).
 * Harder, Adamczewski & Park, "DP-MERF: Differentially Private Mean Embeddings with Random Features for
 * Practical Privacy-Preserving Data Generation", AISTATS 2021, Sec. 3, use the same map.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/core/rng.js';

/** Frequencies Ω [d, F]: column j ~ N(0, I / ℓ_j²) with ℓ_j = r_{j mod L} · sqrt(d). */
export function rffFrequencies(d: number, frequencies: number, relativeBandwidths: readonly number[], rng: Rng): Float32Array {
  const out = new Float32Array(d * frequencies);
  const scales = relativeBandwidths.map((r) => 1 / (r * Math.sqrt(d)));
  for (let j = 0; j < frequencies; j++) {
    const s = scales[j % scales.length]!;
    for (let i = 0; i < d; i++) out[i * frequencies + j] = rng.normal() * s;
  }
  return out;
}

/** φ(x) [B, 2F] for flattened inputs x [B, d] and frequencies Ω [d, F]. The caller owns the tensor. */
export function rffEmbed(x: tf.Tensor2D, omega: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const proj = tf.matMul(x, omega); // [B, F]
    const f = omega.shape[1];
    return tf.mul(tf.concat([tf.cos(proj), tf.sin(proj)], 1), Math.sqrt(1 / f)) as tf.Tensor2D;
  });
}

/** Images NHWC → [B, pooled² · C]: average-pooled to `pooledSize` (a divisor of the side), flattened. */
export function poolFlatten(images: tf.Tensor4D, pooledSize: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, , c] = images.shape;
    const k = h / pooledSize;
    const pooled = k > 1 ? tf.avgPool(images, k, k, 'valid') : images;
    return tf.reshape(pooled, [b, pooledSize * pooledSize * c]) as tf.Tensor2D;
  });
}

/**
 * The mean over positions of the random Fourier features of an image's p × p patches, [B, 2F]:
 *   ψ(x) = (1/P) Σ_{positions t} φ(patch_t(x)),   φ as rffEmbed on the flattened patch (p·p·C values),
 * the feature map of the convolutional (patch-averaged) kernel k_P(x, y) = (1/P²) Σ_{t,t'} k(x_t, y_{t'}),
 * a sum of positive-definite kernels and so itself one: its mean embedding is that of the distribution of
 * patches. ||ψ(x)|| ≤ (1/P) Σ_t ||φ(x_t)|| = 1 (triangle inequality), so a release of it keeps its
 * sensitivity. A lesion of a few pixels moves a whole-image kernel little (its share of ||x − y|| is
 * small) but a patch that holds it a lot. Ω is [p, p, C, F] (the flattened patch order of rffFrequencies
 * with d = p·p·C). The caller owns the tensor.
 */
export function patchRffEmbed(images: tf.Tensor4D, omega: tf.Tensor4D, stride: number): tf.Tensor2D {
  return tf.tidy(() => {
    const proj = tf.conv2d(images, omega, stride, 'valid'); // [B, H', W', F]
    const f = omega.shape[3];
    return tf.mul(tf.concat([tf.mean(tf.cos(proj), [1, 2]), tf.mean(tf.sin(proj), [1, 2])], 1), Math.sqrt(1 / f)) as tf.Tensor2D;
  });
}
