/**
 * One-run canary audit against μ-GDP (eval/privacy/canary-bound-fdp.ts): (a) hand-worked limiting cases,
 * (b) the mpmath oracle, (c) the (ε, δ) conversion, (d) soundness by simulation of Gaussian canaries of
 * known μ, and tightness against canary-bound.ts on the same scores, (e) monotonicity, edge cases, input
 * checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canaryAuditGdpBound,
  gaussianPowerInverse,
  gaussianTradeOff,
  gdpDelta,
  gdpEpsilonAtDelta,
  gdpLowerBound,
  gdpOneRunPValue,
  gdpRecursionTotal,
  normalCdf,
  normalQuantile,
} from '../../../eval/privacy/canary-bound-fdp.js';
import { canaryAuditBound, defaultGuessGrid, rankByScore } from '../../../eval/privacy/canary-bound.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Fixture {
  hand: { how: string; muLowerBoundAtConfidence03: number };
  oracle: {
    canaries: number;
    guesses: number;
    correct: number;
    confidence: number;
    muLowerBound: number;
    pValues: { mu: number; value: number }[];
  }[];
  epsilon: { mu: number; delta: number; epsilon: number }[];
}
const fx = loadFixture<Fixture>('canary-bound-fdp');

describe('(a) hand-worked limiting cases', () => {
  it('Φ and Φ⁻¹: printed values, and round trips down to 1e-300', () => {
    // Φ⁻¹(0.975) and Φ⁻¹(1e-10) as tabulated (e.g. scipy.special.ndtri).
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 14);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 13);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    for (const p of [1e-300, 1e-100, 1e-20, 1e-5, 0.01, 0.3, 0.49]) {
      const x = normalQuantile(p);
      // Relative error of Φ at x is about |x|·(rounding of x): 1e-13 at x = −37.
      expect(Math.abs(normalCdf(x) / p - 1)).toBeLessThan(1e-12);
      if (p > 1e-15) expect(normalQuantile(1 - p)).toBeCloseTo(-x, 8); // 1 − p carries p's rounding
    }
  });

  it('the Gaussian trade-off curve: f(0) = 1, f(1) = 0, f_0(α) = 1 − α, symmetric (f∘f = id), and g⁻¹ inverts 1 − f', () => {
    expect(gaussianTradeOff(1, 0)).toBe(1);
    expect(gaussianTradeOff(1, 1)).toBe(0);
    for (const alpha of [0.01, 0.2, 0.5, 0.9]) {
      expect(gaussianTradeOff(0, alpha)).toBeCloseTo(1 - alpha, 14);
      for (const mu of [0.5, 1, 3]) {
        expect(gaussianTradeOff(mu, gaussianTradeOff(mu, alpha))).toBeCloseTo(alpha, 12);
        expect(gaussianPowerInverse(mu, 1 - gaussianTradeOff(mu, alpha))).toBeCloseTo(alpha, 12);
      }
    }
  });

  it('m = k = v = 1: the bound is Φ(μ/2), the best accuracy of one balanced guess, and μ_lb = 2Φ⁻¹(β) in closed form', () => {
    // One canary, one guess. The recursion: r_1 = τ, h_1 = 0; one step (i = 0) gives h_0 = g⁻¹(τ) =
    // Φ(Φ⁻¹(τ) − μ) and r_0 = r_1 + 0·(…) = τ. So τ is allowed iff τ + Φ(Φ⁻¹(τ) − μ) ≤ 1 = Φ(Φ⁻¹(τ)) +
    // Φ(−Φ⁻¹(τ)), i.e. Φ⁻¹(τ) − μ ≤ −Φ⁻¹(τ), i.e. τ ≤ Φ(μ/2): p(μ) = Φ(μ/2). That is the trade-off
    // function itself: guessing S from N(±μ/2, 1) (μ-GDP exactly) with the Bayes threshold 0 is right with
    // probability Φ(μ/2), and no test does better (its level α and power 1 − f_μ(α) give accuracy
    // ½(1 − α) + ½(1 − f_μ(α)), maximal at α = Φ(−μ/2) by the symmetry of f_μ).
    for (const mu of [0, 0.3, 1, 2, 4]) {
      const p = gdpOneRunPValue({ canaries: 1, guesses: 1, correct: 1, mu });
      expect(p).toBeGreaterThanOrEqual(normalCdf(mu / 2)); // an upper bound on the probability, never below
      expect(p).toBeCloseTo(normalCdf(mu / 2), 13);
    }
    // With β = 0.7 (confidence 0.3), p(μ) ≥ β iff μ ≥ 2Φ⁻¹(0.7) = 1.0488010254160…
    const lb = gdpLowerBound({ canaries: 1, guesses: 1, correct: 1, confidence: 0.3 });
    expect(lb).toBeCloseTo(2 * normalQuantile(0.7), 11);
    expect(lb).toBeCloseTo(fx.hand.muLowerBoundAtConfidence03, 11);
    expect(lb).toBeLessThanOrEqual(fx.hand.muLowerBoundAtConfidence03); // the low end of the bracket
    // At confidence ≥ 1/2 one guess can never reject: p(0) = 1/2 ≥ β.
    expect(gdpLowerBound({ canaries: 1, guesses: 1, correct: 1, confidence: 0.95 })).toBe(0);
  });

  it('μ = 0 and every guess correct: the bound is 2^-k, the exact chance probability (the relaxation is tight there)', () => {
    // At μ = 0, g is the identity and the constraints read E[V; V ≥ j+1] ≤ E[k − V; V ≥ j]. Binomial(k, ½)
    // meets each with equality (l·C(k,l) = k·C(k−1,l−1) and (k−l)·C(k,l) = k·C(k−1,l), so both sides are
    // k·Σ_{l≥j} C(k−1,l)/2^k), so the least-mass construction starting from P[V = k] = 2^-k rebuilds it
    // and uses total mass exactly 1.
    for (const k of [1, 2, 5, 8, 20, 60]) {
      const p = gdpOneRunPValue({ canaries: k + 7, guesses: k, correct: k, mu: 0 });
      expect(Math.abs(p * 2 ** k - 1)).toBeLessThan(1e-13);
    }
  });

  it('Monte Carlo on small m: P[V ≥ v] of Gaussian canaries (μ-GDP exactly) never exceeds the bound', () => {
    // Included canaries score μ + N(0, 1), excluded ones N(0, 1) (μ-GDP per canary exactly); guesses from the
    // k₊ top and k₋ bottom scores. 20 000 runs each; allowed slack 4 standard errors (≤ 0.014).
    const rng = new Rng(71);
    const settings = [
      { m: 2, kp: 1, mu: 1.5 },
      { m: 4, kp: 2, mu: 1 },
      { m: 8, kp: 4, mu: 1 },
      { m: 16, kp: 2, mu: 1 },
    ];
    const N = 20_000;
    for (const { m, kp, mu } of settings) {
      const k = 2 * kp;
      const atLeast = new Array<number>(k + 2).fill(0);
      for (let n = 0; n < N; n++) {
        const inc = Array.from({ length: m }, () => (rng.bernoulli(0.5) ? 1 : 0));
        const order = rankByScore(inc.map((b) => b * mu + rng.normal()));
        let v = 0;
        for (let j = 0; j < kp; j++) v += inc[order[j]!]! + 1 - inc[order[m - 1 - j]!]!;
        for (let w = 0; w <= v; w++) atLeast[w]!++;
      }
      for (let v = 1; v <= k; v++) {
        const emp = atLeast[v]! / N;
        const bound = gdpOneRunPValue({ canaries: m, guesses: k, correct: v, mu });
        expect(emp, `m = ${m}, k = ${k}, v = ${v}, μ = ${mu}`).toBeLessThanOrEqual(bound + 4 * Math.sqrt((emp * (1 - emp)) / N) + 1e-12);
      }
    }
  });
});

describe('(b) mpmath oracle (test/fixtures/generators/canary_bound_fdp_oracle.py: the primal form, re-summed, 40 digits)', () => {
  it.each(fx.oracle.map((c) => [`m=${c.canaries} k=${c.guesses} v=${c.correct} c=${c.confidence}`, c] as const))('%s', (_name, c) => {
    // Both sides bisect to far below these tolerances (TS: 1e-14 relative on p, 1e-12 on μ; the oracle: 80
    // steps at 40 digits); the worst differences seen were 2e-14 and 1e-12.
    const lb = gdpLowerBound(c);
    expect(Math.abs(lb - c.muLowerBound)).toBeLessThanOrEqual(1e-9);
    for (const p of c.pValues) {
      const got = gdpOneRunPValue({ ...c, mu: p.mu });
      expect(Math.abs(got / p.value - 1), `μ = ${p.mu}`).toBeLessThanOrEqual(1e-10);
    }
  });

  it('the recursion total Ψ_μ(τ) at the oracle p-value is k/m (the crossing), and exceeds it just above', () => {
    for (const c of fx.oracle) {
      for (const p of c.pValues) {
        if (p.value >= 1) continue;
        const at = (tau: number) => gdpRecursionTotal({ ...c, mu: p.mu, tau });
        expect(at(p.value * (1 - 1e-9))).toBeLessThanOrEqual(c.guesses / c.canaries);
        expect(at(Math.min(1, p.value * (1 + 1e-9)))).toBeGreaterThan(c.guesses / c.canaries);
      }
    }
  });
});

describe('(c) ε at δ of μ-GDP', () => {
  it('μ = 1, δ = 1e-5: ε = 4.3771780956812 (mpmath bisection), and δ_μ(ε) = δ there', () => {
    const eps = gdpEpsilonAtDelta(1, 1e-5);
    expect(eps).toBeCloseTo(4.3771780956812245, 10);
    expect(Math.abs(gdpDelta(1, eps) / 1e-5 - 1)).toBeLessThan(1e-9);
    expect(gdpDelta(1, eps - 1e-6)).toBeGreaterThan(1e-5);
  });

  it.each(fx.epsilon.map((e) => [`μ = ${e.mu}, δ = ${e.delta}`, e] as const))('oracle: %s', (_n, e) => {
    const eps = gdpEpsilonAtDelta(e.mu, e.delta);
    expect(Math.abs(eps - e.epsilon)).toBeLessThanOrEqual(1e-10 * Math.max(1, e.epsilon));
    expect(eps).toBeLessThanOrEqual(e.epsilon + 1e-15); // the low end: never above
  });

  it('δ_μ(0) = 2Φ(μ/2) − 1 (total variation); ε = 0 when that is ≤ δ or μ = 0', () => {
    expect(gdpDelta(1, 0)).toBeCloseTo(2 * 0.6914624612740131 - 1, 14);
    expect(gdpEpsilonAtDelta(0, 1e-5)).toBe(0);
    expect(gdpEpsilonAtDelta(1e-6, 1e-5)).toBe(0); // 2Φ(5e-7) − 1 ≈ 4e-7 ≤ 1e-5
    expect(gdpEpsilonAtDelta(1e-4, 1e-5)).toBeGreaterThan(0); // ≈ 4e-5 > 1e-5
  });
});

describe('(d) soundness by simulation, and tightness against the (ε, δ) bound', () => {
  const m = 1000;
  const delta = 1e-5;
  const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;

  it.each([1, 0.5])('Gaussian canaries with μ = %s: μ_lb above μ in ≤ 4 of 40 trials; mean ε-at-δ above canary-bound.ts’s', (mu) => {
    // Score = μ·[included] + N(0, 1): canary i moves only its own score, from N(0, 1) to N(μ, 1), whose
    // trade-off curve is exactly f_μ, so the run is μ-GDP per canary and nothing more private.
    const rng = new Rng(mu === 1 ? 2020 : 2021);
    const fdp: number[] = [];
    const lbs: number[] = [];
    const snj: number[] = [];
    for (let t = 0; t < 40; t++) {
      const included = Array.from({ length: m }, () => (rng.bernoulli(0.5) ? 1 : 0));
      const scores = included.map((b) => b * mu + rng.normal());
      const res = canaryAuditGdpBound(scores, included, { delta, confidence: 0.95 });
      lbs.push(res.muLowerBound);
      fdp.push(res.epsilonAtDelta);
      snj.push(canaryAuditBound(scores, included, { delta, confidence: 0.95 }).epsilonLowerBound);
    }
    const above = lbs.filter((x) => x > mu).length;
    const trueEps = gdpEpsilonAtDelta(mu, delta);
    console.log(
      `μ = ${mu} (ε at δ = ${delta}: ${trueEps.toFixed(3)}), m = ${m}, 40 trials: μ_lb mean ${mean(lbs).toFixed(3)}, max ${Math.max(...lbs).toFixed(3)}, ` +
        `${above}/40 above μ; mean ε-at-δ of the f-DP bound ${mean(fdp).toFixed(3)} vs mean ε_lb of canary-bound.ts ${mean(snj).toFixed(3)}`,
    );
    // Expected violations ≤ 0.05·40 = 2; P[Binomial(40, 0.05) > 4] = 0.048, and the bound is conservative.
    expect(above).toBeLessThanOrEqual(4);
    expect(mean(fdp)).toBeGreaterThan(mean(snj));
    expect(mean(lbs)).toBeGreaterThan(0.25 * mu); // the audit has power
  });
});

describe('(e) monotonicity, edge cases and input checks', () => {
  it('v = 0, k = 0: p = 1 and μ_lb = 0; v = k all correct gives the largest bound for that k', () => {
    expect(gdpOneRunPValue({ canaries: 10, guesses: 4, correct: 0, mu: 2 })).toBe(1);
    expect(gdpOneRunPValue({ canaries: 10, guesses: 0, correct: 0, mu: 2 })).toBe(1);
    expect(gdpLowerBound({ canaries: 10, guesses: 0, correct: 0, confidence: 0.95 })).toBe(0);
    expect(gdpLowerBound({ canaries: 10, guesses: 6, correct: 0, confidence: 0.95 })).toBe(0);
    expect(gdpLowerBound({ canaries: 20, guesses: 10, correct: 5, confidence: 0.95 })).toBe(0); // chance level
    const all = gdpLowerBound({ canaries: 100, guesses: 20, correct: 20, confidence: 0.95 });
    for (let v = 0; v < 20; v++) expect(gdpLowerBound({ canaries: 100, guesses: 20, correct: v, confidence: 0.95 })).toBeLessThanOrEqual(all);
    expect(all).toBeGreaterThan(0);
  });

  const counts = fc
    .record({ k: fc.integer({ min: 1, max: 120 }), extra: fc.integer({ min: 0, max: 500 }), frac: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map(({ k, extra, frac }) => ({ k, m: k + extra, v: Math.min(k, Math.round(frac * k)) }));

  it('p nondecreasing in μ and nonincreasing in v; μ_lb nondecreasing in v and nonincreasing in the confidence', () => {
    // Proved in the header (the induction, and p = the maximum of P[V ≥ v] over one feasible set for every v).
    fc.assert(
      fc.property(counts, fc.double({ min: 0, max: 4, noNaN: true }), ({ m, k, v }, mu) => {
        const p = (x: number, w = v) => gdpOneRunPValue({ canaries: m, guesses: k, correct: w, mu: x });
        expect(p(mu + 0.05)).toBeGreaterThanOrEqual(p(mu) * (1 - 1e-12));
        if (v < k) expect(p(mu, v + 1)).toBeLessThanOrEqual(p(mu) * (1 + 1e-12));
        const lb = (w: number, c = 0.95) => gdpLowerBound({ canaries: m, guesses: k, correct: w, confidence: c });
        if (v < k) expect(lb(v + 1)).toBeGreaterThanOrEqual(lb(v) - 1e-11);
        expect(lb(v, 0.99)).toBeLessThanOrEqual(lb(v) + 1e-11);
      }),
      { numRuns: 60, seed: 20 },
    );
  });

  it('the search: never above the reported k tested alone; equal to gdpLowerBound at β/|grid|; unchanged by a monotone map of the scores', () => {
    const rng = new Rng(5);
    for (let t = 0; t < 8; t++) {
      const m = 200;
      const included = Array.from({ length: m }, () => (rng.bernoulli(0.5) ? 1 : 0));
      const scores = included.map((b) => 1.5 * b + rng.normal());
      const res = canaryAuditGdpBound(scores, included, { delta: 1e-5 });
      expect(res.tests).toBe(defaultGuessGrid(m).length);
      expect(res.guesses).toBe(res.positive + res.negative);
      const k = { positive: res.positive, negative: res.negative };
      const alone = canaryAuditGdpBound(scores, included, { delta: 1e-5, grid: [k] });
      expect(res.muLowerBound).toBeLessThanOrEqual(alone.muLowerBound);
      expect(res.muLowerBound).toBe(
        gdpLowerBound({ canaries: m, guesses: res.guesses, correct: res.correct, confidence: 1 - 0.05 / res.tests }),
      );
      expect(res.epsilonAtDelta).toBe(gdpEpsilonAtDelta(res.muLowerBound, 1e-5));
      expect(canaryAuditGdpBound(scores.map((x) => Math.exp(x) * 3 + 1), included, { delta: 1e-5 })).toEqual(res);
    }
  });

  it('rejects malformed input with a message', () => {
    expect(() => canaryAuditGdpBound([1, NaN], [1, 0], { delta: 1e-5 })).toThrow(/score 1 is NaN/);
    expect(() => canaryAuditGdpBound([1, 2], [1], { delta: 1e-5 })).toThrow(/2 scores but 1 inclusion bits/);
    expect(() => canaryAuditGdpBound([1, 2], [1, 2], { delta: 1e-5 })).toThrow(/inclusion bit 1/);
    expect(() => canaryAuditGdpBound([1, 2], [1, 0], { delta: 1e-5, grid: [{ positive: 2, negative: 1 }] })).toThrow(/k₊ \+ k₋ <= m/);
    expect(() => canaryAuditGdpBound([1, 2], [1, 0], { delta: 0 })).toThrow(/δ must be in \(0, 1\)/);
    expect(() => canaryAuditGdpBound([1, 2], [1, 0], { delta: 1e-5, confidence: 1 })).toThrow(/confidence/);
    expect(() => gdpLowerBound({ canaries: 5, guesses: 6, correct: 1, confidence: 0.95 })).toThrow(/guesses <= canaries/);
    expect(() => gdpLowerBound({ canaries: 5, guesses: 2, correct: 3, confidence: 0.95 })).toThrow(/correct <= guesses/);
    expect(() => gdpOneRunPValue({ canaries: 5, guesses: 2, correct: 1.5, mu: 1 })).toThrow(/integers/);
    expect(() => gdpOneRunPValue({ canaries: 5, guesses: 2, correct: 1, mu: -1 })).toThrow(/μ must be finite and >= 0/);
    expect(() => gdpEpsilonAtDelta(1, 1)).toThrow(/δ must be in \(0, 1\)/);
  });
});
