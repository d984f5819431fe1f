/**
 * How well a membership-inference attack separates members from non-members, and what that implies for
 * differential privacy.
 *
 * Input contract (every function here): `members` = scores of images the generator was trained on (the
 * train split), `nonMembers` = scores of images it never saw (the holdout split); plain number arrays,
 * no NaN (±Infinity allowed). Convention: a higher score means "more likely a member"; the attack's
 * decision at threshold t is "member iff score >= t". Counts: n1 = #members, n0 = #non-members.
 *
 *   TPR(t) = #{members >= t} / n1        FPR(t) = #{non-members >= t} / n0        FNR = 1 - TPR
 *
 * - ROC AUC = (1 / (n1 n0)) sum_i sum_j [ 1(m_i > u_j) + 1/2 1(m_i = u_j) ]: the Mann-Whitney statistic,
 *   equal to the trapezoidal area under the ROC curve with ties on the diagonal (Hanley & McNeil,
 *   Radiology 143(1), 1982: the area equals the Wilcoxon statistic). 0.5 = no better than chance.
 * - TPR at FPR = a: max_t { TPR(t) : FPR(t) <= a }, no interpolation between ROC points (Carlini et al.,
 *   "Membership Inference Attacks From First Principles", IEEE S&P 2022, Sec. III: report the true
 *   positive rate at low false positive rates, e.g. 0.1%). With n0 < 1/a only FPR = 0 qualifies: the value
 *   is then the share of members above every non-member (`fprResolution` = 1/n0 says so).
 * - Maximum advantage = max_t TPR(t) - FPR(t) (membership advantage, Yeom et al., "Privacy Risk in
 *   Machine Learning", IEEE CSF 2018, Def. 4, at the best threshold). In [0, 1]; 0 at t = +Infinity.
 * - Bootstrap CIs: stratified percentile bootstrap (Efron & Tibshirani, An Introduction to the
 *   Bootstrap, 1993, Ch. 13): B replicates each redraw n1 members and n0 non-members with replacement
 *   from a seeded Rng; the interval is the (1-c)/2 and (1+c)/2 percentiles (numpy's default linear
 *   interpolation) of the replicate values. AUC, TPR@FPR and advantage of a replicate come from one
 *   pass over its two sorted score lists.
 * - Clopper-Pearson bounds for a binomial share k/n (Clopper & Pearson, Biometrika 26(4), 1934):
 *     one-sided upper at confidence c:  p_hi = BetaInv(c; k + 1, n - k)       (1 when k = n)
 *     one-sided lower at confidence c:  p_lo = BetaInv(1 - c; k, n - k + 1)   (0 when k = 0)
 *     two-sided interval at confidence c: [lower at (1+c)/2, upper at (1+c)/2]
 *   BetaInv inverts the regularized incomplete beta I_x(a, b), evaluated by its continued fraction
 *   (DLMF 8.17.22, with I_x(a, b) = 1 - I_{1-x}(b, a) beyond the mean) by modified Lentz iteration.
 * - Empirical epsilon lower bound (Jagielski, Ullman & Oprea, "Auditing Differentially Private Machine
 *   Learning: How Private is Private SGD?", NeurIPS 2020, Sec. 4; Nasr et al., "Adversary Instantiation:
 *   Lower Bounds for Differentially Private Machine Learning", IEEE S&P 2021). Any test of an
 *   (eps, delta)-DP mechanism satisfies FPR + e^eps FNR >= 1 - delta and FNR + e^eps FPR >= 1 - delta
 *   (Kairouz, Oh & Viswanath, ICML 2015, Thm. 2.1), so
 *       eps >= max( log((1 - delta - FPR) / FNR), log((1 - delta - FNR) / FPR) ).
 *   With the observed FP and FN counts replaced by their one-sided Clopper-Pearson UPPER bounds, each at
 *   confidence 1 - (1-c)/2, both bounds hold together with probability >= c (union bound), and the
 *   right side is then a lower bound on eps at confidence c (default c = 0.95). The threshold and the
 *   form are chosen on a seeded half of each set ("selection"), and the bound is computed on the other
 *   half ("evaluation"), so choosing the best of many thresholds does not inflate it. A term whose
 *   numerator is <= 0 contributes nothing; the bound is >= 0.
 *   Caveat: one trained model gives one outcome per image, and those outcomes are not independent
 *   training runs as in Jagielski et al.; treat the number as an estimate of a lower bound, not a proof
 *   that a DP claim is false. It can only be large when n is: with n per half, eps_lb < log(n / 3.7).
 */
