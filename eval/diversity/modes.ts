/**
 * Mode coverage, NDB and intra-class spread: does a synthetic set fill the regions the real data
 * occupies, in the right proportions, and with the real data's variety?
 *
 * Input: feature matrices, row-major Float32Array [n, d] (any extractor, the same for both sets).
 * Convention: the k-means bins are fitted on the REAL set (first argument); the synthetic (or a second
 * real) set is only assigned to them.
 *
 * k-means: k-means++ seeding (Arthur & Vassilvitskii, "k-means++: The advantages of careful seeding",
 * SODA 2007, Sec. 2.2: the first centre uniformly, each next one drawn with probability
 * D(x)^2 / sum_x D(x)^2, D = distance to the nearest centre chosen so far), then Lloyd's iterations
 * (Lloyd, IEEE Trans. Inf. Theory 28(2), 1982): assign each row to its nearest centre (squared L2,
 * ties to the lower index), move each centre to the mean of its rows, until no assignment changes or
 * `maxIter`. A centre that loses all its rows stays where it was. One seeding per call (what
 * scikit-learn's n_init='auto' does for k-means++ since version 1.4).
 *
 * Occupancy: counts c_1..c_K of synthetic rows per real cluster (nearest centre), summarised by Gini,
 * Shannon and Pielou (eval/diversity/indices.ts), and
 *   mode coverage = #{j : c_j >= 1} / K                                         maximize; in [0, 1]
 *
 * NDB, the number of statistically different bins (Richardson & Weiss, "On GANs and GMMs", NeurIPS
 * 2018, Sec. 3): with P_j = r_j / N (real share of bin j) and Q_j = c_j / M (synthetic share),
 *   pooled p = (r_j + c_j) / (N + M),  se = sqrt(p (1 - p) (1/N + 1/M)),  z_j = (Q_j - P_j) / se
 *   bin j is different when the two-sided p-value 2 (1 - Phi(|z_j|)) < alpha (0.05)
 *   NDB/K = #different bins / K                                                  minimize; ~alpha for a sample of the real distribution
 * A bin with p = 0 (empty in both) is not different (z = 0). "Under-filled" bins are the different bins
 * with Q_j < P_j, the mode-dropping side.
 *
 * Intra-class spread: the mean pairwise Euclidean distance
 *   MPD(X) = 2 / (n (n - 1)) * sum_{i<j} ||x_i - x_j||_2                       (null for n < 2)
 * of one class's rows; reported for synthetic rows next to real rows of the same class (a ratio well
 * below 1 is the mode-collapse signature).
 *
 * Reference values: test/fixtures/modes.json (test/fixtures/generators/modes_oracle.py, numpy 1.24.2 and
 * Python's math.erfc: Lloyd from a fixed start, NDB counts, z and p-values, MPD).
 */
import { Rng } from '../../src/core/rng.js';
import { erfc } from '../../src/core/special.js';
import { diversityIndices, type DiversityIndices } from './indices.js';

/** Row-major features: row i is data[i*d .. (i+1)*d). */
export interface Features {
  data: Float32Array;
  n: number;
  d: number;
}

function checkFeatures(x: Features, what: string): void {
  if (x.data.length !== x.n * x.d) throw new Error(`internal error: ${what}: ${x.data.length} values for [${x.n}, ${x.d}]`);
}

/** Squared Euclidean distance between row i of `a` and row j of `b` (both width d). */
function sqDist(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, d: number): number {
  let s = 0;
  const oa = i * d;
  const ob = j * d;
  for (let k = 0; k < d; k++) {
    const t = a[oa + k]! - b[ob + k]!;
    s += t * t;
  }
  return s;
}

/** k-means++ seeding: the indices of the k rows chosen as initial centres (distinct when possible). */
export function kmeansPlusPlusInit(x: Features, k: number, rng: Rng): number[] {
  checkFeatures(x, 'kmeans++');
  if (!(k >= 1 && k <= x.n)) throw new Error(`internal error: k-means++ needs 1 <= k <= n, got k=${k}, n=${x.n}`);
  const chosen = [rng.int(x.n)];
  const best = new Float64Array(x.n);
  for (let i = 0; i < x.n; i++) best[i] = sqDist(x.data, i, x.data, chosen[0]!, x.d);
  while (chosen.length < k) {
    let total = 0;
    for (let i = 0; i < x.n; i++) total += best[i]!;
    let next: number;
    if (total <= 0) {
      // Every row coincides with a chosen centre: take an unchosen row uniformly.
      const rest = [...Array(x.n).keys()].filter((i) => !chosen.includes(i));
      next = rest[rng.int(rest.length)]!;
    } else {
      let u = rng.uniform() * total;
      next = -1;
      let last = -1; // round-off can leave u >= 0 after the loop: then the last row with weight
      for (let i = 0; i < x.n; i++) {
        if (best[i]! <= 0) continue;
        last = i;
        u -= best[i]!;
        if (u < 0) {
          next = i;
          break;
        }
      }
      if (next < 0) next = last;
    }
    chosen.push(next);
    for (let i = 0; i < x.n; i++) best[i] = Math.min(best[i]!, sqDist(x.data, i, x.data, next, x.d));
  }
  return chosen;
}

