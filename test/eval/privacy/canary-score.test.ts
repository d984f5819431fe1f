/**
 * Gradient-canary scores (eval/privacy/canary-score.ts) against the score's definition evaluated with
 * mpmath (test/fixtures/canary-score.json), the q = 1 case by hand, stability at extreme z, and the audit
 * they feed: on simulated observations of a perfect mechanism the bound is sound (never above the true ε
 * of the composed mechanism in any of the trials) and finds a broken one.
 */
import { describe, expect, it } from 'vitest';
import { canaryAuditBound } from '../../../eval/privacy/canary-bound.js';
import { gradientCanaryScores, logMixture } from '../../../eval/privacy/canary-score.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Case {
  sampleRate: number;
  noiseMultiplier: number;
  observations: number[][];
  likelihoodRatio: number[];
  sum: number[];
}

describe('gradientCanaryScores', () => {
  const fx = loadFixture<{ cases: Case[] }>('canary-score');

  it('matches the definition evaluated at 50 digits (mpmath)', () => {
    for (const c of fx.cases) {
      const m = c.observations[0]!.length;
      const s = gradientCanaryScores(c.observations.flat(), { canaries: m, sampleRate: c.sampleRate, noiseMultiplier: c.noiseMultiplier });
      s.likelihoodRatio.forEach((v, i) => expect(Math.abs(v - c.likelihoodRatio[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(c.likelihoodRatio[i]!))));
      s.sum.forEach((v, i) => expect(v).toBeCloseTo(c.sum[i]!, 12));
    }
  });

  it('at q = 1 is Σ (2y − 1) / (2σ²), by hand', () => {
    // y = (1, 3) for canary 0 and (−2, 0.5) for canary 1, σ = 2: (1 + 5)/8 = 0.75 and (−5 + 0)/8 = −0.625.
    const s = gradientCanaryScores([1, -2, 3, 0.5], { canaries: 2, sampleRate: 1, noiseMultiplier: 2 });
    expect(s.likelihoodRatio[0]).toBeCloseTo(0.75, 14);
    expect(s.likelihoodRatio[1]).toBeCloseTo(-0.625, 14);
  });

  it('stays finite and exact where the direct formula overflows or cancels', () => {
    expect(logMixture(0.01, 800)).toBeCloseTo(Math.log(0.01) + 800, 10);
    expect(logMixture(0.01, -800)).toBeCloseTo(Math.log(0.99), 14);
    const z = 1e-9;
    // log(1 + q(e^z − 1)) = q z + q(1 − q) z²/2 + O(z³)
    expect(Math.abs(logMixture(0.3, z) - (0.3 * z + 0.105 * z * z)) / (0.3 * z)).toBeLessThan(1e-15);
    expect(() => gradientCanaryScores([1, 2, 3], { canaries: 2, sampleRate: 0.5, noiseMultiplier: 1 })).toThrow(/whole rows/);
    expect(() => gradientCanaryScores([1, NaN], { canaries: 2, sampleRate: 0.5, noiseMultiplier: 1 })).toThrow(/not finite/);
  });
});

describe('the audit on simulated observations', () => {
  /** m canaries, T steps, rate q, noise σ; `amp` = what a drawn canary adds (1 when correct). */
  function simulate(o: { m: number; steps: number; q: number; sigma: number; amp: number; seed: number }) {
    const rng = new Rng(o.seed);
    const included = Uint8Array.from({ length: o.m }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const obs = new Float64Array(o.m * o.steps);
    for (let t = 0; t < o.steps; t++) for (let i = 0; i < o.m; i++) obs[t * o.m + i] = (included[i] && rng.uniform() < o.q ? o.amp : 0) + o.sigma * rng.normal();
    const s = gradientCanaryScores(obs, { canaries: o.m, sampleRate: o.q, noiseMultiplier: o.sigma });
    return { s, included };
  }

  it('is sound for one Gaussian release (q = 1, T = 1): never above its ε in 40 trials', () => {
    // σ = 1, Δ = 1: the Gaussian mechanism's exact ε at δ = 1e-5 is 4.377 (Balle & Wang 2018, Thm. 8:
    // δ(ε) = Φ(1/2σ − εσ) − e^ε Φ(−1/2σ − εσ), solved with mpmath); the bound stays below it every time.
    for (let seed = 0; seed < 40; seed++) {
      const { s, included } = simulate({ m: 500, steps: 1, q: 1, sigma: 1, amp: 1, seed });
      expect(canaryAuditBound(s.likelihoodRatio, included, { delta: 1e-5 }).epsilonLowerBound).toBeLessThan(4.38);
    }
  });

  it('catches a mechanism whose noise is 10x too small', () => {
    // Claimed: σ = 4 at q = 1, T = 1 (exact ε 0.926 at δ = 1e-5, as above); the run used σ = 0.4.
    const rng = new Rng(3);
    const m = 1000;
    const included = Uint8Array.from({ length: m }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const obs = Float64Array.from(included, (b) => b + 0.4 * rng.normal());
    const s = gradientCanaryScores(obs, { canaries: m, sampleRate: 1, noiseMultiplier: 4 });
    expect(canaryAuditBound(s.likelihoodRatio, included, { delta: 1e-5 }).epsilonLowerBound).toBeGreaterThan(2);
  });
});
