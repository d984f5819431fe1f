/**
 * One-run canary audit: a lower bound on the ε of an (ε, δ)-DP training run from the guesses of an
 * auditor about m canaries — Steinke, Nasr & Jagielski, "Privacy Auditing with One (1) Training Run",
 * NeurIPS 2023 (arXiv:2305.08846). Setting (their Algorithm 1): each canary i = 1..m is included
 * independently with probability 1/2, S_i ∈ {+1 included, −1 excluded}, secret; the run's output is
 * scored; the auditor guesses T_i = +1 for the k₊ highest scores, T_i = −1 for the k₋ lowest, and
 * abstains (T_i = 0) on the rest. r = k₊ + k₋ guesses, v = #{i : T_i = S_i} of them correct.
 *
 * The bound (Theorem 3.1, the paper's main result in high-probability form; arXiv:2305.08846v1 gives
 * the (ε, δ) p-value as Cor. 5.4 and evaluates it in App. D, which this follows): if the run is
 * (ε, δ)-DP with respect to each canary, then for every v
 *   P[V ≥ v] ≤ p(ε) = P[W ≥ v] + 2 m δ · max_{1≤i≤v} (1/i) · P[v − i ≤ W < v],
 *   W ~ Binomial(r, q),  q = e^ε / (e^ε + 1)          (the accuracy of ε-randomized response)
 * so p(ε) is a p-value for the hypothesis "(ε, δ)-DP". Reported bound, at confidence c = 1 − β:
 *   ε_lb = inf{ ε ≥ 0 : p(ε) > β }    (0 when p(0) > β).
 * Soundness: if the true ε* < ε_lb then p(ε*) ≤ β, which has probability ≤ β. This definition needs no
 * monotonicity. With 2mδ ≤ 1, p is nondecreasing in ε (each term of the max is E[w(W)] with weights
 * w_k = 0 below v − i, 2mδ/i ≤ 1 on [v − i, v), 1 from v: nondecreasing in k, and W grows
 * stochastically with q), so bisection finds the infimum; with 2mδ > 1 (e.g. m = 10^5, δ = 10^−5) the
 * first crossing is located on a grid of step 1/64 in ε before bisecting, and a dip of p below β
 * narrower than that step (never seen; p is smooth in ε) could be missed.
 *
 * The search over k ("correcting for the search"): the bound is computed for every (k₊, k₋) of a grid
 * fixed before the scores are seen (default: k₊ = k₋ = 1, 2, 4, …, and ⌊m/2⌋), each at level
 * β / |grid| (Bonferroni), and the largest is reported. Each guess vector is a fixed post-processing
 * of the run's output, so the theorem holds for each one; the union bound then gives
 * P[max_k ε_lb(k) > ε*] ≤ Σ_k β/|grid| = β for arbitrarily dependent tests. Bonferroni rather than a
 * data split because splitting halves m (the bound grows roughly like log r) while the union bound
 * only shrinks β by |grid| ≈ log₂ m (the binomial tail is steep, so the cost in ε is small); rather
 * than reporting the best k uncorrected, because then the stated confidence would not hold.
 *
 * Input contract: `scores[i]` for canary i, higher = "more likely included" (any real, no NaN), a
 * function of the run's output only; `included[i]` the secret bit (true/1 = included), a separate
 * argument read only to count correct guesses. Ties in the scores are broken by canary index (lower
 * index ranks higher), which does not depend on the bits. confidence c ∈ (0, 1) (default 0.95),
 * δ ∈ [0, 1). Binomial probabilities: the pmf of W is built outward from its mode by the ratio
 * pmf(k+1)/pmf(k) = (r − k)/(k + 1) · e^ε and normalised (no log-gamma cancellation; p agrees with
 * the oracle to 1e-11 relative, ε_lb to 1e-9, up to r = 2500). Cost O(r) per p, ~50 p per bound.
 * Reference values: test/fixtures/canary-bound.json (mpmath 1.3.0 at 40 digits,
 * test/fixtures/generators/canary_bound_oracle.py; a hand-worked case with its derivation).
 */
import { assert } from '../../src/core/errors.js';

export const DEFAULT_CANARY_CONFIDENCE = 0.95;

/** Guesses "included" for the k₊ top scores and "excluded" for the k₋ bottom scores. */
export interface GuessCounts {
  positive: number;
  negative: number;
}

export interface CanaryAuditBound {
  /** m: canaries scored. */
  canaries: number;
  /** r = k₊ + k₋ at the reported k. */
  guesses: number;
  /** v: correct guesses at the reported k. */
  correct: number;
  /** max over the grid of ε_lb(k), each at level (1 − confidence) / tests; ≥ 0. */
  epsilonLowerBound: number;
  /** The (k₊, k₋) that gave the reported bound. */
  k: GuessCounts;
  confidence: number;
  delta: number;
  /** |grid|: the number of (k₊, k₋) tried, the Bonferroni divisor. */
  tests: number;
}

