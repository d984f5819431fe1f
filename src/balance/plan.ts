/**
 * The balancing plan: how many synthetic images each class × group cell of a training split needs to
 * reach a target. Pure arithmetic on counts; no images, no model.
 *
 * Which cells are topped up. A generator can only imitate what it has seen, so a cell is SKIPPED (no
 * synthetic images; the plan gives the reason) when
 *   - its group has an unknown or missing value (e.g. sex=unknown, an empty age: `isUnknownValue`) that the
 *     user did not name as a group (`unknownValues` non-empty): "unknown" is not a population to equalise;
 *   - it has fewer than minRealPerCell real images (default 5): topping it up would invent the cell.
 * The other cells are the TARGET cells (groups with known values) and, among them, the ELIGIBLE ones.
 *
 * Targets (per cell c = (class k, group g), real count r_c; maxima over target cells):
 *   equalize-groups   t_c = max_{g'} r_(k, g')               every group matches the largest group of its class
 *   equalize-classes  T   = max_k Σ_g r_(k, g) (all real images); class k gets T − Σ_g r_(k, g) synthetic
 *                     images, shared over its eligible groups in proportion to their real counts (largest
 *                     remainder), so the class's group mix is kept
 *   uniform           t_c = max_c' r_c'                       every cell matches the largest cell
 *   file              t_c = the file's count, or round(p_c · total) for proportions (largest remainder)
 * then t_c ← max(t_c, minPerCell), synthetic s_c = max(0, t_c − r_c) (real images are never removed),
 * and with a cap R: s_c ← min(s_c, floor(R · r_c)) — the plan marks the cells where the cap bites.
 * A skipped cell keeps s_c = 0 and t_c = r_c whatever the target.
 */
import { ConfigError } from '../core/errors.js';

export type BalanceTarget =
  | { kind: 'equalize-groups' }
  | { kind: 'equalize-classes' }
  | { kind: 'uniform' }
  | { kind: 'counts'; counts: Map<string, number> }
  | { kind: 'proportions'; proportions: Map<string, number>; total: number };

export interface CellCount {
  /** Stable key: label name and group values, e.g. `disease|sex=female`. */
  key: string;
  label: number;
  /** Group attribute codes, in the order of the group-by attributes. */
  group: number[];
  real: number;
  /**
   * The cell's unknown or missing group values that the user did not name as groups, as `attr=value`
   * (e.g. `sex=unknown`); a cell with any is not a target group and is skipped.
   */
  unknownValues?: string[];
}

export interface PlannedCell extends CellCount {
  target: number;
  synthetic: number;
  total: number;
  /** The synthetic count the target asked for, when --max-synthetic-ratio lowered it. */
  cappedFrom: number | null;
  /** Why the cell gets no synthetic images whatever the target (unknown group value, too few real images). */
  skipped: string | null;
}

/** Real images a cell needs before it is topped up (--min-real-per-cell). */
export const DEFAULT_MIN_REAL_PER_CELL = 5;

export interface PlanOptions {
  target: BalanceTarget;
  minPerCell?: number;
  maxSyntheticRatio?: number;
  /** Cells with fewer real images are skipped (default DEFAULT_MIN_REAL_PER_CELL). */
  minRealPerCell?: number;
}

/**
 * Values that say "not known" rather than name a group: `missing` (medsynth's category for an empty value,
 * datasets/attributes.ts), and unknown, unk, na, n/a, nan, null, unspecified, not specified, ?, - (any case).
 */
const UNKNOWN_VALUES = new Set(['missing', 'unknown', 'unk', 'na', 'n/a', 'nan', 'null', 'unspecified', 'not specified', '?', '-', '']);

export function isUnknownValue(value: string): boolean {
  return UNKNOWN_VALUES.has(value.trim().toLowerCase());
}

/** Why a cell is skipped, or null when it is an eligible target cell. */
function skipReason(c: CellCount, minReal: number): string | null {
  if (c.unknownValues?.length) {
    const v = c.unknownValues.join(', ');
    return `${v}: unknown value, not a target group (name it with --include-groups ${c.unknownValues.join(',')} to balance it)`;
  }
  if (c.real < minReal) {
    return `${c.real} real image${c.real === 1 ? '' : 's'} (< --min-real-per-cell ${minReal}): too few to generate from; synthetic images would invent the cell`;
  }
  return null;
}

/** Splits `extra` over weights in proportion, by largest remainder (ties: earlier index first). */
export function shareByLargestRemainder(extra: number, weights: readonly number[]): number[] {
  const total = weights.reduce((a, w) => a + w, 0);
  if (extra <= 0) return weights.map(() => 0);
  // No weight anywhere: share evenly.
  const w = total > 0 ? weights : weights.map(() => 1);
  const sum = total > 0 ? total : weights.length;
  const exact = w.map((x) => (extra * x) / sum);
  const out = exact.map(Math.floor);
  let left = extra - out.reduce((a, v) => a + v, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) out[order[j]!.i]!++;
  return out;
}

