/**
 * Group fairness with a minimum group size and bootstrap intervals, from per-group confusion counts
 * (FairnessReport.confusion: confusion[g][t][p] = test samples of group g, true class t, predicted p).
 *
 * Groups: a group with fewer than `minGroup` test samples is excluded (listed, never scored): the
 * accuracy of a 2-image group is 0, 0.5 or 1, whatever the classifier. Over the remaining groups E:
 *   worst-group accuracy  W = min_{g in E} sum_t c[g][t][t] / n_g                                 maximize
 *   equalized-odds diff.  D = max over positives p of max(spread_{g in E} TPR_g(p), spread_{g in E} FPR_g(p))
 *                         (spread = max - min over groups where the rate is defined; eval/fairness/metrics.ts)
 * Positives: the binary task's positive class, or every class in turn (one-vs-rest).
 * With several classifier seeds, each figure is the mean over seeds.
 *
 * Intervals: nonparametric bootstrap over test samples, stratified by group (each eligible group's n_g
 * samples are redrawn with replacement from that group's own samples, so E is the same in every
 * replicate; Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, Ch. 13, percentile interval).
 * Each classifier seed's predictions are resampled on their own. A difference between two ways (e.g.
 * augmented (c) minus real (a)) resamples both ways independently in each replicate: the ways share the
 * test set, so this ignores their positive correlation and gives a wider (conservative) interval than a
 * paired bootstrap, which would need per-sample predictions the result does not keep.
 * Percentile interval: the (1-conf)/2 and (1+conf)/2 quantiles (linear interpolation) of the replicates;
 * null when more than 5% of the replicates leave the figure undefined, and null when it does not contain
 * the estimate itself. The second happens for these max / min statistics over small groups: resampling a
 * group of few positives moves its rates, and a spread (max − min) only grows with that, so the whole
 * bootstrap distribution can lie above the estimate (seen on HAM10000's 7 one-vs-rest classes: equalized-
 * odds difference 0.275 with a "95% interval" of [0.309, 0.694]). The percentile interval is then no
 * interval for the estimate (Efron & Tibshirani 1993, Ch. 10 and 14: it assumes the bootstrap distribution
 * centred on the estimate, and a bias larger than a quarter of a standard error already calls for
 * correction); the figure is reported without one, so no verdict rests on it.
 *
 * Input contract: confusions of one test set (same G, K and group sizes), counts >= 0. Pure; seeded.
 */
import { mean, quantileSorted } from 'simple-statistics';
import { Rng } from '../../src/core/rng.js';

export type Confusion = readonly (readonly (readonly number[])[])[];

export interface BootInterval {
  estimate: number | null;
  lo: number | null;
  hi: number | null;
}

export interface FairnessBootstrapOptions {
  /** Groups with fewer test samples are excluded (default 20). */
  minGroup: number;
  replicates: number;
  seed: number;
  /** Default 0.95. */
  confidence?: number;
  /** Positive classes of the TPR / FPR rates: [p] for a binary task, every class for one-vs-rest. */
  positives: readonly number[];
}

export interface WayInput {
  key: string;
  /** One confusion per classifier seed. */
  seeds: readonly Confusion[];
}

export interface FairnessBootstrap {
  minGroup: number;
  replicates: number;
  seed: number;
  confidence: number;
  /** Test samples per group code. */
  groupSizes: number[];
  eligible: number[];
  excluded: { group: number; n: number }[];
  ways: { key: string; worstGroupAccuracy: BootInterval; equalizedOddsDifference: BootInterval }[];
  /** `of` = [x, y]: the figure of x minus that of y. */
  differences: { of: [string, string]; worstGroupAccuracy: BootInterval; equalizedOddsDifference: BootInterval }[];
}

export const DEFAULT_MIN_GROUP = 20;
export const DEFAULT_FAIRNESS_REPLICATES = 1000;
const MAX_UNDEFINED_SHARE = 0.05;

export function groupSizes(c: Confusion): number[] {
  return c.map((m) => m.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0));
}

/** W over the groups in `eligible` (null when none has samples). */
export function worstGroupAccuracyOf(c: Confusion, eligible: readonly number[]): number | null {
  let worst: number | null = null;
  for (const g of eligible) {
    const m = c[g]!;
    let n = 0;
    let hit = 0;
    m.forEach((row, t) => row.forEach((v, p) => ((n += v), (hit += t === p ? v : 0))));
    if (n > 0) worst = worst === null ? hit / n : Math.min(worst, hit / n);
  }
  return worst;
}

const spread = (v: number[]) => (v.length >= 2 ? Math.max(...v) - Math.min(...v) : null);

/** D over the groups in `eligible` and the given positive classes (null when no spread is defined). */
export function equalizedOddsOf(c: Confusion, eligible: readonly number[], positives: readonly number[]): number | null {
  let best: number | null = null;
  for (const p of positives) {
    const tprs: number[] = [];
    const fprs: number[] = [];
    for (const g of eligible) {
      let pos = 0;
      let tp = 0;
      let neg = 0;
      let fp = 0;
      c[g]!.forEach((row, t) =>
        row.forEach((v, q) => {
          if (t === p) {
            pos += v;
            if (q === p) tp += v;
          } else {
            neg += v;
            if (q === p) fp += v;
          }
        }),
      );
      if (pos > 0) tprs.push(tp / pos);
      if (neg > 0) fprs.push(fp / neg);
    }
    for (const s of [spread(tprs), spread(fprs)]) if (s !== null) best = best === null ? s : Math.max(best, s);
  }
  return best;
}