export interface CanaryAuditOptions {
  confidence?: number;
  delta: number;
  /** (k₊, k₋) pairs to search; fixed before looking at the scores. Default `defaultGuessGrid(m)`. */
  grid?: readonly GuessCounts[];
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** q = e^ε / (e^ε + 1): the probability that ε-randomized response reports the true bit. */
export function randomizedResponseAccuracy(epsilon: number): number {
  return Math.exp(-softplus(-epsilon));
}

/** pmf of Binomial(r, q) with q = e^ε/(e^ε + 1), k = 0..r, built from the mode by pmf ratios. */
export function binomialPmf(r: number, epsilon: number): Float64Array {
  assert(Number.isInteger(r) && r >= 0, () => `binomialPmf: r = ${r}`);
  assert(epsilon >= 0 && epsilon <= 700, () => `binomialPmf: ε = ${epsilon} outside [0, 700]`);
  const odds = Math.exp(epsilon); // q / (1 - q)
  const q = randomizedResponseAccuracy(epsilon);
  const mode = Math.min(r, Math.floor((r + 1) * q));
  const u = new Float64Array(r + 1);
  u[mode] = 1;
  for (let k = mode; k < r; k++) u[k + 1] = (u[k]! * (r - k) * odds) / (k + 1);
  for (let k = mode; k > 0; k--) u[k - 1] = (u[k]! * k) / ((r - k + 1) * odds);
  let total = 0;
  for (let k = 0; k <= r; k++) total += u[k]!; // smallest terms underflow to 0: below 1e-300 of the mode
  for (let k = 0; k <= r; k++) u[k] = u[k]! / total;
  return u;
}

function checkCounts(m: number, r: number, v: number): void {
  assert(Number.isInteger(m) && Number.isInteger(r) && Number.isInteger(v), () => `counts must be integers: m = ${m}, r = ${r}, v = ${v}`);
  assert(0 <= v && v <= r && r <= m, () => `need 0 <= correct <= guesses <= canaries, got v = ${v}, r = ${r}, m = ${m}`);
}

function checkLevels(delta: number, confidence: number): void {
  assert(delta >= 0 && delta < 1, () => `δ must be in [0, 1), got ${delta}`);
  assert(confidence > 0 && confidence < 1, () => `confidence must be in (0, 1), got ${confidence}`);
}

/**
 * p(ε) of the header: the largest probability that an (ε, δ)-DP run lets r guesses about m canaries
 * have at least v correct. Clamped to 1.
 */
export function oneRunPValue(o: { canaries: number; guesses: number; correct: number; epsilon: number; delta: number }): number {
  const { canaries: m, guesses: r, correct: v, epsilon, delta } = o;
  checkCounts(m, r, v);
  assert(delta >= 0 && delta < 1, () => `δ must be in [0, 1), got ${delta}`);
  const pmf = binomialPmf(r, epsilon);
  let tail = 0;
  for (let k = r; k >= v; k--) tail += pmf[k]!; // small terms first
  if (delta === 0) return Math.min(1, tail);
  let window = 0; // P[v - i <= W < v]
  let alpha = 0;
  for (let i = 1; i <= v; i++) {
    window += pmf[v - i]!;
    alpha = Math.max(alpha, window / i);
  }
  return Math.min(1, tail + 2 * m * delta * alpha);
}

/** Grid step in ε for the first-crossing scan when 2mδ > 1 (p not provably monotone). */
const SCAN_STEP = 1 / 64;
const EPSILON_CAP = 700;

/**
 * ε_lb = inf{ε ≥ 0 : p(ε) > β}, β = 1 − confidence, for v correct of r guesses about m canaries
 * (no search over k: the caller fixed r before seeing the scores). Returns the low end of a bracket
 * narrower than 1e-12, so never above the infimum.
 */
export function oneRunEpsilonLowerBound(o: { canaries: number; guesses: number; correct: number; delta: number; confidence: number }): number {
  const { canaries: m, guesses: r, correct: v, delta, confidence } = o;
  checkCounts(m, r, v);
  checkLevels(delta, confidence);
  const beta = 1 - confidence;
  const rejects = (epsilon: number): boolean =>
    oneRunPValue({ canaries: m, guesses: r, correct: v, epsilon, delta }) <= beta;
  if (!rejects(0)) return 0;
  let lo = 0;
  let hi: number;
  if (2 * m * delta <= 1) {
    hi = 1;
    while (rejects(hi)) {
      lo = hi;
      hi *= 2;
      assert(hi <= EPSILON_CAP, () => `one-run bound above ${EPSILON_CAP} (r = ${r}, v = ${v})`);
    }
  } else {
    hi = SCAN_STEP;
    while (rejects(hi)) {
      lo = hi;
      hi += SCAN_STEP;
      assert(hi <= EPSILON_CAP, () => `one-run bound above ${EPSILON_CAP} (r = ${r}, v = ${v})`);
    }
  }
  return bisectRejected(lo, hi, rejects);
}

/**
 * Bisection to 1e-12 of the boundary between a parameter the test rejects (lo) and one it does not (hi),
 * for a test that rejects everything below some point: the last rejected value found.
 */
export function bisectRejected(lo: number, hi: number, rejects: (x: number) => boolean): number {
  while (hi - lo > 1e-12) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (rejects(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The default search grid: k₊ = k₋ = 1, 2, 4, … below ⌊m/2⌋, and ⌊m/2⌋ itself. */
export function defaultGuessGrid(m: number): GuessCounts[] {
  assert(Number.isInteger(m) && m >= 2, () => `defaultGuessGrid needs m >= 2 canaries, got ${m}`);
  const half = Math.floor(m / 2);
  const grid: GuessCounts[] = [];
  for (let k = 1; k < half; k *= 2) grid.push({ positive: k, negative: k });
  grid.push({ positive: half, negative: half });
  return grid;
}

/**
 * Canary indices from the highest score to the lowest, ties by index (lower first). Depends on the
 * scores only.
 */
export function rankByScore(scores: ArrayLike<number>): Int32Array {
  const m = scores.length;
  for (let i = 0; i < m; i++) assert(!Number.isNaN(scores[i]), () => `canary score ${i} is NaN`);
  const order = Int32Array.from({ length: m }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** T ∈ {−1, 0, +1}^m: +1 for the k₊ top-ranked canaries, −1 for the k₋ bottom-ranked, 0 otherwise. */
export function canaryGuesses(scores: ArrayLike<number>, k: GuessCounts): Int8Array {
  const m = scores.length;
  checkGuessCounts(k, m);
  const order = rankByScore(scores);
  const t = new Int8Array(m);
  for (let j = 0; j < k.positive; j++) t[order[j]!] = 1;
  for (let j = 0; j < k.negative; j++) t[order[m - 1 - j]!] = -1;
  return t;
}

function checkGuessCounts(k: GuessCounts, m: number): void {
  assert(
    Number.isInteger(k.positive) && Number.isInteger(k.negative) && k.positive >= 0 && k.negative >= 0 && k.positive + k.negative <= m,
    () => `guess counts k₊ = ${k.positive}, k₋ = ${k.negative} must be integers >= 0 with k₊ + k₋ <= m = ${m}`,
  );
}

function bitOf(x: boolean | number, i: number): boolean {
  assert(x === true || x === false || x === 0 || x === 1, () => `inclusion bit ${i} must be true/false or 0/1, got ${String(x)}`);
  return x === true || x === 1;
}

/**
 * The search shared by the one-run bounds: for every (k₊, k₋) of the grid (fixed before the scores are
 * seen), guess from the ranking of `scores`, count correct guesses against `included`, and bound at level
 * (1 − confidence)/|grid| with `bound` (Bonferroni, as the header says); the largest bound with the guess
 * counts that gave it (the first grid entry on ties, also when every bound is 0).
 */
export function searchGuessGrid(
  name: string,
  scores: ArrayLike<number>,
  included: ArrayLike<boolean | number>,
  opts: { confidence: number; grid?: readonly GuessCounts[] },
  bound: (o: { canaries: number; guesses: number; correct: number; confidence: number }) => number,
): { bound: number; guesses: number; correct: number; k: GuessCounts; tests: number } {
  const m = scores.length;
  assert(m >= 1, () => `${name}: no canaries`);
  assert(included.length === m, () => `${name}: ${m} scores but ${included.length} inclusion bits`);
  const grid = opts.grid ?? defaultGuessGrid(m);
  assert(grid.length >= 1, () => `${name}: empty search grid`);
  for (const k of grid) checkGuessCounts(k, m);
  const bits = Array.from({ length: m }, (_, i) => bitOf(included[i]!, i));
  const order = rankByScore(scores); // the scores alone fix every guess vector
  const perTest = 1 - (1 - opts.confidence) / grid.length;
  let best: { bound: number; guesses: number; correct: number; k: GuessCounts; tests: number } | null = null;
  for (const k of grid) {
    let correct = 0;
    for (let j = 0; j < k.positive; j++) if (bits[order[j]!]) correct++;
    for (let j = 0; j < k.negative; j++) if (!bits[order[m - 1 - j]!]) correct++;
    const guesses = k.positive + k.negative;
    const b = bound({ canaries: m, guesses, correct, confidence: perTest });
    if (best === null || b > best.bound) best = { bound: b, guesses, correct, k: { ...k }, tests: grid.length };
  }
  return best!;
}

/**
 * The one-run audit bound of the header: for every (k₊, k₋) of the grid, guess from the ranking of
 * `scores`, count correct guesses against `included`, bound ε at level (1 − confidence)/|grid|, and
 * return the largest bound (the first grid entry on ties, also when every bound is 0).
 */
export function canaryAuditBound(scores: ArrayLike<number>, included: ArrayLike<boolean | number>, opts: CanaryAuditOptions): CanaryAuditBound {
  const confidence = opts.confidence ?? DEFAULT_CANARY_CONFIDENCE;
  checkLevels(opts.delta, confidence);
  const b = searchGuessGrid('canaryAuditBound', scores, included, { confidence, grid: opts.grid }, (o) => oneRunEpsilonLowerBound({ ...o, delta: opts.delta }));
  return { canaries: scores.length, guesses: b.guesses, correct: b.correct, epsilonLowerBound: b.bound, k: b.k, confidence, delta: opts.delta, tests: b.tests };
}
