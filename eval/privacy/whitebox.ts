/**
 * White-box membership scores from a generator's own networks. The network outputs are computed where
 * the models live (src/audit) and arrive here as plain arrays; this module turns them into scores
 * (higher = more likely a member).
 *
 * - cVAE ELBO (Hilprecht, Härterich & Bernau, "Monte Carlo and Reconstruction Membership Inference
 *   Attacks against Generative Models", PoPETs 2019(4), reconstruction attack on VAEs): a VAE fits its
 *   training images better, so their negative ELBO is lower.
 *     score(x) = -( (1/K) sum_k [ -log p(x | z_k, c) + KL(q(z | x, c) || N(0, I)) ] - b(x) ),  z_k ~ q(z | x, c)
 *   Input: `negElbo` = per-image negative ELBO (nats), already averaged over K draws, and the offset
 *   b(x). With the Bernoulli likelihood on grey values x in [0, 1], -log p(x | z) = sum_p BCE(x_p, l_p)
 *   is never below b(x) = sum_p h(x_p), h(v) = -v log v - (1 - v) log(1 - v) (reached when the decoder
 *   outputs x exactly), and b(x) differs between images by far more than membership moves the ELBO;
 *   subtracting it (a per-image constant that does not involve the model, like GAN-Leaks' calibration,
 *   Chen et al. 2020 Sec. 5.4) leaves sum_p KL(Bern(x_p) || Bern(sigmoid(l_p))) + KL. For the Gaussian
 *   likelihood the corresponding constant is the same for every image, so b(x) = 0 there.
 * - cVAE reconstruction error (same paper, the reconstruction attack in its distance form): the
 *   posterior-mean reconstruction x^ = Dec(mu(x, c), c) is closer to x for members.
 *     score(x) = -||x - x^||_2^2        (sum over pixels; x, x^ flattened NHWC in [0, 1])
 *   Hilprecht et al. average the distance over several posterior draws; with the posterior mean it is
 *   one deterministic reconstruction.
 * - GAN discriminator (Hayes et al., "LOGAN", PoPETs 2019(1), Sec. 4, white-box attack): the
 *   discriminator of the released GAN learned to call its training images real.
 *     score(x) = D(x, c)                (the logit; sigmoid is monotone, so AUC and thresholds agree)
 *
 * Members and non-members are scored alike; which row is which is the caller's bookkeeping.
 */
import { assert } from '../../src/core/errors.js';

/** score = -(negative ELBO - offset); offset b(x) per image (zeros when omitted). */
export function elboScores(negElbo: ArrayLike<number>, offset?: ArrayLike<number>): Float64Array {
  return Float64Array.from(negElbo, (v, i) => -(v - (offset ? offset[i]! : 0)));
}

/** b(x) = sum_p h(x_p) per image, h the Bernoulli entropy in nats (h(0) = h(1) = 0). */
export function bernoulliEntropy(images: Float32Array, n: number): Float64Array {
  assert(images.length % n === 0, () => `bernoulliEntropy: ${images.length} values for ${n} images`);
  const len = images.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = i * len; p < (i + 1) * len; p++) {
      const v = images[p]!;
      if (v > 0 && v < 1) s -= v * Math.log(v) + (1 - v) * Math.log1p(-v);
    }
    out[i] = s;
  }
  return out;
}

/** Per-image squared L2 distance between images and their reconstructions (flattened, same layout). */
export function reconstructionErrors(images: Float32Array, reconstructions: Float32Array, n: number): Float64Array {
  assert(images.length === reconstructions.length && images.length % n === 0, () => `reconstructionErrors: ${images.length} vs ${reconstructions.length} values for ${n} images`);
  const len = images.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = i * len; p < (i + 1) * len; p++) s += (images[p]! - reconstructions[p]!) ** 2;
    out[i] = s;
  }
  return out;
}

/** score = -reconstruction error. */
export function reconstructionScores(errors: ArrayLike<number>): Float64Array {
  return Float64Array.from(errors, (v) => -v);
}

/** score = discriminator logit. */
export function discriminatorScores(logits: ArrayLike<number>): Float64Array {
  return Float64Array.from(logits);
}

/**
 * score = φ(x) · μ̃_{c(x)}: the alignment of a query's features with the released (noisy) mean embedding of
 * its class × group cell. A member's own φ(x) is one of the summands of μ̃, so without enough noise members
 * align more (the inner-product tracing attack on released means, Dwork et al., FOCS 2015, Sec. 1.1).
 */
export function releaseAlignmentScores(alignments: ArrayLike<number>): Float64Array {
  return Float64Array.from(alignments);
}
