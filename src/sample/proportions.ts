/**
 * Where the open conditions of a sample come from, and public proportions supplied by the user.
 *
 * A condition is OPEN when the user did not fix it (`sample` without --label or --where for it; in
 * `balance`, a conditioning attribute outside --group-by). Open conditions are drawn, in order of
 * precedence, from
 *   user-supplied   --condition-proportions FILE.csv: proportions the user states are public (a census, a
 *                   registry, the literature); they cost no privacy and are recorded with the file's sha256;
 *   train-split     a non-private run's conditions.json: the exact train-split counts;
 *   released-by-dp  a DP-MERF run's conditions.json: the noisy counts released with its statistics;
 *   uniform         a DP-SGD run (cvae, dpgan) withholds the counts: every value is equally likely.
 * (`balance` draws the rest from the real rows of the cell it fills; see src/balance/balance.ts.)
 *
 * The file. CSV (datasets/csv.ts), a header naming one or more conditions of the run (`label` for the
 * class, by name or index, and conditioning attribute names) and exactly one weight column:
 *   proportion   numbers >= 0 that sum to 1 (± 0.01)
 *   count        whole numbers >= 0, used relative to their sum
 * One row per combination of the named conditions (no duplicates). Conditions the file does not name are
 * drawn from the run's own source. Example (public sex ratio; age and class left to the run):
 *   sex,proportion
 *   female,0.51
 *   male,0.49
 * Draw: P(named open values | fixed values) = w_r / Σ_{rows r' agreeing with the fixed values} w_r'.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseCsv } from '../../datasets/csv.js';
import type { ConditionSpec } from '../../models/generator.js';
import { ConfigError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

export const PROPORTIONS_OPTION = '--condition-proportions';

/** Where an open condition's values came from; `fixed` when the user fixed it. */
export type ConditionSource = 'fixed' | 'user-supplied' | 'train-split' | 'released-by-dp' | 'uniform';

/** A combination the run knows: class index, attribute codes, weight. */
export type Combo = { label: number; codes: number[]; count: number };

/** Fixed parts of a draw: class index and attribute codes, null where open. */
export interface FixedConditions {
  fixedLabel: number | null;
  fixedCodes: (number | null)[];
}

export interface ConditionProportions {
  file: string;
  sha256: string;
  weightColumn: 'proportion' | 'count';
  /** Whether the file names the class, and which attributes (indices into spec.attributes). */
  namesLabel: boolean;
  attributes: number[];
  /** One per row: class index (null when not named), codes per spec attribute (null when not named), weight. */
  rows: { line: number; label: number | null; codes: (number | null)[]; weight: number }[];
}

/** Tolerance on the sum of a `proportion` column. */
const SUM_TOLERANCE = 0.01;

const number = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, { error: `${what} must be a number >= 0` })
    .transform(Number)
    .pipe(z.number().finite({ error: `${what} must be a finite number` }));

/**
 * Parses and checks a proportions CSV against the run's condition vocabulary. Every problem is a
 * ConfigError naming the file and line and saying what to do.
 */