import { gammaln, quantileSorted as ssQuantileSorted } from 'simple-statistics';
import { assert } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';

export const DEFAULT_FPRS = [0.01, 0.001] as const;
export const DEFAULT_CONFIDENCE = 0.95;

export interface RocSummary {
  auc: number;
  /** TPR at each requested FPR, in the order of `fprs`. */
  tprAtFpr: number[];
  advantage: number;
}

function checkScores(x: ArrayLike<number>, name: string): void {
  assert(x.length > 0, () => `${name}: no scores`);
  for (let i = 0; i < x.length; i++) assert(!Number.isNaN(x[i]), () => `${name}: score ${i} is NaN`);
}

function sortedCopy(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort();
}

/**
 * AUC, TPR at each FPR in `fprs` and the maximum advantage from ascending-sorted scores, in one pass
 * from the highest score down (one ROC point per distinct score).
 */
export function rocFromSorted(members: Float64Array, nonMembers: Float64Array, fprs: readonly number[] = DEFAULT_FPRS): RocSummary {
  const n1 = members.length;
  const n0 = nonMembers.length;
  let i = n1 - 1;
  let j = n0 - 1;
  let tp = 0;
  let fp = 0;
  let aucSum = 0;
  let advantage = 0;
  const tprAt = fprs.map(() => 0);
  while (i >= 0 || j >= 0) {
    const v = Math.max(i >= 0 ? members[i]! : -Infinity, j >= 0 ? nonMembers[j]! : -Infinity);
    let cm = 0;
    let cn = 0;
    while (i >= 0 && members[i] === v) {
      cm++;
      i--;
    }
    while (j >= 0 && nonMembers[j] === v) {
      cn++;
      j--;
    }
    // Members at v beat the non-members below v and tie with the cn at v.
    aucSum += cm * (n0 - fp - cn + 0.5 * cn);
    tp += cm;
    fp += cn;
    const tpr = tp / n1;
    const fpr = fp / n0;
    if (tpr - fpr > advantage) advantage = tpr - fpr;
    fprs.forEach((a, k) => {
      if (fpr <= a && tpr > tprAt[k]!) tprAt[k] = tpr;
    });
  }
  return { auc: aucSum / (n1 * n0), tprAtFpr: tprAt, advantage };
}

/** ROC AUC of member vs non-member scores (ties count one half). */
export function rocAuc(members: ArrayLike<number>, nonMembers: ArrayLike<number>): number {
  checkScores(members, 'members');
  checkScores(nonMembers, 'non-members');
  return rocFromSorted(sortedCopy(members), sortedCopy(nonMembers), []).auc;
}

/**
 * The empirical ROC curve of "member iff score ≥ t" over every threshold t (ties move together), as
 * (FPR, TPR) points from (0, 0) to (1, 1), thinned to at most `maxPoints` (evenly over the point list,
 * first and last kept) for plotting. Members' scores are the positives.
 */
export function rocCurve(members: ArrayLike<number>, nonMembers: ArrayLike<number>, maxPoints = 200): { fpr: number[]; tpr: number[] } {
  checkScores(members, 'members');
  checkScores(nonMembers, 'non-members');
  const m = sortedCopy(members);
  const u = sortedCopy(nonMembers);
  const fpr = [0];
  const tpr = [0];
  let i = m.length - 1;
  let j = u.length - 1;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? m[i]! : -Infinity, j >= 0 ? u[j]! : -Infinity);
    while (i >= 0 && m[i] === t) i--;
    while (j >= 0 && u[j] === t) j--;
    fpr.push((u.length - 1 - j) / Math.max(u.length, 1));
    tpr.push((m.length - 1 - i) / Math.max(m.length, 1));
  }
  if (fpr.length <= maxPoints) return { fpr, tpr };
  const keep = Array.from({ length: maxPoints }, (_, k) => Math.round((k * (fpr.length - 1)) / (maxPoints - 1)));
  return { fpr: keep.map((k) => fpr[k]!), tpr: keep.map((k) => tpr[k]!) };
}

