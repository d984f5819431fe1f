/**
 * One-run canary audit bound (eval/privacy/canary-bound.ts): (a) a hand-worked case, (b) brute-force
 * enumeration of every inclusion vector and mechanism outcome on small m, (c) the mpmath oracle,
 * (d) soundness by simulation of mechanisms with a known ε, (e) monotonicity properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binomialPmf,
  canaryAuditBound,
  canaryGuesses,
  defaultGuessGrid,
  oneRunEpsilonLowerBound,
  oneRunPValue,
  randomizedResponseAccuracy,
  type GuessCounts,
} from '../../../eval/privacy/canary-bound.js';
import { erfc } from '../../../src/core/special.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Fixture {
  hand: {
    pValue: { canaries: number; guesses: number; correct: number; epsilon: number; delta: number; value: number; how: string }[];
    epsilon: { canaries: number; guesses: number; correct: number; delta: number; confidence: number; value: number; how: string }[];
    audit: {
      scores: number[];
      included: number[];
      grid: GuessCounts[];
      delta: number;
      confidence: number;
      guesses: number;
      correct: number;
      epsilonLowerBound: number;
    };
  };
  oracle: {
    canaries: number;
    guesses: number;
    correct: number;
    delta: number;
    confidence: number;
    epsilon: number;
    pValues: { epsilon: number; value: number }[];
  }[];
}
const fx = loadFixture<Fixture>('canary-bound');

/** Every bit vector of length n, as numbers 0..2^n - 1 (bit i = (x >> i) & 1). */
const popcount = (x: number): number => {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
};

describe('(a) hand-worked case', () => {
  it.each(fx.hand.pValue.map((c) => [c.how, c] as const))('p-value: %s', (_how, c) => {
    expect(oneRunPValue(c)).toBeCloseTo(c.value, 14);
  });

  it.each(fx.hand.epsilon.map((c) => [c.how, c] as const))('bound: %s', (_how, c) => {
    expect(oneRunEpsilonLowerBound(c)).toBeCloseTo(c.value, 10);
  });

  it('the full function on ten canaries with one k: top 4 included, bottom 4 excluded, ε = logit(0.05^(1/8))', () => {
    const h = fx.hand.audit;
    const res = canaryAuditBound(h.scores, h.included, { delta: h.delta, confidence: h.confidence, grid: h.grid });
    expect(res).toMatchObject({ canaries: 10, guesses: h.guesses, correct: h.correct, k: h.grid[0], tests: 1, delta: 0, confidence: 0.95 });
    expect(res.epsilonLowerBound).toBeCloseTo(h.epsilonLowerBound, 10);
    // Guessing reads the scores only.
    expect(Array.from(canaryGuesses(h.scores, { positive: 4, negative: 4 }))).toEqual([1, 1, 1, 1, 0, 0, -1, -1, -1, -1]);
  });

  it('breaks score ties by canary index, lower index ranked higher', () => {
    expect(Array.from(canaryGuesses([1, 1, 1, 1], { positive: 1, negative: 1 }))).toEqual([1, 0, 0, -1]);
    expect(Array.from(canaryGuesses([0, 5, 5, 0], { positive: 1, negative: 1 }))).toEqual([0, 1, 0, -1]);
  });

  it('returns 0 when the guesses do no better than chance, and when there are no correct guesses', () => {
    expect(oneRunEpsilonLowerBound({ canaries: 20, guesses: 10, correct: 5, delta: 0, confidence: 0.95 })).toBe(0);
    expect(oneRunEpsilonLowerBound({ canaries: 20, guesses: 10, correct: 0, delta: 0, confidence: 0.95 })).toBe(0);
    expect(oneRunEpsilonLowerBound({ canaries: 20, guesses: 0, correct: 0, delta: 0, confidence: 0.95 })).toBe(0);
  });

  it('rejects malformed input with a message', () => {
    expect(() => canaryAuditBound([1, NaN], [1, 0], { delta: 0 })).toThrow(/score 1 is NaN/);
    expect(() => canaryAuditBound([1, 2], [1], { delta: 0 })).toThrow(/2 scores but 1 inclusion bits/);
    expect(() => canaryAuditBound([1, 2], [1, 2], { delta: 0 })).toThrow(/inclusion bit 1/);
    expect(() => canaryAuditBound([1, 2], [1, 0], { delta: 0, grid: [{ positive: 2, negative: 1 }] })).toThrow(/k₊ \+ k₋ <= m/);
    expect(() => oneRunEpsilonLowerBound({ canaries: 5, guesses: 6, correct: 1, delta: 0, confidence: 0.95 })).toThrow(/guesses <= canaries/);
    expect(() => canaryAuditBound([1, 2], [1, 0], { delta: 0, confidence: 1 })).toThrow(/confidence/);
  });
});