export function parseConditionProportions(file: string, text: string, spec: ConditionSpec): ConditionProportions {
  const where = `${PROPORTIONS_OPTION} ${file}`;
  const table = parseCsv(text, where);
  const known = ['label', ...spec.attributes.map((a) => a.name)];
  const weightCols = table.header.filter((h) => h === 'proportion' || h === 'count');
  if (weightCols.length !== 1) {
    throw new ConfigError(
      `${where}: ${weightCols.length === 0 ? 'no' : 'both a'} 'proportion' ${weightCols.length === 0 ? 'or' : 'and a'} 'count' column; give exactly one (proportion: numbers summing to 1; count: whole numbers)`,
    );
  }
  const weightColumn = weightCols[0] as 'proportion' | 'count';
  const conditionCols = table.header.filter((h) => h !== weightColumn);
  for (const h of conditionCols) {
    if (!known.includes(h)) {
      throw new ConfigError(`${where} line 1: column '${h}' is not a condition of this model; name only ${known.join(', ')} and one '${weightColumn}' column`);
    }
  }
  if (conditionCols.length === 0) throw new ConfigError(`${where} line 1: no condition column; name at least one of ${known.join(', ')}`);
  if (table.rows.length === 0) throw new ConfigError(`${where}: no rows; add one line per combination of ${conditionCols.join(', ')} with its ${weightColumn}`);

  // One zod schema per row, built from the vocabulary: each condition column an enum of known values.
  const labelValue = z.string().transform((v, ctx) => {
    const t = v.trim();
    const byName = spec.labels.indexOf(t);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(t) && Number(t) < spec.labels.length) return Number(t);
    ctx.addIssue({ code: 'custom', message: `label '${t}' is not a class of this model; use one of ${spec.labels.join(', ')}` });
    return z.NEVER;
  });
  const shape: Record<string, z.ZodType> = {};
  for (const h of conditionCols) {
    if (h === 'label') shape[h] = labelValue;
    else {
      const a = spec.attributes.find((x) => x.name === h)!;
      shape[h] = z
        .string()
        .transform((v) => v.trim())
        .pipe(z.enum(a.values as [string, ...string[]], { error: (iss) => `${h} '${String(iss.input)}' is not a value this model was trained on; use one of ${a.values.join(', ')}` }));
    }
  }
  const weight = number(weightColumn);
  shape[weightColumn] =
    weightColumn === 'count'
      ? weight.pipe(z.number().int({ error: 'count must be a whole number (use a proportion column for fractions)' }).nonnegative({ error: 'count must be >= 0' }))
      : weight.pipe(z.number().nonnegative({ error: 'proportion must be >= 0' }));
  const rowSchema = z.object(shape);

  const attributes = conditionCols.filter((h) => h !== 'label').map((h) => spec.attributes.findIndex((a) => a.name === h));
  const seen = new Map<string, number>();
  const rows = table.rows.map((r) => {
    const parsed = rowSchema.safeParse(Object.fromEntries(table.header.map((h, k) => [h, r.fields[k]!])));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(`${where} line ${r.line}: ${issue.message}; fix the row or remove it`);
    }
    const v = parsed.data as Record<string, number | string>;
    const label = conditionCols.includes('label') ? (v.label as number) : null;
    const codes = spec.attributes.map((a, k) => (attributes.includes(k) ? a.values.indexOf(v[a.name] as string) : null));
    const key = JSON.stringify([label, codes]);
    const first = seen.get(key);
    if (first !== undefined) throw new ConfigError(`${where} line ${r.line}: the same combination as line ${first}; give each combination once`);
    seen.set(key, r.line);
    return { line: r.line, label, codes, weight: v[weightColumn] as number };
  });
  const sum = rows.reduce((a, r) => a + r.weight, 0);
  if (!(sum > 0)) throw new ConfigError(`${where}: every ${weightColumn} is 0; give at least one combination a weight above 0`);
  if (weightColumn === 'proportion' && Math.abs(sum - 1) > SUM_TOLERANCE) {
    throw new ConfigError(`${where}: the proportions sum to ${+sum.toFixed(6)}, not 1; fix them, or name the column 'count' to give relative counts`);
  }
  return {
    file,
    sha256: createHash('sha256').update(text).digest('hex'),
    weightColumn,
    namesLabel: conditionCols.includes('label'),
    attributes,
    rows,
  };
}

/** Reads and parses `--condition-proportions FILE`. */
export function readConditionProportions(file: string, spec: ConditionSpec): ConditionProportions {
  if (!existsSync(file)) throw new ConfigError(`${PROPORTIONS_OPTION} ${file}: no such file; give a CSV with condition columns and a 'proportion' or 'count' column`);
  return parseConditionProportions(file, readFileSync(file, 'utf8'), spec);
}

/** The source of a run's condition counts (conditions.json), as written by src/train/run.ts. */
export function runConditionSource(conditions: { train: Combo[]; countsWithheld?: string; countsSource?: string }): Exclude<ConditionSource, 'fixed' | 'user-supplied'> {
  if (conditions.train.length === 0 || !conditions.train.some((c) => c.count > 0)) return 'uniform';
  return conditions.countsSource !== undefined ? 'released-by-dp' : 'train-split';
}

/**
 * The user's table restricted to the rows that agree with `fixed` on the conditions it names, as
 * (row, weight) pairs; a ConfigError when none has weight (the file says nothing about this case).
 */
