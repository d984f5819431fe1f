/**
 * Picks the dataset adapter for a path: a MedMNIST `.npz` file → `medmnist-npz`; a folder holding
 * `manifest.csv`, or a `.csv` manifest → `folder-csv` (its rows may name PNG, JPEG or DICOM files); a
 * folder without a manifest that holds DICOM files (at any depth) → `dicom`. Everything else is a DatasetError that says what
 * is accepted.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { DatasetError } from '../src/core/errors.js';
import { checkLoadOptions, fsErrorReason, loadFolderCsv, type LoadOptions } from './folder-csv/index.js';
import { loadMedmnistNpz } from './medmnist/npz.js';
import { loadDicomFolder, looksLikeDicomFolder } from './dicom/index.js';

export { checkLoadOptions, limitIndices, type LoadOptions } from './folder-csv/index.js';

const ACCEPTED = 'pass a folder with a manifest.csv, a folder of DICOM files, a manifest .csv file, or a MedMNIST .npz file';

/** Options a command sets once for every load it makes (the CLI's data-loading flags). */
export type LoadDefaults = Pick<LoadOptions, 'labels' | 'frames' | 'window' | 'site' | 'saltFile' | 'cacheDir'>;

let loadDefaults: LoadDefaults = {};

/**
 * Sets the data-loading options for every later `loadDataset` call in this process that does not give
 * them itself (the CLI calls this once per command, so stages that build their own load options, such as
 * training and the audit, still get the command's --cache-dir, --labels, ...). `{}` resets.
 */
export function setLoadDefaults(defaults: LoadDefaults): void {
  loadDefaults = { ...defaults };
}

/** Loads the dataset at `opts.path` with the adapter its type calls for. */
export function loadDataset(given: LoadOptions): ImageDataset {
  const opts: LoadOptions = { ...given };
  for (const [k, v] of Object.entries(loadDefaults) as [keyof LoadDefaults, unknown][]) {
    if (opts[k] === undefined && v !== undefined) (opts as unknown as Record<string, unknown>)[k] = v;
  }
  checkLoadOptions(opts);
  let isDir: boolean;
  try {
    isDir = statSync(opts.path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DatasetError(`${opts.path}: no such file or folder; ${ACCEPTED}`);
    }
    throw new DatasetError(`${opts.path}: cannot read it (${fsErrorReason(err)}); check the path and its permissions`);
  }
  if (isDir) return looksLikeDicomFolder(opts.path) ? loadDicomFolder(opts) : loadFolderCsv(opts);
  const ext = extname(opts.path).toLowerCase();
  if (ext === '.npz') return loadMedmnistNpz(opts);
  if (ext === '.csv') return loadFolderCsv(opts);
  throw new DatasetError(`${opts.path}: not a dataset medsynth can read; ${ACCEPTED}`);
}
