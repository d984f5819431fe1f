/**
 * Scores of white-box gradient canaries from all iterates of a DP-SGD run, for the one-run audit
 * (Steinke, Nasr & Jagielski, NeurIPS 2023, Algorithm 1 with Dirac gradient canaries, Sec. 7 "white-box").
 *
 * Observation model (src/privacy/canary.ts): y_{t,i} = the released noisy sum at canary i's coordinate at step
 * t, in units of the clip norm C. If canary i is included it is drawn at each step with probability q and
 * then contributes exactly 1; otherwise it never contributes. The noise is N(0, σ²) in these units.
 *
 * Likelihood-ratio score (the Neyman–Pearson test of "included" against "excluded" for this model, steps
 * independent given the inclusion bit):
 *   s_i = Σ_t log( (1 − q) + q · φ_σ(y_{t,i} − 1) / φ_σ(y_{t,i}) )
 *       = Σ_t log( 1 − q + q · exp((2 y_{t,i} − 1) / (2 σ²)) )
 * With q = 1 it reduces to the sum score Σ_t y_{t,i} up to an increasing affine map; for small q it weights
 * the steps where the canary stands out, which the plain sum Σ_t y_{t,i} (also returned, for comparison)
 * dilutes with the noise of the steps where it was not drawn. The real units' share of the sum at a
 * coordinate acts as extra noise the model ignores: it can only lower the score's power, never the bound's
 * validity, since any score that is a function of the run's output is a valid guesser.
 *
 * Input contract: `observations` float32 [steps, m] row-major; q ∈ (0, 1] and σ > 0 are the run's own
 * (public) sample rate and noise multiplier. Output: Float64Array [m], higher = more likely included.
 */
import { assert } from '../../src/core/errors.js';

/** log(1 − q + q·e^z), without overflow for large z and without cancellation for small |z|. */
export function logMixture(q: number, z: number): number {
  if (z > 500) return Math.log(q) + z + Math.log1p(((1 - q) / q) * Math.exp(-z)); // q·e^z would overflow
  return Math.log1p(q * Math.expm1(z));
}

export function gradientCanaryScores(
  observations: ArrayLike<number>,
  o: { canaries: number; sampleRate: number; noiseMultiplier: number },
): { likelihoodRatio: Float64Array; sum: Float64Array } {
  const m = o.canaries;
  const q = o.sampleRate;
  const sigma = o.noiseMultiplier;
  assert(Number.isInteger(m) && m >= 1, () => `gradientCanaryScores: m = ${m}`);
  assert(q > 0 && q <= 1, () => `gradientCanaryScores: sample rate ${q} outside (0, 1]`);
  assert(sigma > 0, () => `gradientCanaryScores: noise multiplier ${sigma} must be > 0`);
  assert(observations.length % m === 0, () => `gradientCanaryScores: ${observations.length} observations are not whole rows of ${m}`);
  const steps = observations.length / m;
  const lr = new Float64Array(m);
  const sum = new Float64Array(m);
  const twoVar = 2 * sigma * sigma;
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < m; i++) {
      const y = observations[t * m + i]!;
      assert(Number.isFinite(y), () => `canary observation (step ${t}, canary ${i}) is not finite`);
      sum[i] += y;
      lr[i] += logMixture(q, (2 * y - 1) / twoVar);
    }
  }
  return { likelihoodRatio: lr, sum };
}
