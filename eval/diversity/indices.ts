/**
 * Diversity indices of a vector of counts (e.g. images per class × group cell).
 *
 * Input: counts x_1..x_S >= 0, finite, not all zero. S is the number of cells, and empty cells count:
 * a class × group cell with no image is part of the imbalance we want to see.
 *
 *   Gini coefficient (Gini 1912; the mean-absolute-difference form, e.g. Damgaard & Weiner,
 *   Ecology 81(4), 2000, Eq. 1):
 *       G = sum_i sum_j |x_i - x_j| / (2 S^2 mean(x))
 *     computed from the sorted counts x_(1) <= ... <= x_(S) as
 *       G = 2 * sum_i i x_(i) / (S sum x) - (S + 1) / S.
 *     0 = all cells equal; maximum 1 - 1/S = everything in one cell.  Direction: lower is more balanced.
 *
 *   Shannon entropy (Shannon 1948, Sec. 6), in nats:
 *       H = - sum_i p_i ln p_i,   p_i = x_i / sum x,   0 ln 0 = 0.
 *     Range [0, ln S].  Direction: higher is more balanced.
 *
 *   Pielou evenness (Pielou, J. Theor. Biol. 13, 1966):
 *       J = H / ln S     (undefined, reported as null, when S = 1)
 *     Range [0, 1]; 1 = all cells equal.
 *
 * Reference values: test/fixtures/diversity-indices.json (hand calculation, checked with Python's math).
 */
export interface DiversityIndices {
  /** Number of cells S, empty cells included. */
  cells: number;
  /** Cells with a count of 0. */
  emptyCells: number;
  total: number;
  gini: number;
  /** Shannon entropy in nats. */
  shannon: number;
  /** Pielou evenness H / ln S; null when S = 1. */
  pielou: number | null;
}

export function giniCoefficient(counts: readonly number[]): number {
  checkCounts(counts);
  const x = [...counts].sort((a, b) => a - b);
  const s = x.length;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < s; i++) {
    total += x[i]!;
    weighted += (i + 1) * x[i]!;
  }
  const g = (2 * weighted) / (s * total) - (s + 1) / s;
  return Math.max(0, g); // clamp -1e-17 style round-off on equal counts
}

export function shannonEntropy(counts: readonly number[]): number {
  checkCounts(counts);
  let total = 0;
  for (const c of counts) total += c;
  let h = 0;
  for (const c of counts) {
    if (c > 0) {
      const p = c / total;
      h -= p * Math.log(p);
    }
  }
  return h;
}

export function pielouEvenness(counts: readonly number[]): number | null {
  if (counts.length < 2) return null;
  return shannonEntropy(counts) / Math.log(counts.length);
}

export function diversityIndices(counts: readonly number[]): DiversityIndices {
  checkCounts(counts);
  return {
    cells: counts.length,
    emptyCells: counts.filter((c) => c === 0).length,
    total: counts.reduce((a, b) => a + b, 0),
    gini: giniCoefficient(counts),
    shannon: shannonEntropy(counts),
    pielou: pielouEvenness(counts),
  };
}

function checkCounts(counts: readonly number[]): void {
  if (counts.length === 0) throw new Error('internal error: diversity indices need at least one cell');
  let total = 0;
  for (const c of counts) {
    if (!(Number.isFinite(c) && c >= 0)) throw new Error(`internal error: counts must be finite and >= 0, got ${c}`);
    total += c;
  }
  if (total <= 0) throw new Error('internal error: diversity indices need a non-zero total');
}