/** AUC, TPR at each FPR and maximum advantage. */
export function rocSummary(members: ArrayLike<number>, nonMembers: ArrayLike<number>, fprs: readonly number[] = DEFAULT_FPRS): RocSummary {
  checkScores(members, 'members');
  checkScores(nonMembers, 'non-members');
  return rocFromSorted(sortedCopy(members), sortedCopy(nonMembers), fprs);
}

/** The q-quantile (0..1) of ascending-sorted values, linear interpolation (numpy.percentile's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  assert(sorted.length > 0 && q >= 0 && q <= 1, () => `quantileSorted: n = ${sorted.length}, q = ${q}`);
  // simple-statistics' quantileSorted is numpy's type 7 and reads only length and indices, so a typed array serves.
  return ssQuantileSorted(sorted as unknown as readonly number[], q);
}

export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export interface BootstrapResult {
  auc: Interval;
  tprAtFpr: { fpr: number; estimate: number; lower: number; upper: number }[];
  advantage: Interval;
  replicates: number;
  confidence: number;
  seed: number;
}

/** Point estimates with stratified percentile-bootstrap intervals (see the header). */
export function bootstrapRoc(
  members: ArrayLike<number>,
  nonMembers: ArrayLike<number>,
  opts: { replicates: number; seed: number; confidence?: number; fprs?: readonly number[] },
): BootstrapResult {
  const fprs = opts.fprs ?? DEFAULT_FPRS;
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  assert(Number.isInteger(opts.replicates) && opts.replicates >= 1, () => `bootstrap replicates: ${opts.replicates}`);
  const point = rocSummary(members, nonMembers, fprs);
  const m = Float64Array.from(members);
  const u = Float64Array.from(nonMembers);
  const rng = new Rng(opts.seed);
  const aucs = new Float64Array(opts.replicates);
  const advs = new Float64Array(opts.replicates);
  const tprs = fprs.map(() => new Float64Array(opts.replicates));
  const bm = new Float64Array(m.length);
  const bu = new Float64Array(u.length);
  for (let r = 0; r < opts.replicates; r++) {
    for (let i = 0; i < m.length; i++) bm[i] = m[rng.int(m.length)]!;
    for (let i = 0; i < u.length; i++) bu[i] = u[rng.int(u.length)]!;
    bm.sort();
    bu.sort();
    const s = rocFromSorted(bm, bu, fprs);
    aucs[r] = s.auc;
    advs[r] = s.advantage;
    s.tprAtFpr.forEach((v, k) => (tprs[k]![r] = v));
  }
  const lo = (1 - confidence) / 2;
  const hi = (1 + confidence) / 2;
  const interval = (values: Float64Array, estimate: number): Interval => {
    values.sort();
    return { estimate, lower: quantileSorted(values, lo), upper: quantileSorted(values, hi) };
  };
  return {
    auc: interval(aucs, point.auc),
    tprAtFpr: fprs.map((fpr, k) => ({ fpr, ...interval(tprs[k]!, point.tprAtFpr[k]!) })),
    advantage: interval(advs, point.advantage),
    replicates: opts.replicates,
    confidence,
    seed: opts.seed,
  };
}

// ---------------------------------------------------------------------------------------------------
// Regularized incomplete beta and Clopper-Pearson bounds

/** log B(a, b) = lnG(a) + lnG(b) - lnG(a + b). */
function logBeta(a: number, b: number): number {
  return gammaln(a) + gammaln(b) - gammaln(a + b);
}

/** The continued fraction of DLMF 8.17.22 (without its prefactor), by modified Lentz iteration. */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  // f = 1 / (1 + d1 / (1 + d2 / (1 + ...))): evaluate g = 1 + d1/(1 + d2/(...)) and return 1/g.
  let f = 1;
  let c = 1;
  let d = 0;
  for (let k = 1; k <= 10000; k++) {
    const m = Math.floor(k / 2);
    const dk = k % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)) : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + dk * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + dk / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / f;
}

