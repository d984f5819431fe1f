/**
 * One-run canary audit against a trade-off curve f: an upper bound on P[V ≥ v] for a run that is f-DP per
 * canary, for any trade-off function f (a p-value of "the run is f-DP"), and, in the Gaussian family
 * f_μ(α) = Φ(Φ⁻¹(1 − α) − μ) (Dong, Roth & Su, "Gaussian differential privacy", JRSS-B 2022), a lower
 * bound on the μ of a μ-GDP training run, from the same guesses as eval/privacy/canary-bound.ts — the f-DP
 * analysis of Mahloujifar, Melis & Chaudhuri, "Auditing f-Differential Privacy in One Run", ICML 2025
 * (PMLR 267:42615-42641; arXiv:2410.22235). eval/privacy/canary-claim.ts tests a run against the curve
 * its own accounting claims with the general form.
 *
 * WHAT IS ASSUMED. The bound is valid only under the hypothesis that, for every canary i and every value
 * of the other canaries' bits, the run's output is f-DP with respect to bit i (below: in both orderings of
 * the pair). For f = f_μ the result reads "the run is not μ-GDP for any μ < μ_lb, at confidence c", and
 * `epsilonAtDelta` translates μ_lb into ε at δ *within that family only*: it is the ε
 * of the μ_lb-Gaussian curve, not a lower bound on the ε of an arbitrary (ε, δ)-DP run. DP-SGD with many
 * steps is close to μ-GDP by the central limit theorem of Dong, Roth & Su (their CLT for composed,
 * subsampled mechanisms), with μ ≈ q·√(T·(e^{1/σ²} − 1)), but not exactly: for small q its true curve can
 * lie below that Gaussian in the tails, so the CLT μ is not an upper bound on the run's privacy loss.
 *
 * Setting (as in canary-bound.ts): m canaries, bits S_i ∈ {±1} uniform and secret; the auditor makes
 * exactly k = k₊ + k₋ guesses T_i ∈ {±1} from the output alone and abstains on the rest; V = #correct.
 *
 * THE BOUND (the paper's main result for guessing with abstentions; their numerical procedure is the
 * backward recursion below, which Meta's facebookresearch/PrivacyGuard (`audit_rh_with_cap`) and
 * google-deepmind/jax_privacy (`_epsilon_one_run_fdp`) also implement, citing the paper for it). Theorem
 * and equation numbers are not quoted here: only the paper's first page could be read from this machine,
 * so the statement below was derived and proved here from the setting, in our notation, and checked to
 * coincide with that recursion (for a two-valued secret, where the paper's alphabet factor k − 1 is 1).
 * Write g(x) = 1 − f(x) (the largest power of a test at level x) and g⁻¹(y) = inf{x ∈ [0, 1] : f(x) ≤ 1 − y}
 * (its generalised inverse: the least level at which power y is possible). For f_μ: g(x) = Φ(Φ⁻¹(x) + μ),
 * g⁻¹(y) = Φ(Φ⁻¹(y) − μ); for a symmetric f (f⁻¹ = f), g⁻¹(y) = f(1 − y). For τ ∈ [0, 1] run, for
 * i = v − 1 down to 0,
 *   r_v = τ v / m,                 h_v = τ (k − v) / m,
 *   h_i = max(h_{i+1}, g⁻¹(r_{i+1})),
 *   r_i = r_{i+1} + i/(k − i) · (h_i − h_{i+1}),                                                   (R)
 * and let Ψ_f(τ) = r_0 + h_0. Theorem: if the run is f-DP per canary then Ψ_f(P[V ≥ v]) ≤ k/m.
 * Hence, Ψ being nondecreasing in τ (below), P[V ≥ v] ≤ p_f := sup{τ ∈ [0, 1] : Ψ_f(τ) ≤ k/m}; Ψ_μ = Ψ_{f_μ}
 * and p(μ) = p_{f_μ}. API: `fdpOneRunPValue` / `fdpRecursionTotal` take a `TradeOffCurve` (f and its g⁻¹):
 * `gaussianCurve(μ)` (the GDP functions below are exactly this case), `tradeOffCurve(f)` for f given only
 * as a function (g⁻¹ by bisection), or the claimed curve of canary-claim.ts (g⁻¹ in closed form).
 *
 * The hypothesis, exactly: with P_i and Q_i the laws of the output given S_i = +1 and S_i = −1 (the other
 * bits fixed), T(Q_i, P_i) ≥ f and T(P_i, Q_i) ≥ f, T(·,·) the trade-off function of Dong, Roth & Su (a
 * test of null Q_i at level α has power ≤ 1 − f(α), and the same with P_i and Q_i swapped). That is f-DP
 * for a symmetric neighbour relation such as add/remove of one canary, which is what DP-SGD claims. For a
 * symmetric f (f_μ; f_{ε,δ} and any pointwise max of them, as in canary-claim.ts) one ordering implies the
 * other, since T(Q, P) is the inverse of T(P, Q) and inversion keeps order. For an asymmetric f known in
 * one ordering only (T(P_i, Q_i) ≥ f, hence T(Q_i, P_i) ≥ f⁻¹), pass instead the greatest convex minorant of
 * min(f, f⁻¹), which both orderings then satisfy (each is convex and above min(f, f⁻¹)); this module does
 * not build it.
 *
 * Proof (ours). Write V₋ᵢ for the correct guesses on canaries other than i, a function of the output and
 * the other bits. Fix those bits; then ψ = 1{T_i = +1, V₋ᵢ ≥ j} is a test of null "S_i = −1" on the output,
 * so its power is at most g(its level) by T(Q_i, P_i) ≥ f; the same for 1{T_i = −1, V₋ᵢ ≥ j} with null
 * "S_i = +1" by T(P_i, Q_i) ≥ f. Averaging the two with weights ½ and using the concavity of g:
 *   P[T_i = S_i, V₋ᵢ ≥ j] ≤ g(P[T_i = −S_i, V₋ᵢ ≥ j]),
 * and again (Jensen) after averaging over the other bits and over i. A correct guess on i means V = V₋ᵢ + 1, a
 * wrong one V = V₋ᵢ, so with R_j = E[V; V ≥ j]/m and H_j = E[k − V; V ≥ j]/m the sums over i give
 *   R_{j+1} ≤ g(H_j)   for j = 0 … k − 1,                                                         (C)
 * while R_0 + H_0 = k/m. By the definition of g⁻¹, (C) gives H_j ≥ g⁻¹(R_{j+1}). Moving all the mass of V
 * above v down to v lowers every R_j and raises every
 * H_j for j ≤ v, so (C) still holds for j < v, and afterwards R_v = τ v/m, H_v = τ (k − v)/m (τ = P[V ≥ v])
 * and R_i − R_{i+1} = i/(k − i) · (H_i − H_{i+1}) (the mass at V = i has i right and k − i wrong). By
 * downward induction, D_i = H_i − h_i ≥ 0 and F_i = (R_i − r_i) − i/(k − i)·D_i ≥ 0: D_i ≥ 0 from
 * H_i ≥ max(H_{i+1}, g⁻¹(R_{i+1})) with R_{i+1} ≥ r_{i+1} (which F_{i+1} ≥ 0 gives) and g⁻¹ nondecreasing;
 * F_i = (R_{i+1} − r_{i+1}) − i/(k − i)·D_{i+1} ≥ F_{i+1} since i/(k − i) grows with i. At i = 0: R_0 ≥ r_0,
 * H_0 ≥ h_0, so k/m ≥ Ψ_f(τ). ∎
 * What of f the proof uses: (a) the hypothesis in both orderings (above); (b) f convex, i.e. g concave (the
 * two averagings); (c) g⁻¹ nondecreasing, true of any generalised inverse, and a computed g⁻¹ may be
 * anywhere at or BELOW the exact one (smaller h, smaller Ψ, larger p: conservative; the induction only
 * needs H_i ≥ the computed h_i). Neither symmetry, nor continuity, nor f(α) ≤ 1 − α, nor f(0) = 1 is used:
 * a curve with f(0) < 1 (as f_{ε,δ}: g(0) = δ) simply has g⁻¹ = 0 on [0, g(0)].
 * The same induction, run between two recursions, shows Ψ_f(τ) is nondecreasing in τ (using only that g⁻¹ is
 * nondecreasing) and that f ≤ f' pointwise (so g⁻¹_f ≤ g⁻¹_{f'}) gives Ψ_f ≤ Ψ_{f'}, i.e. p_f ≥ p_{f'}:
 * testing a curve below the truth is conservative, and Ψ_{f_μ} is nonincreasing in μ. And the bound is
 * attained by the relaxation: the
 * masses p_v = τ, p_i = m (h_i − h_{i+1})/(k − i) satisfy every (C), so no argument from (C) alone does
 * better. The recursion stops early once g⁻¹(r) ≤ h (nothing changes any more) or once r + h > k/m
 * (both only grow).
 *
 * Lower bound at confidence c = 1 − β (no search: k fixed before the scores are seen):
 *   μ_lb = inf{μ ≥ 0 : p(μ) ≥ β} = inf{μ ≥ 0 : Ψ_μ(β) ≤ k/m}   (0 when Ψ_0(β) ≤ k/m).
 * The two sets agree because Ψ is nondecreasing and continuous in τ; μ_lb is at most inf{μ : p(μ) > β}
 * (they differ only on ties), so taking ≥ is the conservative side. Soundness: if the true μ* < μ_lb then
 * p(μ*) < β, and P[p(μ*) < β] ≤ P[V ≥ v₀] ≤ p(μ*, v₀) < β for v₀ the smallest v with p(μ*, v) < β.
 * Because Ψ_μ(β) is nonincreasing in μ, {μ : Ψ_μ(β) ≤ k/m} is a half-line and bisection finds μ_lb (to
 * 1e-12; the low end of the bracket is returned, so never above the infimum). p(μ) itself is found by
 * bisection on τ (relative 1e-14; the high end is returned, so it stays an upper bound on P[V ≥ v]).
 *
 * Search over k: the same grid and Bonferroni correction as canary-bound.ts (`defaultGuessGrid`, guesses
 * from `rankByScore`), each (k₊, k₋) at level β/|grid|, the largest μ_lb reported (the first on ties).
 *
 * ε at δ of μ-GDP (Dong, Roth & Su 2022, Cor. 2.13): δ_μ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2),
 * decreasing in ε; `epsilonAtDelta` = the smallest ε ≥ 0 with δ_μ(ε) ≤ δ (bisection to 1e-12, the low
 * end returned), 0 when μ = 0 or δ_μ(0) = 2Φ(μ/2) − 1 ≤ δ.
 *
 * Numerics: Φ from the repo's erfc (src/core/special.ts); Φ⁻¹ (none in the repo) by the start of
 * Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) and Newton steps on log Φ, whose derivative is the
 * reciprocal Mills ratio, taken from the same continued fraction, so tails down to 1e-300 keep their
 * relative precision. Against the mpmath oracle (test/fixtures/canary-bound-fdp.json, written by
 * test/fixtures/generators/canary_bound_fdp_oracle.py from the primal form of the same theorem) p agrees
 * to 2e-14 relative and μ_lb to 1e-12 (tested at 1e-10 and 1e-9).
 * Cost: O(v) per Ψ (less with the early stops), ~45 Ψ per bound; times the cost of one g⁻¹ (a bisection of
 * ~60 evaluations of f for `tradeOffCurve`). With f given as a plain function, g⁻¹(y) reads f near 1 − y,
 * so powers y below ~1e-12 lose relative precision (absolute 1e-16): against the fixture's GDP values the
 * general path agrees to 2.4e-10 relative at worst (at p = 5e-7).
 */
