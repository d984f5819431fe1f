/**
 * What `evaluate --synthetic` reads. A `medsynth sample` folder holds synthetic rows only; a `medsynth
 * balance` folder holds the real train rows (synthetic=0, by reference, at their source size) and the
 * synthetic rows (synthetic=1). Only the rows with synthetic=1 are synthetic: when a manifest has other
 * rows, a manifest of its synthetic rows alone (absolute image paths) is written to a temporary folder
 * and loaded instead. A manifest without a `synthetic` column is taken as all synthetic.
 *
 * Evaluation size by default: the size the generator's run was trained at (run.json `size` of the run
 * that balance's plan.json names as `model`), else the size of the first synthetic image (sample and
 * balance write synthetic images at the generator's size).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parseCsv, toCsv } from '../../datasets/csv.js';
import { DatasetError } from '../core/errors.js';

export interface SyntheticSource {
  /** What to load: the path given, or a temporary manifest of its synthetic rows. */
  loadPath: string;
  /** Rows of the manifest and those with synthetic=1; null without a `synthetic` column (or for .npz). */
  rows: { total: number; synthetic: number } | null;
  /** The generator's run folder, when the folder records it (balance's plan.json `model`). */
  run: string | null;
  /** Removes the temporary manifest, if any. */
  cleanup(): void;
}

function locate(path: string): { manifest: string; root: string } | null {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    return null; // loadDataset says what is wrong with the path
  }
  if (isDir) return { manifest: join(path, 'manifest.csv'), root: path };
  if (extname(path).toLowerCase() === '.csv') return { manifest: path, root: dirname(path) };
  return null;
}

/** The run folder named by a balance folder's plan.json, when it still exists. */
function planRun(root: string): string | null {
  const plan = join(root, 'plan.json');
  if (!existsSync(plan)) return null;
  try {
    const model = (JSON.parse(readFileSync(plan, 'utf8')) as { model?: unknown }).model;
    if (typeof model !== 'string') return null;
    const run = resolve(root, model);
    return existsSync(join(run, 'run.json')) ? run : null;
  } catch {
    return null;
  }
}

/** run.json `size` of a run folder, or null when unreadable. */
export function runImageSize(run: string): number | null {
  try {
    const size = (JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { size?: unknown }).size;
    return typeof size === 'number' && Number.isInteger(size) && size > 0 ? size : null;
  } catch {
    return null;
  }
}

export function syntheticSource(path: string, option = '--synthetic'): SyntheticSource {
  const none = { loadPath: path, rows: null, run: null, cleanup: () => {} };
  const loc = locate(path);
  if (!loc || !existsSync(loc.manifest)) return none;
  const run = planRun(loc.root);
  const table = parseCsv(readFileSync(loc.manifest, 'utf8'), loc.manifest);
  const col = table.header.indexOf('synthetic');
  const pathCol = table.header.indexOf('path');
  if (col < 0 || pathCol < 0) return { ...none, run };
  const keep = table.rows.filter((r) => r.fields[col]!.trim() === '1');
  const rows = { total: table.rows.length, synthetic: keep.length };
  if (keep.length === 0) {
    throw new DatasetError(`${option} ${path}: none of its ${rows.total} rows has synthetic=1; give a medsynth sample or balance output folder (synthetic rows are marked synthetic=1)`);
  }
  if (keep.length === table.rows.length) return { ...none, rows, run };
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-synthetic-'));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(loc.root, p));
  writeFileSync(join(dir, 'manifest.csv'), toCsv(table.header, keep.map((r) => r.fields.map((v, k) => (k === pathCol ? abs(v) : v)))));
  return { loadPath: dir, rows, run, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