/** Index of the nearest centre (squared L2, ties to the lower index) for every row of `x`. */
export function assignNearest(x: Features, centroids: Float64Array, k: number): Int32Array {
  checkFeatures(x, 'assign');
  const out = new Int32Array(x.n);
  for (let i = 0; i < x.n; i++) {
    let bi = 0;
    let bd = Infinity;
    for (let j = 0; j < k; j++) {
      const dist = sqDist(x.data, i, centroids, j, x.d);
      if (dist < bd) {
        bd = dist;
        bi = j;
      }
    }
    out[i] = bi;
  }
  return out;
}

export interface KMeansResult {
  k: number;
  /** [k, d] row-major. */
  centroids: Float64Array;
  /** Cluster of each row. */
  assign: Int32Array;
  /** Sum of squared distances of rows to their centre. */
  inertia: number;
  iterations: number;
  converged: boolean;
}

/** Lloyd's iterations from the given initial centres ([k, d] row-major; copied). */
export function lloyd(x: Features, init: Float64Array, k: number, opts: { maxIter?: number } = {}): KMeansResult {
  checkFeatures(x, 'lloyd');
  const d = x.d;
  const maxIter = opts.maxIter ?? 300;
  const centroids = Float64Array.from(init);
  let assign = assignNearest(x, centroids, k);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIter) {
    iterations++;
    const sum = new Float64Array(k * d);
    const count = new Int32Array(k);
    for (let i = 0; i < x.n; i++) {
      const j = assign[i]!;
      count[j]!++;
      for (let t = 0; t < d; t++) sum[j * d + t]! += x.data[i * d + t]!;
    }
    for (let j = 0; j < k; j++) {
      if (count[j] === 0) continue; // an emptied centre stays put
      for (let t = 0; t < d; t++) centroids[j * d + t] = sum[j * d + t]! / count[j]!;
    }
    const next = assignNearest(x, centroids, k);
    let changed = false;
    for (let i = 0; i < x.n; i++) if (next[i] !== assign[i]) changed = true;
    assign = next;
    if (!changed) {
      converged = true;
      break;
    }
  }
  let inertia = 0;
  for (let i = 0; i < x.n; i++) inertia += sqDist(x.data, i, centroids, assign[i]!, d);
  return { k, centroids, assign, inertia, iterations, converged };
}

/** Seeded k-means: k-means++ seeding, then Lloyd. */
export function kmeans(x: Features, opts: { k: number; seed: number; maxIter?: number }): KMeansResult {
  const rng = new Rng(opts.seed).derive('kmeans++');
  const rows = kmeansPlusPlusInit(x, opts.k, rng);
  const init = new Float64Array(opts.k * x.d);
  rows.forEach((r, j) => {
    for (let t = 0; t < x.d; t++) init[j * x.d + t] = x.data[r * x.d + t]!;
  });
  return lloyd(x, init, opts.k, { maxIter: opts.maxIter });
}

/** Rows per cluster. */
export function binCounts(assign: ArrayLike<number>, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (let i = 0; i < assign.length; i++) c[assign[i]!]!++;
  return c;
}

export { erfc };

/** Two-sided p-value of a standard normal statistic: 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2). */
export function twoSidedNormalP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

export interface NdbBin {
  /** Real rows in the bin, and the other set's. */
  real: number;
  other: number;
  z: number;
  p: number;
  different: boolean;
}

export interface NdbResult {
  k: number;
  alpha: number;
  bins: NdbBin[];
  /** Number of statistically different bins, and NDB / K. */
  ndb: number;
  ndbOverK: number;
  /** Different bins where the other set's share is below the real share (dropped or thinned modes). */
  underfilled: number;
}

