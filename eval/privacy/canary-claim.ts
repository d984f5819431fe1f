/**
 * One-run canary test of a DP-SGD run against the trade-off curve its own accounting claims: can the
 * observed guesses have come from a run that is as private as claimed? Unlike the Gaussian-family reading
 * of canary-bound-fdp.ts, it assumes nothing about the shape of the run's curve: the hypothesis tested is
 * the claim itself, so a rejection is evidence that the claim is false (a bug, or a wrong accounting).
 *
 * THE CLAIMED CURVE. A privacy profile says the run is (ε_j, δ_j)-DP for add/remove neighbours for every
 * j. Being (ε, δ)-DP is the same as being f_{ε,δ}-DP with
 *   f_{ε,δ}(α) = max(0, 1 − δ − e^ε α, e^{−ε}(1 − δ − α))
 * (Dong, Roth & Su, "Gaussian differential privacy", JRSS-B 2022, the f_{ε,δ} of their Sec. 2 and its
 * equivalence with (ε, δ)-DP; Wasserman & Zhou 2010 for the testing reading). The first piece bounds a
 * test with null Q by P(A) ≤ e^ε Q(A) + δ, the second by Q(Aᶜ) ≤ e^ε P(Aᶜ) + δ: both inequalities, i.e.
 * both directions of the pair (P, Q), are needed for either ordering, and both give both orderings, so
 * add/remove (ε, δ)-DP gives T(P, Q) ≥ f_{ε,δ} and T(Q, P) ≥ f_{ε,δ}. Holding for every j at once,
 *   f_claim(α) = max_j f_{ε_j,δ_j}(α),
 * is a trade-off curve of the run in both orderings (a pointwise max of lower bounds on T is one). It is
 * convex (a max of convex functions), continuous, nonincreasing, ≤ 1 − α, and symmetric: each f_{ε,δ}
 * equals its own inverse, and the inverse of a max of trade-off functions is the max of their inverses
 * (below). Dong, Roth & Su show the exact curve is the sup of f_{ε,δ(ε)} over the whole profile; a
 * finite grid and an ε that is an upper bound at each δ_j make f_claim lie BELOW the run's claimed exact
 * curve, i.e. we test a weaker claim ("the run is f_claim-DP") that the true claim implies. So a rejection
 * of f_claim is a rejection of the claim, at the stated confidence; the price is some power.
 *
 * `claimTradeOff(epsilonAt, deltas)` takes the accountant as a function δ ↦ an upper bound on ε at δ. For
 * a DP-SGD run: epsilonAt = (δ) ⇒ prvEpsilon([{ sampleRate, noiseMultiplier, steps }], δ).upper
 * (src/privacy/accountants/prv.ts: Poisson-subsampled Gaussian, both directions of add/remove, a certified
 * bracket up to the FFT round-off it estimates rather than bounds). It is passed in rather than imported
 * because eval/ may not import src/privacy (ARCHITECTURE.md). Only an UPPER bound keeps the test sound; the
 * RDP accountant's ε is one as well (looser, so the curve is lower and the test weaker).
 *
 * The δ grid (`CLAIM_DELTAS`): 96 points evenly spaced in logit(δ) from 1e-12 to 1 − 1e-6. Not log-spaced up
 * to 0.5: the ε = 0 end of the curve needs δ up to the total-variation distance 2Φ(μ/2) − 1 of the two
 * laws, 0.68 already at μ = 2, and a grid stopping at 0.5 left a gap of 0.063 in f there whatever its size.
 * The gap between f_claim and the exact curve is the grid's spacing (it is the same with exact ε), about
 * 1/n²: at q = 1 (one Gaussian release, exact curve f_μ, μ = √T/σ), max over α of f_μ − f_claim with
 * prvEpsilon's upper ε was 5.0e-3 at μ = 1, 2.6e-3 at μ = 0.5, 8.4e-3 at μ = 2, 9.1e-3 at μ = 4 (1e-2 to
 * 4e-2 with 48 or 64 points), below 2e-5 for α ≤ 1e-3; the test's p-values against f_claim were within
 * 1.3% of those against f_μ (test/eval/privacy/canary-claim.test.ts). Cost: one prvEpsilon per δ_j,
 * 15–70 ms each: 1.7–6.4 s per curve at the benchmark's setting (q = 0.0136, T = 222, σ 1.26 to 0.57),
 * and 1–15 ms per test of m = 1000 canaries.
 *
 * g⁻¹ OF THE CLAIM. The recursion of canary-bound-fdp.ts reads the curve through
 * g⁻¹(y) = inf{α : f(α) ≤ 1 − y}. For a max of nonincreasing continuous f_j, {α : max_j f_j(α) ≤ c} is
 * the intersection of the intervals [f_j⁻¹(c), 1], so f⁻¹(c) = max_j f_j⁻¹(c) (the inverse of the max is
 * the max of the inverses), and f_j⁻¹ = f_j. Hence in closed form
 *   g⁻¹(y) = max_j max(0, e^{−ε_j}(y − δ_j), y − δ_j − (e^{ε_j} − 1)(1 − y)),
 * i.e. f_claim(1 − y) written without the cancellation in 1 − (1 − y).
 *
 * THE TEST. `claimCurveTest(scores, included, { curve, confidence })`: for each (k₊, k₋) of the
 * Bonferroni grid of canary-bound.ts (`searchGuessGrid`, the guesses from the ranking of the scores only),
 * p_k = fdpOneRunPValue(m, k, v_k, f) of canary-bound-fdp.ts, an upper bound on P[V ≥ v_k] for any run that
 * is f-DP per canary. Reported: p = min_k p_k, pValue = min(1, p·|grid|), rejected = p·|grid| < β,
 * β = 1 − confidence. Soundness: if the run is f-DP per canary, then for each k, with v₀ the least v with
 * p_k(v) < β/|grid|, {p_k(V) < β/|grid|} ⊂ {V ≥ v₀}, whose probability is ≤ p_k(v₀) < β/|grid| (no
 * monotonicity in v needed); a union bound over the grid gives P[rejected] ≤ β. A run whose true curve
 * is above the claimed one (a correct implementation with a conservative accountant) is f_claim-DP too.
 */
