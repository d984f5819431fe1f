/**
 * Turns manifest columns into categorical attributes (the groups of the fairness audit).
 *
 * Rules (medsynth's own, see datasets/folder-csv/README.md):
 * - The known columns `path`, `label`, `label_name`, `split`, `patient_id` are never attributes.
 * - Identifiers never become groups (privacy): a column whose non-empty values are all different, one per
 *   row (e.g. `image_id`, `lesion_id`), is dropped. A column the user gives bins for is binned instead.
 * - A column is numeric when the user gives bins for it, or when all its non-empty values are finite
 *   numbers and it has more than 8 distinct values. Numeric columns are binned at ascending edges
 *   e_1 < … < e_k into k + 1 bins: (−∞, e_1), [e_1, e_2), …, [e_k, ∞), labelled `<e_1`, `e_i-(e_{i+1}−1)`
 *   (when the edges and all values are integers, e.g. `30-44`) or `[e_i,e_{i+1})` otherwise, and `e_k+`.
 *   Default edges are the decades 10, 20, …, 90.
 * - Any other column is categorical; its categories are its distinct values, sorted by UTF-16 code units
 *   (plain alphabetical order for ASCII, locale-independent). A categorical column with more than 32
 *   categories is dropped (too fine to be a group).
 * - An empty value (after trimming spaces) is the category `missing`, placed last.
 */
import type { Attribute } from './dataset.js';
import { ConfigError, DatasetError } from '../src/core/errors.js';

/** A value quoted for a one-line message (newlines and quotes escaped). */
const q = (v: string): string => JSON.stringify(v);

/** Manifest columns with a fixed meaning; never attributes (model_id, seed: provenance of synthetic rows). */
export const RESERVED_COLUMNS: readonly string[] = ['path', 'label', 'label_name', 'split', 'patient_id', 'model_id', 'seed'];

export const MISSING = 'missing';
export const DEFAULT_BIN_EDGES: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90];
/** An all-numeric column needs more than this many distinct values to be binned by default. */
export const NUMERIC_MIN_DISTINCT = 8;
/** A categorical column with more categories than this is dropped. */
export const MAX_CATEGORIES = 32;

export interface AttributeOptions {
  /** Bin edges per column name (ascending). Columns named here are binned even if they look categorical. */
  bins?: Record<string, number[]>;
  /** Keep only these attribute columns, in this order; naming an absent column is an error. */
  attributes?: string[];
}

/** Why a column did not become an attribute (for logs; never contains values). */
export interface DroppedColumn {
  name: string;
  reason: 'identifier' | 'too-many-categories';
}

export interface AttributeResult {
  attributes: Attribute[];
  dropped: DroppedColumn[];
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(s: string): number | null {
  if (!NUMBER_RE.test(s)) return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/** Labels for the k + 1 bins of ascending `edges`; `integerLabels` gives `a-(b-1)` style middle labels. */
export function binLabels(edges: readonly number[], integerLabels = edges.every(Number.isInteger)): string[] {
  const labels = [`<${edges[0]}`];
  for (let i = 0; i + 1 < edges.length; i++) {
    const a = edges[i]!;
    const b = edges[i + 1]!;
    labels.push(integerLabels ? (b - 1 === a ? `${a}` : `${a}-${b - 1}`) : `[${a},${b})`);
  }
  labels.push(`${edges[edges.length - 1]}+`);
  return labels;
}

/** Index of the bin holding v: the number of edges ≤ v. */
export function binIndex(edges: readonly number[], v: number): number {
  let k = 0;
  while (k < edges.length && edges[k]! <= v) k++;
  return k;
}

function checkEdges(name: string, edges: readonly number[]): void {
  if (edges.length === 0 || !edges.every(Number.isFinite)) {
    throw new ConfigError(`--bins ${name}: give one or more finite numbers, e.g. ${name}=30,45,60,75`);
  }
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i]! > edges[i - 1]!)) {
      throw new ConfigError(`--bins ${name}=${edges.join(',')}: edges must be strictly ascending; sort them and remove duplicates`);
    }
  }
}

/**
 * Builds the attributes from manifest columns. `header` are the column names, `rows[r][k]` the value of
 * column k in row r, `lines[r]` the manifest line of row r (for errors), `file` the manifest path.
 */