import { assert } from '../../src/core/errors.js';
import { erfc, erfcFraction, logErfc } from '../../src/core/special.js';
import { bisectRejected, DEFAULT_CANARY_CONFIDENCE, searchGuessGrid, type GuessCounts } from './canary-bound.js';

const LN2 = Math.log(2);
const HALF_LOG_PI = 0.5 * Math.log(Math.PI);
const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** Φ(x) = P[N(0, 1) ≤ x]. */
export function normalCdf(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** log Φ(x), without underflow in the lower tail. */
function logNormalCdf(x: number): number {
  return logErfc(-x / Math.SQRT2) - LN2;
}

/** log Φ(x) and the Mills ratio Φ(x)/φ(x), from one erfc evaluation. */
function logCdfAndMills(x: number): [number, number] {
  const y = -x / Math.SQRT2;
  if (y >= 1) {
    // Φ(x) = ½ erfc(y) = e^{−y²} / (2√π K(y)),  φ(x) = e^{−y²}/√(2π)  ⇒  Φ/φ = 1/(√2 K(y)).
    const k = erfcFraction(y);
    return [-y * y - HALF_LOG_PI - LN2 - Math.log(k), 1 / (Math.SQRT2 * k)];
  }
  const cdf = 0.5 * erfc(y);
  return [Math.log(cdf), (cdf * SQRT_2PI) / Math.exp(-0.5 * x * x)];
}

/**
 * Φ⁻¹(p) for p ∈ [0, 1]: ±∞ at the ends. Lower half: the rational start of Abramowitz & Stegun 26.2.23,
 * then Newton on F(x) = log Φ(x) − log p (F' = φ/Φ, so the step is F · Φ/φ); the upper half by symmetry
 * (1 − p is exact there).
 */
export function normalQuantile(p: number): number {
  assert(p >= 0 && p <= 1, () => `normalQuantile: p = ${p} outside [0, 1]`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p > 0.5) return -normalQuantile(1 - p);
  if (p === 0.5) return 0;
  const t = Math.sqrt(-2 * Math.log(p));
  let x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
  const logP = Math.log(p);
  for (let it = 0; it < 8; it++) {
    const [logCdf, mills] = logCdfAndMills(x);
    const step = (logCdf - logP) * mills;
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/** f_μ(α) = Φ(Φ⁻¹(1 − α) − μ): the least type II error of a test at level α against μ-GDP. */
export function gaussianTradeOff(mu: number, alpha: number): number {
  assert(alpha >= 0 && alpha <= 1, () => `gaussianTradeOff: α = ${alpha} outside [0, 1]`);
  return normalCdf(normalQuantile(1 - alpha) - mu);
}

/**
 * g⁻¹(y) = Φ(Φ⁻¹(y) − μ), the inverse of the largest power g(x) = 1 − f_μ(x) = Φ(Φ⁻¹(x) + μ): the least
 * level at which a test under μ-GDP can have power y. 1 for y ≥ 1.
 */
export function gaussianPowerInverse(mu: number, y: number): number {
  if (y >= 1) return 1;
  if (y <= 0) return 0;
  return normalCdf(normalQuantile(y) - mu);
}

/**
 * A trade-off function f for the recursion: f itself, and g⁻¹(y) = inf{α ∈ [0, 1] : f(α) ≤ 1 − y}, the
 * least level at which a test can have power y (the generalised inverse of the largest power g = 1 − f).
 * The recursion reads f only through g⁻¹. Requirements (checked loosely by `tradeOffCurve`): f convex,
 * nonincreasing, continuous, 0 ≤ f(α) ≤ 1 − α; powerInverse nondecreasing and never above the exact
 * g⁻¹ (below it is conservative: smaller h, smaller Ψ, larger p).
 */
export interface TradeOffCurve {
  tradeOff(alpha: number): number;
  powerInverse(y: number): number;
}

/** f_μ as a `TradeOffCurve`: g⁻¹ by `gaussianPowerInverse`, so the GDP functions are this special case. */
export function gaussianCurve(mu: number): TradeOffCurve {
  checkMu(mu);
  return { tradeOff: (alpha) => gaussianTradeOff(mu, alpha), powerInverse: (y) => gaussianPowerInverse(mu, y) };
}

/**
 * A `TradeOffCurve` from f alone: g⁻¹(y) = inf{α : f(α) ≤ 1 − y} by bisection on α, the low end returned
 * (f(lo) > 1 − y, so lo ≤ the infimum: conservative), to relative 2^-52 in α (first halving from 1 to the
 * right binade, then 60 bisection steps). 0 when y ≤ 1 − f(0); for y ≥ 1, inf{α : f(α) ≤ 0}. Note that
 * 1 − y is rounded: for y below ~1e-12 the level is found for a y off by up to 1e-16 absolute. The curve
 * is checked on 65 points (values in [0, 1 − α], nonincreasing, convex, to 1e-12) and a bad one throws.
 */
export function tradeOffCurve(f: (alpha: number) => number): TradeOffCurve {
  const n = 64;
  const ys = Array.from({ length: n + 1 }, (_, i) => f(i / n));
  for (let i = 0; i <= n; i++) {
    const y = ys[i]!;
    assert(Number.isFinite(y) && y >= 0 && y <= 1 - i / n + 1e-12, () => `trade-off function: f(${i / n}) = ${y} outside [0, 1 − α]`);
    if (i > 0) assert(y <= ys[i - 1]! + 1e-12, () => `trade-off function: increasing at α = ${i / n}`);
    if (i > 0 && i < n) assert(y <= 0.5 * (ys[i - 1]! + ys[i + 1]!) + 1e-12, () => `trade-off function: not convex at α = ${i / n}`);
  }
  const powerInverse = (y: number): number => {
    const c = 1 - Math.min(1, y);
    if (y <= 0 || f(0) <= c) return 0;
    // f(lo) > c ≥ f(hi) throughout.
    let hi = 1;
    let lo = 0.5;
    while (f(lo) <= c) {
      hi = lo;
      lo *= 0.5;
      if (lo < 1e-300) return 0;
    }
    for (let it = 0; it < 60; it++) {
      const mid = 0.5 * (lo + hi);
      if (mid === lo || mid === hi) break;
      if (f(mid) > c) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  return { tradeOff: f, powerInverse };
}

export interface GdpCounts {
  /** m: canaries. */
  canaries: number;
  /** k: guesses (k₊ + k₋). */
  guesses: number;
  /** v: correct guesses. */
  correct: number;
}

function checkCounts(o: GdpCounts): void {
  const { canaries: m, guesses: k, correct: v } = o;
  assert(Number.isInteger(m) && Number.isInteger(k) && Number.isInteger(v), () => `counts must be integers: m = ${m}, k = ${k}, v = ${v}`);
  assert(m >= 1 && 0 <= v && v <= k && k <= m, () => `need 0 <= correct <= guesses <= canaries and canaries >= 1, got v = ${v}, k = ${k}, m = ${m}`);
}

function checkMu(mu: number): void {
  assert(Number.isFinite(mu) && mu >= 0, () => `μ must be finite and >= 0, got ${mu}`);
}

function checkConfidence(confidence: number): void {
  assert(confidence > 0 && confidence < 1, () => `confidence must be in (0, 1), got ${confidence}`);
}

/**
 * The recursion (R) of the header for a hypothesised curve, given by its g⁻¹, and tail probability τ. With `stopAbove` it stops as
 * soon as r + h exceeds that value (both only grow) and returns the partial sum; without, Ψ_μ(τ) = r_0 + h_0.
 */
function recursion(m: number, k: number, v: number, powerInverse: (y: number) => number, tau: number, stopAbove = Infinity): number {
  let r = (tau * v) / m;
  let h = (tau * (k - v)) / m;
  for (let i = v - 1; i >= 0; i--) {
    const hNext = Math.max(h, powerInverse(r));
    if (hNext === h) break; // g⁻¹(r) ≤ h: h and r stay as they are for every smaller i
    r += (i / (k - i)) * (hNext - h);
    h = hNext;
    if (r + h > stopAbove) break;
  }
  return r + h;
}

/** Ψ_μ(τ) = r_0 + h_0 of the header's recursion (R). The theorem: Ψ_μ(P[V ≥ v]) ≤ k/m under μ-GDP. */
export function gdpRecursionTotal(o: GdpCounts & { mu: number; tau: number }): number {
  checkCounts(o);
  checkMu(o.mu);
  assert(o.tau >= 0 && o.tau <= 1, () => `τ must be in [0, 1], got ${o.tau}`);
  return recursion(o.canaries, o.guesses, o.correct, gaussianCurve(o.mu).powerInverse, o.tau);
}

/** Ψ_μ(τ) ≤ k/m: τ is a tail probability P[V ≥ v] that a μ-GDP run allows. */
function allowed(m: number, k: number, v: number, powerInverse: (y: number) => number, tau: number): boolean {
  const cap = k / m;
  return recursion(m, k, v, powerInverse, tau, cap) <= cap;
}

/**
 * p(μ) of the header: an upper bound on P[V ≥ v] for k guesses about m canaries when the run is μ-GDP per
 * canary (1 when v = 0 or k = 0). The high end of a bisection bracket of relative width 1e-14.
 */
export function gdpOneRunPValue(o: GdpCounts & { mu: number }): number {
  checkCounts(o);
  checkMu(o.mu);
  return pValue(o.canaries, o.guesses, o.correct, gaussianCurve(o.mu).powerInverse);
}

/**
 * p_f of the header: an upper bound on P[V ≥ v] for k guesses about m canaries when the run is f-DP per
 * canary (both orderings of each canary's pair of output laws; see the header), 1 when v = 0 or k = 0.
 * The high end of a bisection bracket of relative width 1e-14.
 */
export function fdpOneRunPValue(o: GdpCounts & { curve: TradeOffCurve }): number {
  checkCounts(o);
  return pValue(o.canaries, o.guesses, o.correct, o.curve.powerInverse);
}

/** Ψ_f(τ) = r_0 + h_0 of the recursion (R) for the curve f. */
export function fdpRecursionTotal(o: GdpCounts & { curve: TradeOffCurve; tau: number }): number {
  checkCounts(o);
  assert(o.tau >= 0 && o.tau <= 1, () => `τ must be in [0, 1], got ${o.tau}`);
  return recursion(o.canaries, o.guesses, o.correct, o.curve.powerInverse, o.tau);
}

function pValue(m: number, k: number, v: number, powerInverse: (y: number) => number): number {
  if (allowed(m, k, v, powerInverse, 1)) return 1;
  let hi = 1;
  let lo = 0.5;
  while (!allowed(m, k, v, powerInverse, lo)) {
    hi = lo;
    lo *= 0.5;
    if (lo < 1e-300) return hi; // a p-value below 1e-300: report that bound
  }
  while (hi - lo > 1e-14 * hi) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (allowed(m, k, v, powerInverse, mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

const MU_CAP = 64;

/**
 * μ_lb = inf{μ ≥ 0 : Ψ_μ(β) ≤ k/m}, β = 1 − confidence, for v correct of k guesses about m canaries (k
 * fixed before the scores were seen). The low end of a bracket narrower than 1e-12.
 */
export function gdpLowerBound(o: GdpCounts & { confidence: number }): number {
  checkCounts(o);
  checkConfidence(o.confidence);
  const { canaries: m, guesses: k, correct: v } = o;
  const beta = 1 - o.confidence;
  const rejects = (mu: number): boolean => !allowed(m, k, v, gaussianCurve(mu).powerInverse, beta);
  if (!rejects(0)) return 0;
  let lo = 0;
  let hi = 1;
  while (rejects(hi)) {
    lo = hi;
    hi *= 2;
    assert(hi <= MU_CAP, () => `GDP one-run bound above μ = ${MU_CAP} (m = ${m}, k = ${k}, v = ${v})`);
  }
  return bisectRejected(lo, hi, rejects);
}

/** δ_μ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2): the δ at ε of μ-GDP (Dong, Roth & Su 2022, Cor. 2.13). */
export function gdpDelta(mu: number, epsilon: number): number {
  checkMu(mu);
  assert(epsilon >= 0, () => `ε must be >= 0, got ${epsilon}`);
  if (mu === 0) return 0;
  return normalCdf(-epsilon / mu + mu / 2) - Math.exp(epsilon + logNormalCdf(-epsilon / mu - mu / 2));
}

const EPSILON_CAP = 1e4;

/** The smallest ε ≥ 0 with δ_μ(ε) ≤ δ (low end of a 1e-12 bracket); 0 when μ = 0. */
export function gdpEpsilonAtDelta(mu: number, delta: number): number {
  checkMu(mu);
  assert(delta > 0 && delta < 1, () => `δ must be in (0, 1), got ${delta}`);
  if (gdpDelta(mu, 0) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (gdpDelta(mu, hi) > delta) {
    lo = hi;
    hi *= 2;
    assert(hi <= EPSILON_CAP, () => `ε of ${mu}-GDP at δ = ${delta} above ${EPSILON_CAP}`);
  }
  while (hi - lo > 1e-12 * Math.max(1, hi)) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (gdpDelta(mu, mid) > delta) lo = mid;
    else hi = mid;
  }
  return lo;
}

export interface CanaryAuditGdpBound {
  /** m: canaries scored. */
  canaries: number;
  /** max over the grid of μ_lb(k), each at level (1 − confidence)/tests; ≥ 0. */
  muLowerBound: number;
  /** k = k₊ + k₋ at the reported grid entry. */
  guesses: number;
  /** v: correct guesses there. */
  correct: number;
  /** k₊ and k₋ of the reported grid entry. */
  positive: number;
  negative: number;
  /** |grid|: the Bonferroni divisor. */
  tests: number;
  confidence: number;
  delta: number;
  /** ε at δ of μ_lb-GDP (valid only under the GDP hypothesis; see the header). */
  epsilonAtDelta: number;
}

export interface CanaryAuditGdpOptions {
  confidence?: number;
  /** δ at which μ_lb is expressed as ε; in (0, 1). */
  delta: number;
  /** (k₊, k₋) pairs to search, fixed before the scores are seen. Default `defaultGuessGrid(m)`. */
  grid?: readonly GuessCounts[];
}

/**
 * The GDP one-run audit: for every (k₊, k₋) of the grid, guess from the ranking of `scores` (as
 * canary-bound.ts does), count correct guesses against `included`, bound μ at level (1 − confidence)/|grid|,
 * and return the largest bound with its ε at δ.
 */
export function canaryAuditGdpBound(
  scores: ArrayLike<number>,
  included: ArrayLike<boolean | number>,
  opts: CanaryAuditGdpOptions,
): CanaryAuditGdpBound {
  const confidence = opts.confidence ?? DEFAULT_CANARY_CONFIDENCE;
  checkConfidence(confidence);
  assert(opts.delta > 0 && opts.delta < 1, () => `δ must be in (0, 1), got ${opts.delta}`);
  const b = searchGuessGrid('canaryAuditGdpBound', scores, included, { confidence, grid: opts.grid }, gdpLowerBound);
  return {
    canaries: scores.length,
    muLowerBound: b.bound,
    guesses: b.guesses,
    correct: b.correct,
    positive: b.k.positive,
    negative: b.k.negative,
    tests: b.tests,
    confidence,
    delta: opts.delta,
    epsilonAtDelta: gdpEpsilonAtDelta(b.bound, opts.delta),
  };
}