/** I_x(a, b), the regularized incomplete beta function, for a, b > 0 and x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  assert(a > 0 && b > 0 && x >= 0 && x <= 1, () => `regularizedIncompleteBeta(${x}, ${a}, ${b})`);
  if (x === 0 || x === 1) return x;
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedIncompleteBeta(1 - x, b, a);
  const logPrefactor = a * Math.log(x) + b * Math.log1p(-x) - Math.log(a) - logBeta(a, b);
  return Math.exp(logPrefactor) * betaContinuedFraction(x, a, b);
}

/** The p-quantile of Beta(a, b): the x with I_x(a, b) = p, by bisection to double precision. */
export function betaQuantile(p: number, a: number, b: number): number {
  assert(p >= 0 && p <= 1, () => `betaQuantile: p = ${p}`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  let lo = 0;
  let hi = 1;
  for (let it = 0; it < 400; it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (regularizedIncompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

function checkCount(k: number, n: number): void {
  assert(Number.isInteger(k) && Number.isInteger(n) && n >= 1 && k >= 0 && k <= n, () => `binomial count k = ${k} of n = ${n}`);
}

/** One-sided Clopper-Pearson upper bound on p from k successes in n trials, at `confidence`. */
export function clopperPearsonUpper(k: number, n: number, confidence: number): number {
  checkCount(k, n);
  return k === n ? 1 : betaQuantile(confidence, k + 1, n - k);
}

/** One-sided Clopper-Pearson lower bound on p from k successes in n trials, at `confidence`. */
export function clopperPearsonLower(k: number, n: number, confidence: number): number {
  checkCount(k, n);
  return k === 0 ? 0 : betaQuantile(1 - confidence, k, n - k + 1);
}

/** Two-sided Clopper-Pearson interval at `confidence` (each side at (1 + confidence) / 2). */
export function clopperPearson(k: number, n: number, confidence = DEFAULT_CONFIDENCE): { lower: number; upper: number } {
  const side = (1 + confidence) / 2;
  return { lower: clopperPearsonLower(k, n, side), upper: clopperPearsonUpper(k, n, side) };
}

/** Exact two-sided binomial test of p = 1/2: min(1, 2 min(P(X <= k), P(X >= k))), X ~ Bin(n, 1/2). */
export function binomialTestHalf(k: number, n: number): number {
  checkCount(k, n);
  // P(X >= k) = I_{1/2}(k, n - k + 1); P(X <= k) = 1 - I_{1/2}(k + 1, n - k).
  const upper = k === 0 ? 1 : regularizedIncompleteBeta(0.5, k, n - k + 1);
  const lower = k === n ? 1 : 1 - regularizedIncompleteBeta(0.5, k + 1, n - k);
  return Math.min(1, 2 * Math.min(upper, lower));
}

// ---------------------------------------------------------------------------------------------------
// Empirical epsilon

/** max(0, log(num / den)); 0 when num <= 0 (the inequality says nothing), Infinity when den = 0 < num. */
function logRatio(num: number, den: number): number {
  if (num <= 0) return 0;
  if (den <= 0) return Infinity;
  return Math.max(0, Math.log(num / den));
}

/**
 * max(log((1 - delta - fpr) / fnr), log((1 - delta - fnr) / fpr), 0): the epsilon implied by one test's
 * error rates (Kairouz et al. 2015, Thm. 2.1). Infinite when an error rate is 0 and the other < 1 - delta.
 */
export function epsilonFromRates(fpr: number, fnr: number, delta: number): number {
  return Math.max(logRatio(1 - delta - fpr, fnr), logRatio(1 - delta - fnr, fpr));
}

/** Which inequality gave the bound: 'fpr' is log((1-δ-FPR)/FNR), 'fnr' is log((1-δ-FNR)/FPR). */
export type EpsilonForm = 'fpr' | 'fnr';

function formValue(form: EpsilonForm, fpr: number, fnr: number, delta: number): number {
  return form === 'fpr' ? logRatio(1 - delta - fpr, fnr) : logRatio(1 - delta - fnr, fpr);
}

/** Lower bound from counts: both error rates replaced by one-sided CP upper bounds at 1 - (1-c)/2. */
export function epsilonLowerBoundFromCounts(
  c: { fp: number; n0: number; fn: number; n1: number },
  delta: number,
  confidence: number,
  cache?: Map<string, number>,
): { epsilon: number; form: EpsilonForm; fprUpper: number; fnrUpper: number } {
  const side = 1 - (1 - confidence) / 2;
  const upper = (k: number, n: number) => {
    const key = `${k}/${n}`;
    let v = cache?.get(key);
    if (v === undefined) {
      v = clopperPearsonUpper(k, n, side);
      cache?.set(key, v);
    }
    return v;
  };
  const fprUpper = upper(c.fp, c.n0);
  const fnrUpper = upper(c.fn, c.n1);
  const a = formValue('fpr', fprUpper, fnrUpper, delta);
  const b = formValue('fnr', fprUpper, fnrUpper, delta);
  return b > a ? { epsilon: b, form: 'fnr', fprUpper, fnrUpper } : { epsilon: a, form: 'fpr', fprUpper, fnrUpper };
}

export interface EmpiricalEpsilon {
  /** The lower bound on epsilon, at `confidence`, from the evaluation half. */
  epsilon: number;
  /** epsilonFromRates at the observed evaluation rates (no confidence bound; may be Infinity → null). */
  pointEstimate: number | null;
  form: EpsilonForm;
  /** The threshold chosen on the selection half: "member iff score >= threshold". */
  threshold: number;
  selection: { members: number; nonMembers: number; epsilon: number };
  evaluation: { members: number; nonMembers: number; falsePositives: number; falseNegatives: number; fprUpper: number; fnrUpper: number };
  delta: number;
  confidence: number;
  seed: number;
}

function countsAt(mSorted: Float64Array, uSorted: Float64Array, t: number): { fp: number; fn: number } {
  // #{x < t} in an ascending array by binary search.
  const below = (a: Float64Array) => {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return { fp: uSorted.length - below(uSorted), fn: below(mSorted) };
}

/**
 * The empirical epsilon lower bound of the header: threshold and form picked on a seeded half of the
 * members and of the non-members, bound computed on the other halves. Needs >= 2 of each.
 */
export function empiricalEpsilon(
  members: ArrayLike<number>,
  nonMembers: ArrayLike<number>,
  opts: { delta: number; seed: number; confidence?: number },
): EmpiricalEpsilon {
  checkScores(members, 'members');
  checkScores(nonMembers, 'non-members');
  assert(members.length >= 2 && nonMembers.length >= 2, () => `empiricalEpsilon needs >= 2 members and non-members, got ${members.length} and ${nonMembers.length}`);
  assert(opts.delta >= 0 && opts.delta < 1, () => `empiricalEpsilon: delta = ${opts.delta}`);
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const rng = new Rng(opts.seed);
  const halves = (x: ArrayLike<number>, name: string) => {
    const idx = rng.derive(name).shuffle([...Array(x.length).keys()]);
    const k = Math.floor(x.length / 2);
    return {
      sel: Float64Array.from(idx.slice(0, k), (i) => x[i]!).sort(),
      ev: Float64Array.from(idx.slice(k), (i) => x[i]!).sort(),
    };
  };
  const m = halves(members, 'members');
  const u = halves(nonMembers, 'non-members');
  const cache = new Map<string, number>();
  // Candidate thresholds: every distinct selection score (the ROC points of the selection half).
  const candidates = Float64Array.from([...m.sel, ...u.sel]).sort();
  let best = { epsilon: -1, threshold: Infinity, form: 'fpr' as EpsilonForm };
  for (let c = candidates.length - 1; c >= 0; c--) {
    const t = candidates[c]!;
    if (c < candidates.length - 1 && candidates[c + 1] === t) continue;
    const { fp, fn } = countsAt(m.sel, u.sel, t);
    const e = epsilonLowerBoundFromCounts({ fp, n0: u.sel.length, fn, n1: m.sel.length }, opts.delta, confidence, cache);
    if (e.epsilon > best.epsilon) best = { epsilon: e.epsilon, threshold: t, form: e.form };
  }
  const { fp, fn } = countsAt(m.ev, u.ev, best.threshold);
  const ev = epsilonLowerBoundFromCounts({ fp, n0: u.ev.length, fn, n1: m.ev.length }, opts.delta, confidence, cache);
  // The form chosen on the selection half is the one reported (taking the larger of both forms on the
  // evaluation half would be a second, unaccounted choice).
  const chosen = formValue(best.form, ev.fprUpper, ev.fnrUpper, opts.delta);
  const point = formValue(best.form, fp / u.ev.length, fn / m.ev.length, opts.delta);
  return {
    epsilon: chosen,
    pointEstimate: Number.isFinite(point) ? point : null,
    form: best.form,
    threshold: best.threshold,
    selection: { members: m.sel.length, nonMembers: u.sel.length, epsilon: Math.max(0, best.epsilon) },
    evaluation: { members: m.ev.length, nonMembers: u.ev.length, falsePositives: fp, falseNegatives: fn, fprUpper: ev.fprUpper, fnrUpper: ev.fnrUpper },
    delta: opts.delta,
    confidence,
    seed: opts.seed,
  };
}