describe('(b) brute-force enumeration on small m', () => {
  /**
   * Per-canary randomized response with leakage: with probability δ the output is the true bit, else
   * ε-randomized response of it (q = e^ε/(e^ε+1)). Exactly (ε, δ)-DP in each canary:
   * P[o = s | s] = δ + (1−δ)q ≤ e^ε (1−δ)(1−q) + δ = e^ε P[o = s | s'] + δ.
   */
  const agreeProbability = (epsilon: number, delta: number) => delta + (1 - delta) * randomizedResponseAccuracy(epsilon);

  /** P[#{i : o_i = s_i} ≥ v] for v = 0..m, summed over all 2^m inclusion vectors s and 2^m outputs o. */
  function enumerateCorrect(m: number, a: number): number[] {
    const atLeast = new Array<number>(m + 2).fill(0);
    for (let s = 0; s < 1 << m; s++) {
      for (let o = 0; o < 1 << m; o++) {
        const agree = m - popcount(s ^ o);
        const p = 2 ** -m * a ** agree * (1 - a) ** (m - agree);
        for (let v = 0; v <= agree; v++) atLeast[v] += p;
      }
    }
    return atLeast.slice(0, m + 1);
  }

  it('δ = 0: the tail equals the exact law of the correct count of ε-randomized response (the theorem is tight there)', () => {
    const m = 8;
    for (const epsilon of [0, 0.3, 1, 2.5]) {
      const exact = enumerateCorrect(m, agreeProbability(epsilon, 0));
      for (let v = 0; v <= m; v++) {
        // 65536 summed terms: the enumeration itself carries ~1e-13 of rounding.
        expect(Math.abs(oneRunPValue({ canaries: m, guesses: m, correct: v, epsilon, delta: 0 }) - exact[v]!)).toBeLessThan(1e-12);
      }
    }
  });

  it('δ > 0: the bound is at least the exact probability for the (ε, δ) mechanism above', () => {
    const m = 8;
    for (const [epsilon, delta] of [[0.5, 0.01], [1, 0.05], [2, 0.001]] as const) {
      const exact = enumerateCorrect(m, agreeProbability(epsilon, delta));
      for (let v = 0; v <= m; v++) {
        expect(oneRunPValue({ canaries: m, guesses: m, correct: v, epsilon, delta })).toBeGreaterThanOrEqual(exact[v]! - 1e-12);
      }
    }
  });

  it('the binomial pmf equals the enumeration of all 2^r correctness patterns', () => {
    const r = 12;
    for (const epsilon of [0, 0.7, 3]) {
      const q = randomizedResponseAccuracy(epsilon);
      const byCount = new Array<number>(r + 1).fill(0);
      for (let x = 0; x < 1 << r; x++) byCount[popcount(x)] += q ** popcount(x) * (1 - q) ** (r - popcount(x));
      const pmf = binomialPmf(r, epsilon);
      byCount.forEach((p, k) => expect(Math.abs(pmf[k]! - p)).toBeLessThanOrEqual(1e-13 * p));
    }
  });

  it('the bound is the first ε at which p exceeds β (brute-force scan on a grid of 1e-3)', () => {
    for (const [m, r, v, delta] of [[10, 8, 8, 0], [10, 8, 7, 0], [30, 20, 17, 0.005], [12, 12, 11, 0.02]] as const) {
      const bound = oneRunEpsilonLowerBound({ canaries: m, guesses: r, correct: v, delta, confidence: 0.95 });
      let first = 0;
      while (oneRunPValue({ canaries: m, guesses: r, correct: v, epsilon: first, delta }) <= 0.05) first += 1e-3;
      expect(bound).toBeLessThanOrEqual(first);
      expect(bound).toBeGreaterThan(first - 1e-3 - 1e-9);
    }
  });

  it('exact soundness of the whole audit (search and correction included) over all 4^8 outcomes', () => {
    // m = 8 canaries, scores = the mechanism's output bit (ties by index), the default grid
    // {(1,1), (2,2), (4,4)}: P[ε_lb > ε*] summed over every inclusion vector and output.
    const m = 8;
    const memo = new Map<string, number>();
    for (const [epsilon, delta] of [[0.05, 0], [0.2, 0], [0.2, 0.001]] as const) {
      const a = agreeProbability(epsilon, delta);
      let exceed = 0;
      for (let s = 0; s < 1 << m; s++) {
        const included = Array.from({ length: m }, (_, i) => (s >> i) & 1);
        for (let o = 0; o < 1 << m; o++) {
          const scores = Array.from({ length: m }, (_, i) => (o >> i) & 1);
          const key = `${delta}/${s}/${o}`;
          let bound = memo.get(key);
          if (bound === undefined) {
            bound = canaryAuditBound(scores, included, { delta, confidence: 0.95 }).epsilonLowerBound;
            memo.set(key, bound);
          }
          const agree = m - popcount(s ^ o);
          if (bound > epsilon) exceed += 2 ** -m * a ** agree * (1 - a) ** (m - agree);
        }
      }
      expect(exceed, `ε* = ${epsilon}, δ = ${delta}`).toBeLessThanOrEqual(0.05);
      expect(exceed, `ε* = ${epsilon}, δ = ${delta}`).toBeGreaterThan(0); // not vacuous at these small ε
    }
  });
});

