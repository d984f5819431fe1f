/**
 * The oversampling baseline, way (d) of eval/utility: what a user would do instead of generating images.
 * Every synthetic row of the augmented set (c) is replaced by a duplicate of a REAL TRAIN image of the same
 * class x group cell, so (d) has exactly (c)'s count in every cell and differs from it only in where the
 * extra rows come from.
 *
 *   for each synthetic row r of (c), in order, with cell (y_r, g_r):
 *     pool(y, g) = real train images with class y and group g    (class only when groups are unknown)
 *     source_r   = pool(y_r, g_r)[ U{0 .. |pool| - 1} ]          drawn with replacement, seeded per cell
 *     source_r   = -1 when pool(y_r, g_r) is empty                (the row is left out of (d) and reported)
 *
 * This is random oversampling as in imbalanced-learn's RandomOverSampler (Lemaitre, Nogueira & Aridas,
 * JMLR 18(17), 2017): uniform draws with replacement within the minority stratum, here the class x group
 * cell. Only the indices passed as `train` are ever drawn: the holdout and test splits cannot enter (d).
 *
 * Input: labels and group codes of the real set (indexed by real-set index), the real train split's indices,
 * and the class and group of each row to replace. Output: a real-set index per row and per-cell counts.
 * Pure: no I/O; the same seed gives the same indices; each cell draws from its own stream, so one cell's
 * draws do not depend on the others.
 */
import { Rng } from '../../src/core/rng.js';
import type { GatheredImages } from './gather.js';

export interface OversampleRequest {
  /** Class of every row to replace (the synthetic rows of the augmented set), in row order. */
  rowLabels: ArrayLike<number>;
  /** Group code of every row to replace; null = unknown, match on class only. */
  rowGroups: ArrayLike<number> | null;
  /** Indices of the real train split into the real set: the only images that may be duplicated. */
  train: readonly number[];
  /** Class of every real-set image (indexed by real-set index). */
  labels: ArrayLike<number>;
  /** Group code of every real-set image; null when matching on class only. */
  groups: ArrayLike<number> | null;
  seed: number;
}

export interface OversampleCell {
  label: number;
  /** null when matched on class only. */
  group: number | null;
  /** Rows of (c) to replace in this cell. */
  rows: number;
  /** Real train images in the cell (the pool). */
  realTrain: number;
  /** Distinct real images drawn. */
  distinct: number;
}

export interface OversamplePlan {
  /** Real-set index of the duplicate for each row; -1 where the row's cell has no real train image. */
  source: Int32Array;
  /** Every cell with at least one row to replace, in order of first appearance. */
  cells: OversampleCell[];
  /** Rows that got a duplicate, and rows left out (their cell has no real train image). */
  filled: number;
  leftOut: number;
  /** Whether cells are class x group (true) or class only (false). */
  byGroup: boolean;
}

/** A real duplicate for every row to replace (see the header). */
export function oversamplePlan(req: OversampleRequest): OversamplePlan {
  const byGroup = req.rowGroups !== null && req.groups !== null;
  const key = (label: number, group: number) => (byGroup ? `${label}/${group}` : `${label}`);
  const pools = new Map<string, number[]>();
  for (const i of req.train) {
    const k = key(req.labels[i]!, byGroup ? req.groups![i]! : 0);
    let pool = pools.get(k);
    if (!pool) pools.set(k, (pool = []));
    pool.push(i);
  }
  const rng = new Rng(req.seed);
  const cells = new Map<string, OversampleCell & { rng: Rng; drawn: Set<number> }>();
  const source = new Int32Array(req.rowLabels.length);
  let filled = 0;
  for (let r = 0; r < req.rowLabels.length; r++) {
    const label = req.rowLabels[r]!;
    const group = byGroup ? req.rowGroups![r]! : null;
    const k = key(label, group ?? 0);
    let cell = cells.get(k);
    if (!cell) {
      const pool = pools.get(k) ?? [];
      cell = { label, group, rows: 0, realTrain: pool.length, distinct: 0, rng: rng.derive(`cell-${k}`), drawn: new Set() };
      cells.set(k, cell);
    }
    cell.rows++;
    const pool = pools.get(k);
    if (!pool) {
      source[r] = -1;
      continue;
    }
    const pick = pool[cell.rng.int(pool.length)]!;
    cell.drawn.add(pick);
    source[r] = pick;
    filled++;
  }
  return {
    source,
    cells: [...cells.values()].map(({ rng: _rng, drawn, ...c }) => ({ ...c, distinct: drawn.size })),
    filled,
    leftOut: req.rowLabels.length - filled,
    byGroup,
  };
}

/**
 * Way (d) from way (c): (c)'s rows in order, each synthetic row replaced by its duplicate from `plan`
 * (image `plan.source[j]` of `realImages` for the j-th synthetic row) and rows whose cell had no real
 * image dropped. Real rows of (c) are kept as they are. Copies no image.
 */
export function oversampledSet(c: GatheredImages, synthetic: ArrayLike<number | boolean>, plan: OversamplePlan, realImages: Float32Array): GatheredImages {
  if (synthetic.length !== c.n) throw new Error(`internal error: ${synthetic.length} synthetic flags for ${c.n} rows`);
  const sources = [...c.sources];
  let real = sources.indexOf(realImages);
  if (real < 0) {
    sources.push(realImages);
    real = sources.length - 1;
  }
  const source: number[] = [];
  const index: number[] = [];
  const labels: number[] = [];
  let j = 0;
  for (let r = 0; r < c.n; r++) {
    if (!synthetic[r]) {
      source.push(c.source[r]!);
      index.push(c.index[r]!);
      labels.push(c.labels[r]!);
      continue;
    }
    const pick = plan.source[j++];
    if (pick === undefined) throw new Error(`internal error: the oversampling plan has ${plan.source.length} rows, (c) has more synthetic rows`);
    if (pick < 0) continue;
    source.push(real);
    index.push(pick);
    labels.push(c.labels[r]!);
  }
  if (j !== plan.source.length) throw new Error(`internal error: the oversampling plan has ${plan.source.length} rows, (c) has ${j} synthetic rows`);
  if (sources.length > 255) throw new Error('internal error: more than 255 image sources');
  return { sources, source: Uint8Array.from(source), index: Int32Array.from(index), labels: Int32Array.from(labels), n: index.length };
}