function agreeingRows(p: ConditionProportions, spec: ConditionSpec, fixed: FixedConditions, what: () => string) {
  const rows = p.rows.filter(
    (r) => (r.label === null || fixed.fixedLabel === null || r.label === fixed.fixedLabel) && r.codes.every((c, k) => c === null || fixed.fixedCodes[k] === null || c === fixed.fixedCodes[k]),
  );
  if (!rows.some((r) => r.weight > 0)) {
    const named = [...(p.namesLabel ? ['label'] : []), ...p.attributes.map((k) => spec.attributes[k]!.name)].join(', ');
    throw new ConfigError(`${PROPORTIONS_OPTION} ${p.file}: no row with a weight above 0 agrees with ${what()}; add rows for it (columns ${named})`);
  }
  return rows;
}

/**
 * Fills the open conditions the user's table names, for one draw: returns `fixed` with those set.
 * Conditions the table does not name stay open.
 */
export function drawFromProportions(p: ConditionProportions, spec: ConditionSpec, fixed: FixedConditions, rng: Rng, what: () => string): FixedConditions {
  const rows = agreeingRows(p, spec, fixed, what);
  const r = rows[rng.categorical(rows.map((x) => x.weight))]!;
  return {
    fixedLabel: fixed.fixedLabel ?? r.label,
    fixedCodes: fixed.fixedCodes.map((c, k) => c ?? r.codes[k]!),
  };
}

/** Which conditions a user table fills given what is fixed: per condition name, the source. */
export function conditionSources(
  spec: ConditionSpec,
  fixed: FixedConditions,
  runSource: Exclude<ConditionSource, 'fixed' | 'user-supplied'>,
  p: ConditionProportions | null,
): Record<string, ConditionSource> {
  const out: Record<string, ConditionSource> = {};
  out.label = fixed.fixedLabel !== null ? 'fixed' : p?.namesLabel ? 'user-supplied' : runSource;
  spec.attributes.forEach((a, k) => {
    out[a.name] = fixed.fixedCodes[k] !== null ? 'fixed' : p?.attributes.includes(k) ? 'user-supplied' : runSource;
  });
  return out;
}

/** What `sample` and `balance` record about their open conditions (samples.json, plan.json, --json). */
export interface OpenConditionsRecord {
  /** Per condition (`label` and each conditioning attribute): fixed, or where its values were drawn from. */
  sources: Record<string, string>;
  /** The --condition-proportions file, when given. */
  proportions: { file: string; sha256: string; column: 'proportion' | 'count' } | null;
  /** Open conditions drawn uniformly (every value equally likely), for the warning. */
  uniform: string[];
  /** One plain sentence: what was drawn from where (and, when something was uniform, what to do). */
  note: string;
}

const SOURCE_TEXT: Record<string, string> = {
  'user-supplied': 'the user-supplied public proportions',
  'train-split': "the train split's condition counts",
  'released-by-dp': 'the condition counts released with differential privacy (conditions.json)',
  uniform: 'a uniform draw (every value equally likely)',
};

/**
 * The record and its sentence. `uniformWhy` says why the run has no counts (e.g. the DP-SGD text of
 * conditions.json); `extra` maps non-standard sources (balance's real rows) to their text.
 */
export function openConditionsRecord(
  sources: Record<string, string>,
  p: ConditionProportions | null,
  opts: { uniformWhy?: string; extra?: Record<string, string> } = {},
): OpenConditionsRecord {
  const open = Object.entries(sources).filter(([, s]) => s !== 'fixed');
  const uniform = open.filter(([, s]) => s === 'uniform').map(([n]) => n);
  const bySource = new Map<string, string[]>();
  for (const [name, s] of open) bySource.set(s, [...(bySource.get(s) ?? []), name]);
  const text = (s: string) => opts.extra?.[s] ?? SOURCE_TEXT[s] ?? s;
  let note =
    open.length === 0
      ? 'open conditions: none (every condition was fixed)'
      : `open conditions: ${[...bySource].map(([s, names]) => `${names.join(', ')} from ${s === 'user-supplied' && p ? `the user-supplied public proportions (${p.file})` : text(s)}`).join('; ')}`;
  if (uniform.length) {
    note +=
      `. ${opts.uniformWhy ?? 'The run has no condition counts to draw from'}, so ${uniform.join(', ')} ${uniform.length > 1 ? 'are' : 'is'} NOT drawn in realistic proportions` +
      `; pass ${PROPORTIONS_OPTION} FILE.csv with public proportions (columns ${uniform.join(',')},proportion) to draw them realistically`;
  }
  return { sources, proportions: p ? { file: p.file, sha256: p.sha256, column: p.weightColumn } : null, uniform, note };
}