describe('(c) mpmath oracle (test/fixtures/generators/canary_bound_oracle.py)', () => {
  it.each(fx.oracle.map((c) => [`m=${c.canaries} r=${c.guesses} v=${c.correct} δ=${c.delta} c=${c.confidence}`, c] as const))(
    '%s',
    (_name, c) => {
      const bound = oneRunEpsilonLowerBound(c);
      expect(Math.abs(bound - c.epsilon)).toBeLessThanOrEqual(1e-9 * Math.max(1, c.epsilon));
      for (const p of c.pValues) {
        const got = oneRunPValue({ ...c, epsilon: p.epsilon });
        expect(Math.abs(got - p.value)).toBeLessThanOrEqual(1e-11 * p.value + 1e-300);
      }
    },
  );
});

describe('(d) soundness by simulation', () => {
  const Phi = (x: number) => 0.5 * erfc(-x / Math.SQRT2);
  /** Exact δ(ε) of the Gaussian mechanism with sensitivity/σ = μ (Balle & Wang, ICML 2018, Thm. 8). */
  const gaussianDelta = (mu: number, eps: number) => Phi(mu / 2 - eps / mu) - Math.exp(eps) * Phi(-mu / 2 - eps / mu);
  /** The largest μ whose Gaussian mechanism is (ε, δ)-DP (δ(ε) grows with μ), by bisection. */
  function gaussianMu(eps: number, delta: number): number {
    let lo = 1e-6;
    let hi = 50;
    for (let i = 0; i < 200; i++) {
      const mid = 0.5 * (lo + hi);
      if (gaussianDelta(mid, eps) <= delta) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  function simulate(trials: number, m: number, seed: number, score: (bit: number, rng: Rng) => number, delta: number): number[] {
    const rng = new Rng(seed);
    const bounds: number[] = [];
    for (let t = 0; t < trials; t++) {
      const included = Array.from({ length: m }, () => (rng.bernoulli(0.5) ? 1 : 0));
      const scores = included.map((b) => score(b, rng)); // the mechanism's output; the audit sees the bits only to count
      bounds.push(canaryAuditBound(scores, included, { delta, confidence: 0.95 }).epsilonLowerBound);
    }
    return bounds;
  }
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;

  it('Gaussian mechanism (scores = bit·μ + N(0,1), μ at the exact ε–δ curve): bound above ε in ≤ β of 200 trials', () => {
    const delta = 1e-5;
    for (const eps of [1, 4]) {
      const mu = gaussianMu(eps, delta);
      expect(gaussianDelta(mu, eps)).toBeLessThanOrEqual(delta);
      const bounds = simulate(200, 1000, 20 + eps, (b, rng) => b * mu + rng.normal(), delta);
      const exceed = bounds.filter((e) => e > eps).length;
      console.log(`Gaussian ε = ${eps}, δ = ${delta}, μ = ${mu.toFixed(4)}: median bound ${median(bounds).toFixed(3)}, max ${Math.max(...bounds).toFixed(3)}, ${exceed}/200 above ε`);
      // The slack for sampling: P[Binomial(200, 0.05) > 21] = 4.8e-4 (scipy.stats.binom.sf).
      expect(exceed).toBeLessThanOrEqual(21);
      expect(median(bounds)).toBeGreaterThan(0.1 * eps); // and the audit has power
    }
  });

  it('randomized response, where the bound is nearly tight: above ε in ≤ β of 400 trials, and close to ε', () => {
    const eps = 2;
    const q = randomizedResponseAccuracy(eps);
    // Ties broken by a uniform jitter, part of the mechanism's output, independent of the bits.
    const bounds = simulate(400, 1000, 7, (b, rng) => (rng.bernoulli(q) ? b : 1 - b) + 0.5 * rng.uniform(), 0);
    const exceed = bounds.filter((e) => e > eps).length;
    console.log(`randomized response ε = ${eps}: median bound ${median(bounds).toFixed(3)}, ${exceed}/400 above ε`);
    expect(exceed).toBeLessThanOrEqual(35); // P[Binomial(400, 0.05) > 35] = 5.7e-4
    expect(median(bounds)).toBeGreaterThan(0.8 * eps);
  });

  it('catches a broken mechanism: noise ×0.1 of the Gaussian calibrated for ε = 2 gives a bound above 2', () => {
    const mu = gaussianMu(2, 1e-5);
    const bounds = simulate(20, 1000, 3, (b, rng) => b * mu + 0.1 * rng.normal(), 1e-5);
    expect(Math.min(...bounds)).toBeGreaterThan(2);
  });
});

describe('(e) monotonicity', () => {
  const counts = fc
    .record({ r: fc.integer({ min: 1, max: 120 }), extra: fc.integer({ min: 1, max: 500 }), frac: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map(({ r, extra, frac }) => ({ r, m: r + extra, v: Math.min(r, Math.round(frac * r)) }));
  const deltas = fc.constantFrom(0, 1e-6, 1e-4);
  const eps = (m: number, r: number, v: number, delta: number, confidence = 0.95) =>
    oneRunEpsilonLowerBound({ canaries: m, guesses: r, correct: v, delta, confidence });

  it('more correct guesses → a larger bound; one more wrong guess → a smaller one', () => {
    fc.assert(
      fc.property(counts, deltas, ({ m, r, v }, delta) => {
        if (v < r) expect(eps(m, r, v + 1, delta)).toBeGreaterThanOrEqual(eps(m, r, v, delta));
        expect(eps(m, r + 1, v, delta)).toBeLessThanOrEqual(eps(m, r, v, delta));
      }),
      { numRuns: 100, seed: 20 },
    );
  });

  it('higher confidence or larger δ → a smaller bound; p-value nondecreasing in ε when 2mδ ≤ 1', () => {
    fc.assert(
      fc.property(counts, deltas, fc.double({ min: 0, max: 5, noNaN: true }), ({ m, r, v }, delta, e) => {
        expect(eps(m, r, v, delta, 0.99)).toBeLessThanOrEqual(eps(m, r, v, delta, 0.95));
        expect(eps(m, r, v, 1e-3 / m)).toBeLessThanOrEqual(eps(m, r, v, 0));
        const p = (x: number) => oneRunPValue({ canaries: m, guesses: r, correct: v, epsilon: x, delta });
        expect(p(e + 0.01)).toBeGreaterThanOrEqual(p(e) - 1e-15);
      }),
      { numRuns: 100, seed: 21 },
    );
  });

  it('the search: its bound never exceeds the same k tested alone, and is unchanged by a monotone map of the scores', () => {
    const rng = new Rng(5);
    for (let t = 0; t < 20; t++) {
      const m = 200;
      const included = Array.from({ length: m }, () => (rng.bernoulli(0.5) ? 1 : 0));
      const scores = included.map((b) => 1.5 * b + rng.normal());
      const res = canaryAuditBound(scores, included, { delta: 1e-5 });
      expect(res.tests).toBe(defaultGuessGrid(m).length);
      const alone = canaryAuditBound(scores, included, { delta: 1e-5, grid: [res.k] });
      expect(res.epsilonLowerBound).toBeLessThanOrEqual(alone.epsilonLowerBound);
      const mapped = canaryAuditBound(scores.map((x) => Math.exp(x) * 3 + 1), included, { delta: 1e-5 });
      expect(mapped).toEqual(res);
    }
  });
});