const meanOrNull = (v: (number | null)[]): number | null => (v.some((x) => x === null) || !v.length ? null : mean(v as number[]));

function interval(estimate: number | null, reps: (number | null)[], confidence: number): BootInterval {
  const ok = reps.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (estimate === null || ok.length === 0 || reps.length - ok.length > MAX_UNDEFINED_SHARE * reps.length) return { estimate, lo: null, hi: null };
  const lo = quantileSorted(ok, (1 - confidence) / 2);
  const hi = quantileSorted(ok, (1 + confidence) / 2);
  if (estimate < lo || estimate > hi) return { estimate, lo: null, hi: null }; // the replicates are biased past the estimate (header)
  return { estimate, lo, hi };
}

/** Draws one stratified resample of `c` over the eligible groups (others copied as zeros). */
function resample(c: Confusion, eligible: readonly number[], rng: Rng): number[][][] {
  const K = c[0]?.length ?? 0;
  const out = c.map(() => Array.from({ length: K }, () => new Array<number>(K).fill(0)));
  for (const g of eligible) {
    const cells: number[] = [];
    c[g]!.forEach((row, t) => row.forEach((v, p) => {
      for (let i = 0; i < v; i++) cells.push(t * K + p);
    }));
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[rng.int(cells.length)]!;
      out[g]![Math.floor(cell / K)]![cell % K]!++;
    }
  }
  return out;
}

/**
 * Minimum group size, worst-group accuracy and equalized-odds difference with bootstrap intervals for
 * each way, and for each pair in `compare` the interval of their difference.
 */
export function fairnessBootstrap(ways: readonly WayInput[], compare: readonly [string, string][], opts: FairnessBootstrapOptions): FairnessBootstrap {
  const confidence = opts.confidence ?? 0.95;
  const first = ways.find((w) => w.seeds.length)?.seeds[0];
  const sizes = first ? groupSizes(first) : [];
  for (const w of ways) {
    for (const c of w.seeds) {
      const s = groupSizes(c);
      if (s.length !== sizes.length || s.some((v, g) => v !== sizes[g])) throw new Error(`internal error: fairnessBootstrap: way ${w.key} was tested on other groups (${s} vs ${sizes})`);
    }
  }
  const eligible = sizes.map((n, g) => (n >= opts.minGroup ? g : -1)).filter((g) => g >= 0);
  const excluded = sizes.map((n, g) => ({ group: g, n })).filter((x) => x.n > 0 && x.n < opts.minGroup);
  const W = (c: Confusion) => worstGroupAccuracyOf(c, eligible);
  const D = (c: Confusion) => equalizedOddsOf(c, eligible, opts.positives);
  const stats = (seeds: readonly Confusion[]) => ({ w: meanOrNull(seeds.map(W)), d: meanOrNull(seeds.map(D)) });
  const point = new Map(ways.map((w) => [w.key, stats(w.seeds)]));
  const reps = new Map(ways.map((w) => [w.key, { w: [] as (number | null)[], d: [] as (number | null)[] }]));
  const rng = new Rng(opts.seed).derive('fairness-bootstrap');
  const usable = eligible.length >= 2;
  if (usable) {
    for (let b = 0; b < opts.replicates; b++) {
      for (const w of ways) {
        if (!w.seeds.length) continue;
        const s = stats(w.seeds.map((c) => resample(c, eligible, rng)));
        reps.get(w.key)!.w.push(s.w);
        reps.get(w.key)!.d.push(s.d);
      }
    }
  }
  const iv = (est: number | null, r: (number | null)[]) => (usable ? interval(est, r, confidence) : { estimate: est, lo: null, hi: null });
  const diff = (x: number | null, y: number | null) => (x === null || y === null ? null : x - y);
  return {
    minGroup: opts.minGroup,
    replicates: opts.replicates,
    seed: opts.seed,
    confidence,
    groupSizes: sizes,
    eligible,
    excluded,
    ways: ways.map((w) => ({
      key: w.key,
      worstGroupAccuracy: iv(point.get(w.key)!.w, reps.get(w.key)!.w),
      equalizedOddsDifference: iv(point.get(w.key)!.d, reps.get(w.key)!.d),
    })),
    differences: compare
      .filter(([x, y]) => ways.find((w) => w.key === x)?.seeds.length && ways.find((w) => w.key === y)?.seeds.length)
      .map(([x, y]) => {
        const rx = reps.get(x)!;
        const ry = reps.get(y)!;
        return {
          of: [x, y] as [string, string],
          worstGroupAccuracy: iv(diff(point.get(x)!.w, point.get(y)!.w), rx.w.map((v, i) => diff(v, ry.w[i]!))),
          equalizedOddsDifference: iv(diff(point.get(x)!.d, point.get(y)!.d), rx.d.map((v, i) => diff(v, ry.d[i]!))),
        };
      }),
  };
}