export function buildAttributes(
  header: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string>>,
  opts: AttributeOptions,
  file: string,
  lines?: readonly number[],
): AttributeResult {
  const candidates = header.filter((h) => !RESERVED_COLUMNS.includes(h));
  const bins = opts.bins ?? {};
  for (const [name, edges] of Object.entries(bins)) {
    if (RESERVED_COLUMNS.includes(name)) {
      throw new ConfigError(`--bins ${name}: ${name} is a reserved column, not an attribute; remove it from --bins`);
    }
    if (!header.includes(name)) {
      throw new ConfigError(
        `--bins ${name}: ${file} has no column ${q(name)}; attribute columns are: ${candidates.join(', ') || '(none)'}`,
      );
    }
    checkEdges(name, edges);
  }
  let wanted: string[] = candidates;
  const explicit = opts.attributes !== undefined;
  if (opts.attributes) {
    for (const name of opts.attributes) {
      if (!candidates.includes(name)) {
        const why = RESERVED_COLUMNS.includes(name) ? ` (${q(name)} is a reserved column)` : '';
        throw new ConfigError(
          `--attributes ${name}: ${file} has no attribute column ${q(name)}${why}; available: ${candidates.join(', ') || '(none)'}`,
        );
      }
    }
    wanted = [...new Set(opts.attributes)];
  }

  const attributes: Attribute[] = [];
  const dropped: DroppedColumn[] = [];
  for (const name of wanted) {
    const k = header.indexOf(name);
    const values = rows.map((r) => (r[k] ?? '').trim());
    const userEdges = bins[name];
    if (userEdges) {
      attributes.push(binned(name, values, userEdges, file, lines));
      continue;
    }
    const nonEmpty = values.filter((v) => v !== '');
    const distinct = new Set(nonEmpty);
    if (nonEmpty.length >= 2 && distinct.size === nonEmpty.length) {
      if (explicit) {
        throw new ConfigError(
          `--attributes ${name}: column ${q(name)} of ${file} has a different value in every row (an identifier), which cannot be a group; remove it from --attributes or give --bins for it if it is numeric`,
        );
      }
      dropped.push({ name, reason: 'identifier' });
      continue;
    }
    const allNumeric = nonEmpty.length > 0 && nonEmpty.every((v) => parseNumber(v) !== null);
    if (allNumeric && distinct.size > NUMERIC_MIN_DISTINCT) {
      attributes.push(binned(name, values, [...DEFAULT_BIN_EDGES], file, lines));
      continue;
    }
    if (distinct.size > MAX_CATEGORIES) {
      if (explicit) {
        throw new ConfigError(
          `--attributes ${name}: column ${q(name)} of ${file} has ${distinct.size} categories (more than ${MAX_CATEGORIES}), too fine to be a group; merge its values or remove it from --attributes`,
        );
      }
      dropped.push({ name, reason: 'too-many-categories' });
      continue;
    }
    attributes.push(categorical(name, values));
  }
  return { attributes, dropped };
}

function categorical(name: string, values: readonly string[]): Attribute {
  const cats = [...new Set(values.filter((v) => v !== '' && v !== MISSING))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (values.some((v) => v === '' || v === MISSING)) cats.push(MISSING);
  const index = new Map(cats.map((c, i) => [c, i]));
  const codes = Int32Array.from(values, (v) => index.get(v === '' ? MISSING : v)!);
  return { name, values: cats, codes };
}

function binned(
  name: string,
  values: readonly string[],
  edges: readonly number[],
  file: string,
  lines?: readonly number[],
): Attribute {
  const nums = values.map((v, r) => {
    if (v === '') return null;
    const x = parseNumber(v);
    if (x === null) {
      const where = lines ? `line ${lines[r]}` : `row ${r + 1}`;
      throw new DatasetError(
        `${file} ${where}: column ${q(name)} is binned but has the non-numeric value ${q(v)}; fix the value, leave it empty for missing, or drop the column from --bins`,
      );
    }
    return x;
  });
  const integerLabels = edges.every(Number.isInteger) && nums.every((x) => x === null || Number.isInteger(x));
  const labels = binLabels(edges, integerLabels);
  const hasMissing = nums.some((x) => x === null);
  if (hasMissing) labels.push(MISSING);
  const missingCode = labels.length - 1;
  const codes = Int32Array.from(nums, (x) => (x === null ? missingCode : binIndex(edges, x)));
  return { name, values: labels, codes, binEdges: [...edges] };
}

/**
 * Parses the CLI `--bins` value: `column=e1,e2,…` entries separated by `;`, e.g.
 * `age=30,45,60,75;bmi=18.5,25,30`.
 */
export function parseBinsOption(text: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const part of text.split(';')) {
    const entry = part.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    if (eq < 0 || name === '') {
      throw new ConfigError(`--bins ${q(entry)}: expected column=edge,edge,… e.g. age=30,45,60,75`);
    }
    if (name in out) throw new ConfigError(`--bins: column ${q(name)} is given twice; give each column once`);
    const pieces = entry.slice(eq + 1).split(',').map((s) => s.trim());
    const edges = pieces.map((s) => (s === '' ? NaN : Number(s)));
    const bad = pieces.find((_s, i) => !Number.isFinite(edges[i]!));
    if (bad !== undefined) {
      throw new ConfigError(`--bins ${name}: ${q(bad)} is not a number; give edges like ${name}=30,45,60,75`);
    }
    checkEdges(name, edges);
    out[name] = edges;
  }
  if (Object.keys(out).length === 0) {
    throw new ConfigError('--bins is empty; give column=edge,edge,… e.g. age=30,45,60,75');
  }
  return out;
}