import { assert } from '../../src/core/errors.js';
import { DEFAULT_CANARY_CONFIDENCE, searchGuessGrid, type GuessCounts } from './canary-bound.js';
import { fdpOneRunPValue, type TradeOffCurve } from './canary-bound-fdp.js';

/** f_{ε,δ}(α) = max(0, 1 − δ − e^ε α, e^{−ε}(1 − δ − α)): the trade-off curve of (ε, δ)-DP. */
export function epsilonDeltaTradeOff(epsilon: number, delta: number, alpha: number): number {
  return Math.max(0, 1 - delta - Math.exp(epsilon) * alpha, Math.exp(-epsilon) * (1 - delta - alpha));
}

const logit = (p: number): number => Math.log(p / (1 - p));

/** 96 values of δ, evenly spaced in logit(δ) from 1e-12 to 1 − 1e-6 (both included). */
export const CLAIM_DELTAS: readonly number[] = Object.freeze(
  Array.from({ length: 96 }, (_, j) => {
    const u = logit(1e-12) + (j / 95) * (logit(1 - 1e-6) - logit(1e-12));
    return 1 / (1 + Math.exp(-u));
  }),
);

export interface ClaimCurve extends TradeOffCurve {
  /** The (ε_j, δ_j) the curve is the max of. */
  points: { epsilon: number; delta: number }[];
}

/**
 * f_claim = max_j f_{ε_j,δ_j} with ε_j = epsilonAt(δ_j), an upper bound on the run's ε at δ_j (see the
 * header), and its g⁻¹ in closed form.
 */
export function claimTradeOff(epsilonAt: (delta: number) => number, deltas: readonly number[] = CLAIM_DELTAS): ClaimCurve {
  assert(deltas.length >= 1, () => 'claimTradeOff: no δ');
  const points = deltas.map((delta) => {
    assert(delta > 0 && delta < 1, () => `claimTradeOff: δ = ${delta} outside (0, 1)`);
    const epsilon = epsilonAt(delta);
    assert(Number.isFinite(epsilon) && epsilon >= 0, () => `claimTradeOff: ε = ${epsilon} at δ = ${delta} is not finite and >= 0`);
    return { epsilon, delta };
  });
  const eNeg = points.map((p) => Math.exp(-p.epsilon));
  const eM1 = points.map((p) => Math.expm1(p.epsilon));
  const dl = points.map((p) => p.delta);
  const n = points.length;
  return {
    points,
    tradeOff(alpha: number): number {
      assert(alpha >= 0 && alpha <= 1, () => `claimTradeOff: α = ${alpha} outside [0, 1]`);
      let f = 0;
      for (const p of points) f = Math.max(f, epsilonDeltaTradeOff(p.epsilon, p.delta, alpha));
      return f;
    },
    powerInverse(y: number): number {
      if (y <= 0) return 0;
      const yy = Math.min(1, y);
      let x = 0;
      for (let j = 0; j < n; j++) {
        const d = yy - dl[j]!;
        x = Math.max(x, eNeg[j]! * d, d - eM1[j]! * (1 - yy));
      }
      return x;
    },
  };
}

export interface ClaimCurveTest {
  /** The hypothesis "each canary is f-DP" is rejected at the confidence: p·|grid| < 1 − confidence. */
  rejected: boolean;
  /** min(1, p·|grid|), p the smallest p-value over the grid (Bonferroni-adjusted). */
  pValue: number;
  /** k = k₊ + k₋ and v at the grid entry with the smallest p-value (the first on ties). */
  guesses: number;
  correct: number;
  k: GuessCounts;
  /** |grid|. */
  tests: number;
  canaries: number;
  confidence: number;
}

/**
 * The header's test of "each canary is f-DP" (f = `curve`) from the guesses of the Bonferroni grid
 * search. P[rejected] ≤ 1 − confidence for any run that is f-DP per canary.
 */
export function claimCurveTest(
  scores: ArrayLike<number>,
  included: ArrayLike<boolean | number>,
  opts: { curve: TradeOffCurve; confidence?: number; grid?: readonly GuessCounts[] },
): ClaimCurveTest {
  const confidence = opts.confidence ?? DEFAULT_CANARY_CONFIDENCE;
  assert(confidence > 0 && confidence < 1, () => `confidence must be in (0, 1), got ${confidence}`);
  // searchGuessGrid keeps the largest value: hand it −p to keep the smallest p.
  const b = searchGuessGrid('claimCurveTest', scores, included, { confidence, grid: opts.grid }, (o) =>
    -fdpOneRunPValue({ canaries: o.canaries, guesses: o.guesses, correct: o.correct, curve: opts.curve }),
  );
  const p = -b.bound;
  return {
    rejected: p * b.tests < 1 - confidence,
    pValue: Math.min(1, p * b.tests),
    guesses: b.guesses,
    correct: b.correct,
    k: b.k,
    tests: b.tests,
    canaries: scores.length,
    confidence,
  };
}