export function planBalance(cells: readonly CellCount[], opts: PlanOptions): PlannedCell[] {
  const t = opts.target;
  const minReal = opts.minRealPerCell ?? DEFAULT_MIN_REAL_PER_CELL;
  const skipped = new Map(cells.map((c) => [c.key, skipReason(c, minReal)]));
  const targetCells = cells.filter((c) => !c.unknownValues?.length);
  const eligible = cells.filter((c) => skipped.get(c.key) === null);
  const targets = new Map<string, number>();
  if (t.kind === 'equalize-groups') {
    const maxByClass = new Map<number, number>();
    for (const c of targetCells) maxByClass.set(c.label, Math.max(maxByClass.get(c.label) ?? 0, c.real));
    for (const c of eligible) targets.set(c.key, maxByClass.get(c.label)!);
  } else if (t.kind === 'equalize-classes') {
    const classTotal = new Map<number, number>();
    for (const c of cells) classTotal.set(c.label, (classTotal.get(c.label) ?? 0) + c.real);
    const biggest = Math.max(0, ...classTotal.values());
    for (const [label, total] of classTotal) {
      const members = eligible.filter((c) => c.label === label);
      if (members.length === 0) continue; // every group of the class is skipped
      const share = shareByLargestRemainder(biggest - total, members.map((c) => c.real));
      members.forEach((c, i) => targets.set(c.key, c.real + share[i]!));
    }
  } else if (t.kind === 'uniform') {
    const biggest = Math.max(0, ...targetCells.map((c) => c.real));
    for (const c of cells) targets.set(c.key, biggest);
  } else if (t.kind === 'counts') {
    for (const c of cells) targets.set(c.key, t.counts.get(c.key) ?? c.real);
  } else {
    const share = shareByLargestRemainder(t.total, cells.map((c) => t.proportions.get(c.key) ?? 0));
    cells.forEach((c, i) => targets.set(c.key, share[i]!));
  }
  return cells.map((c) => {
    const skip = skipped.get(c.key)!;
    if (skip !== null) return { ...c, target: c.real, synthetic: 0, total: c.real, cappedFrom: null, skipped: skip };
    const target = Math.max(targets.get(c.key)!, opts.minPerCell ?? 0);
    const wanted = Math.max(0, target - c.real);
    const cap = opts.maxSyntheticRatio === undefined ? Infinity : Math.floor(opts.maxSyntheticRatio * c.real);
    const synthetic = Math.min(wanted, cap);
    return { ...c, target, synthetic, total: c.real + synthetic, cappedFrom: synthetic < wanted ? wanted : null, skipped: null };
  });
}

/**
 * Parses a target file: {"counts": {"<cell key>": n, ...}} or {"proportions": {"<cell key>": p, ...},
 * "total": N}. Cell keys are `label` or `label|attr=value|...` in --group-by order, as the plan prints
 * them. Every key must name a known cell; proportions must sum to 1.
 */
export function parseTargetFile(path: string, text: string, knownKeys: readonly string[]): BalanceTarget {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--target ${path}: not valid JSON (${(err as Error).message}); expected {"counts": {...}} or {"proportions": {...}, "total": N}`);
  }
  const obj = json as { counts?: Record<string, unknown>; proportions?: Record<string, unknown>; total?: unknown };
  const known = new Set(knownKeys);
  const entries = (rec: Record<string, unknown>, what: string) =>
    Object.entries(rec).map(([k, v]) => {
      if (!known.has(k)) throw new ConfigError(`--target ${path}: unknown cell '${k}' in ${what}; cells are: ${knownKeys.join(', ')}`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`--target ${path}: ${what}['${k}'] must be a number >= 0`);
      return [k, v] as const;
    });
  if (obj && typeof obj === 'object' && obj.counts && typeof obj.counts === 'object') {
    const e = entries(obj.counts, 'counts');
    for (const [k, v] of e) if (!Number.isInteger(v)) throw new ConfigError(`--target ${path}: counts['${k}'] = ${v} must be a whole number`);
    return { kind: 'counts', counts: new Map(e) };
  }
  if (obj && typeof obj === 'object' && obj.proportions && typeof obj.proportions === 'object') {
    const e = entries(obj.proportions, 'proportions');
    const sum = e.reduce((a, [, v]) => a + v, 0);
    if (Math.abs(sum - 1) > 1e-6) throw new ConfigError(`--target ${path}: proportions sum to ${sum}, not 1; fix them so they add up to 1`);
    if (typeof obj.total !== 'number' || !Number.isInteger(obj.total) || obj.total < 1) {
      throw new ConfigError(`--target ${path}: proportions need "total": the number of images (real + synthetic) to reach, a whole number >= 1`);
    }
    return { kind: 'proportions', proportions: new Map(e), total: obj.total };
  }
  throw new ConfigError(`--target ${path}: expected {"counts": {"<cell>": n}} or {"proportions": {"<cell>": p}, "total": N}`);
}
