/**
 * Mean and 95% confidence interval of a metric over classifier seeds: Student's t-interval.
 *
 *   values x_1..x_n (one per classifier seed; nulls are left out), n >= 2
 *   mean = 1/n sum_s x_s
 *   sd   = sqrt( 1/(n-1) sum_s (x_s - mean)^2 )                 sample standard deviation (unbiased variance)
 *   CI   = mean -/+ t_{0.975, n-1} * sd / sqrt(n)               two-sided, 95%
 * A paired comparison of two ways is the same interval on the per-seed differences d_s = x_s - y_s (the
 * ways share seed s: the same initial weights and the same minibatch draw stream).
 *
 * Why t and not a percentile interval: with the 3 seeds we run by default, percentiles of 3 values are the
 * min and max, which cover the mean of the seed distribution only 1 - 2 * (1/2)^3 = 75% of the time;
 * the t-interval is exact for normal per-seed scores and is the usual report for a few seeds. It
 * describes training-seed variation only: the test split is fixed, so test-sampling error is not in it.
 * With one value there is no interval (lo = hi = null). A metric with a known range (a rate in [0, 1], a
 * difference of rates in [-1, 1]) has its interval ends clipped to that range (`range`): the seed mean
 * lies in it, so the clipped part holds nothing; the unclipped half-width is still sd * t / sqrt(n).
 *
 * t quantiles: t_{0.975, df} for df = 1..30 from the standard table (scipy.stats.t.ppf(0.975, df),
 * scipy 1.17.1), above that the Cornish-Fisher expansion of Abramowitz & Stegun, Handbook of Mathematical
 * Functions, eq. 26.7.5 (error < 1e-5 for df > 30).
 */

/** Mean and t-interval of a metric over seeds. */
export interface SeedStat {
  /** null when no seed gave a value. */
  mean: number | null;
  /** 95% t-interval ends; null with fewer than two values. */
  lo: number | null;
  hi: number | null;
  /** Sample standard deviation; null with fewer than two values. */
  sd: number | null;
  /** Seeds that gave a value. */
  n: number;
  /** The per-seed values, in seed order (null where a seed gave none). */
  values: (number | null)[];
}

/** t_{0.975, df}, df = 1..30 (scipy.stats.t.ppf(0.975, df)). */
const T975 = [
  12.706204736174694, 4.302652729749462, 3.1824463052837078, 2.7764451051977934, 2.5705818356363146,
  2.4469118511449786, 2.364624251592784, 2.306004135204166, 2.262157162798205, 2.228138851986274,
  2.200985160091639, 2.1788128296672284, 2.1603686564627913, 2.144786687917804, 2.131449545559776,
  2.1199052992212546, 2.1098155778333156, 2.1009220402410382, 2.0930240544083087, 2.085963447265864,
  2.0796138447276795, 2.0738730679040254, 2.0686576104190486, 2.0638985616280245, 2.0595385527532972,
  2.0555294386428735, 2.0518305164802846, 2.0484071417952454, 2.045229642132703, 2.0422724563012378,
];

/** The two-sided 95% quantile of Student's t with `df` degrees of freedom (t_{0.975, df}). */
export function t975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`internal error: t975 needs a whole df >= 1, got ${df}`);
  if (df <= T975.length) return T975[df - 1]!;
  // A&S 26.7.5 with x = z_{0.975}.
  const x = 1.959963984540054;
  const x2 = x * x;
  const g1 = (x2 * x + x) / 4;
  const g2 = (5 * x2 * x2 * x + 16 * x2 * x + 3 * x) / 96;
  const g3 = (3 * x2 ** 3 * x + 19 * x2 * x2 * x + 17 * x2 * x - 15 * x) / 384;
  const g4 = (79 * x2 ** 4 * x + 776 * x2 ** 3 * x + 1482 * x2 * x2 * x - 1920 * x2 * x - 945 * x) / 92160;
  return x + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
}

/** Mean, sd and 95% t-interval of per-seed values (nulls are left out of all but `values`); ends clipped to `range`. */
export function seedStat(values: readonly (number | null | undefined)[], opts: { range?: readonly [number, number] } = {}): SeedStat {
  const all = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
  const xs = all.filter((v): v is number => v !== null);
  const n = xs.length;
  if (n === 0) return { mean: null, lo: null, hi: null, sd: null, n, values: all };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, lo: null, hi: null, sd: null, n, values: all };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (t975(n - 1) * sd) / Math.sqrt(n);
  const [min, max] = opts.range ?? [-Infinity, Infinity];
  return { mean, lo: Math.max(min, mean - half), hi: Math.min(max, mean + half), sd, n, values: all };
}

/** seedStat of the paired differences x_s - y_s over the seeds where both are numbers (`range`: of the differences). */
export function pairedDifference(x: readonly (number | null)[], y: readonly (number | null)[], opts: { range?: readonly [number, number] } = {}): SeedStat {
  if (x.length !== y.length) throw new Error(`internal error: pairedDifference of ${x.length} and ${y.length} values`);
  return seedStat(x.map((v, s) => (v !== null && y[s] !== null && y[s] !== undefined ? v - y[s]! : null)), opts);
}
