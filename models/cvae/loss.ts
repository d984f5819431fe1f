/**
 * The conditional VAE objective (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Eq. 10
 * and Appendix B; conditional form: Sohn, Lee & Yan, "Learning Structured Output Representation using
 * Deep Conditional Generative Models", NeurIPS 2015, Eq. 4), averaged over the B images of a batch:
 *
 *   loss = rec + beta_t · KL
 *   KL   = (1/B) Σ_i Σ_j −½ (1 + logσ²_ij − μ_ij² − exp(logσ²_ij))        (Gaussian q vs N(0, I))
 *   rec, Bernoulli likelihood: (1/B) Σ_i Σ_p BCE(x_ip, logit_ip)              (pixels p of image i)
 *        with BCE(x, l) = max(l, 0) − l·x + log(1 + exp(−|l|))   (numerically stable form)
 *   rec, Gaussian likelihood, std σ (fixed, or learned as log σ):
 *        (1/B) Σ_i Σ_p [ (x_ip − y_ip)² / (2σ²) + log σ + ½ log 2π ]
 *   beta_t = beta · min(1, t / warmupSteps)  (KL warm-up: Bowman et al., CoNLL 2016, Sec. 3.1)
 *   free bits λ > 0:  KL_λ = (1/B) Σ_i Σ_j max(λ, KL_ij),  KL_ij = −½ (1 + logσ²_ij − μ_ij² − exp(logσ²_ij))
 *        (the "free bits" objective of Kingma et al., "Improved Variational Inference with Inverse
 *        Autoregressive Flow", NeurIPS 2016, taken per example and per latent dimension instead of over the
 *        minibatch: below λ nats a dimension's KL has no gradient, so the encoder is not pushed to the
 *        prior there (against posterior collapse). Per example, the loss stays a sum of per-example terms,
 *        which DP-SGD's per-example clipping needs; the minibatch form would couple the examples.)
 *
 * Inputs: x [B, H, W, C] in [0, 1] (the real images), out [B, H, W, C] (decoder logits for Bernoulli,
 * means for Gaussian), mu and logvar [B, latent]. Returns scalar tensors; the caller owns them.
 */
import * as tf from '@tensorflow/tfjs';

export type Likelihood = 'bernoulli' | 'gaussian';

/** KL(q ‖ N(0, I)) averaged over the batch; with `freeBits` λ > 0, each example's dimension counts ≥ λ nats. */
export function klDivergence(mu: tf.Tensor2D, logvar: tf.Tensor2D, freeBits = 0): tf.Scalar {
  return tf.tidy(() => {
    const b = mu.shape[0];
    const terms = tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar)));
    if (freeBits > 0) return tf.div(tf.sum(tf.maximum(tf.mul(-0.5, terms), freeBits)), b) as tf.Scalar;
    return tf.div(tf.mul(-0.5, tf.sum(terms)), b) as tf.Scalar;
  });
}

export function reconstruction(x: tf.Tensor4D, out: tf.Tensor4D, likelihood: Likelihood, logSigma?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const b = x.shape[0];
    if (likelihood === 'bernoulli') {
      const bce = tf.add(tf.sub(tf.relu(out), tf.mul(out, x)), tf.log1p(tf.exp(tf.neg(tf.abs(out)))));
      return tf.div(tf.sum(bce), b) as tf.Scalar;
    }
    const ls = logSigma ?? tf.scalar(0);
    const pixels = x.size / b;
    const sq = tf.div(tf.sum(tf.square(tf.sub(x, out))), tf.mul(2, tf.exp(tf.mul(2, ls))));
    const norm = tf.mul(pixels * b, tf.add(ls, 0.5 * Math.log(2 * Math.PI)));
    return tf.div(tf.add(sq, norm), b) as tf.Scalar;
  });
}

/** beta_t of the KL warm-up. */
export function betaAt(beta: number, step: number, warmupSteps: number): number {
  return warmupSteps <= 0 ? beta : beta * Math.min(1, step / warmupSteps);
}