/** NDB of two count vectors over the same K bins (real first). */
export function ndb(realCounts: readonly number[], otherCounts: readonly number[], alpha = 0.05): NdbResult {
  if (realCounts.length !== otherCounts.length || realCounts.length === 0) {
    throw new Error(`internal error: NDB needs two count vectors of one non-zero length (${realCounts.length}, ${otherCounts.length})`);
  }
  const N = realCounts.reduce((a, b) => a + b, 0);
  const M = otherCounts.reduce((a, b) => a + b, 0);
  if (N === 0 || M === 0) throw new Error(`internal error: NDB needs non-empty sets (N=${N}, M=${M})`);
  const bins = realCounts.map((r, j) => {
    const c = otherCounts[j]!;
    const p = (r + c) / (N + M);
    const se = Math.sqrt(p * (1 - p) * (1 / N + 1 / M));
    const z = se > 0 ? (c / M - r / N) / se : 0;
    const pv = twoSidedNormalP(z);
    return { real: r, other: c, z, p: pv, different: pv < alpha };
  });
  const nd = bins.filter((b) => b.different).length;
  return {
    k: bins.length,
    alpha,
    bins,
    ndb: nd,
    ndbOverK: nd / bins.length,
    underfilled: bins.filter((b) => b.different && b.z < 0).length,
  };
}

export interface ModeOccupancy {
  k: number;
  /** Rows of the set per real cluster. */
  counts: number[];
  /** Share of clusters with at least one row. */
  coverage: number;
  /** Gini / Shannon / Pielou of `counts`. */
  indices: DiversityIndices;
  ndb: NdbResult;
}

export interface ModeAnalysis {
  k: number;
  seed: number;
  /** Real rows per cluster (the bins' own data). */
  realCounts: number[];
  inertia: number;
  iterations: number;
  converged: boolean;
  /** [k, d] cluster centres, for assigning further sets with `occupancy`. */
  centroids: Float64Array;
}

/** Fits the K bins on the real features. */
export function fitModes(real: Features, opts: { k: number; seed: number; maxIter?: number }): ModeAnalysis {
  const km = kmeans(real, opts);
  return {
    k: km.k,
    seed: opts.seed,
    realCounts: binCounts(km.assign, km.k),
    inertia: km.inertia,
    iterations: km.iterations,
    converged: km.converged,
    centroids: km.centroids,
  };
}

/** How another set (synthetic, or a second real sample as the baseline) fills the real bins. */
export function occupancy(modes: ModeAnalysis, other: Features, alpha = 0.05): ModeOccupancy {
  const counts = binCounts(assignNearest(other, modes.centroids, modes.k), modes.k);
  return {
    k: modes.k,
    counts,
    coverage: counts.filter((c) => c >= 1).length / modes.k,
    indices: diversityIndices(counts),
    ndb: ndb(modes.realCounts, counts, alpha),
  };
}

/** Mean pairwise Euclidean distance over all pairs of rows (float64 sums); null for n < 2. */
export function meanPairwiseDistance(x: Features): number | null {
  checkFeatures(x, 'pairwise');
  if (x.n < 2) return null;
  let sum = 0;
  for (let i = 0; i < x.n; i++) for (let j = i + 1; j < x.n; j++) sum += Math.sqrt(sqDist(x.data, i, x.data, j, x.d));
  return (2 * sum) / (x.n * (x.n - 1));
}

/** The rows of `x` at `indices`, in that order. */
export function selectRows(x: Features, indices: readonly number[]): Features {
  const data = new Float32Array(indices.length * x.d);
  indices.forEach((src, dst) => data.set(x.data.subarray(src * x.d, (src + 1) * x.d), dst * x.d));
  return { data, n: indices.length, d: x.d };
}

/**
 * MPD per class for the rows labelled c, at most `maxPerClass` rows per class (a seeded uniform subset
 * beyond that, so the O(n^2) sum stays small). `null` for a class with fewer than 2 rows.
 */
export function intraClassDistances(
  x: Features,
  labels: ArrayLike<number>,
  classes: number,
  opts: { maxPerClass?: number; seed: number },
): (number | null)[] {
  const max = opts.maxPerClass ?? 1000;
  const rng = new Rng(opts.seed).derive('pairwise-subset');
  return Array.from({ length: classes }, (_, c) => {
    let rows: number[] = [];
    for (let i = 0; i < x.n; i++) if (labels[i] === c) rows.push(i);
    if (rows.length > max) rows = rng.derive(c).shuffle(rows).slice(0, max).sort((a, b) => a - b);
    return meanPairwiseDistance(selectRows(x, rows));
  });
}
