/**
 * The `folder-csv` adapter: a folder of PNG/JPEG images described by a `manifest.csv`.
 *
 * Manifest columns (see README.md in this folder): `path` and `label` are required; `label_name`,
 * `split` and `patient_id` are optional and have fixed meanings; every other column is a candidate
 * attribute (datasets/attributes.ts decides which become groups). Image paths are relative to the
 * manifest's folder.
 *
 * Order of work: the manifest is checked completely (columns, labels, splits, names, attributes) before
 * any image is decoded, so mistakes in it are reported at once rather than after minutes of decoding.
 * Then each image is decoded (datasets/image/decode.ts), centre-cropped, converted and resized
 * (datasets/image/resize.ts), mostly in decoding worker threads (datasets/image/sharp.ts), and copied into
 * the output array in file order; only the files in flight are held at full size.
 *
 * Fingerprint: sha256 over the manifest bytes followed by each loaded image file's bytes, in manifest
 * order (hex).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { widenDims, type ImageDataset, type Preprocessing, type SourceDims, type SplitName } from '../dataset.js';
import { ConfigError, DatasetError } from '../../src/core/errors.js';
import { buildAttributes } from '../attributes.js';
import { parseCsv } from '../csv.js';
import { jsDecoderVersion } from '../image/decode.js';
import { decodeResizeEach, sharpAvailable } from '../image/sharp.js';
import { cacheGet, cacheKey, cachePut, resolveCacheDir, type CachedPixels } from '../cache.js';

/** A value quoted for a one-line message (newlines and quotes escaped). */
const q = (v: string): string => JSON.stringify(v);

export interface LoadOptions {
  /** A folder containing manifest.csv, a manifest .csv file, or (for loadDataset) a MedMNIST .npz file. */
  path: string;
  /** Output side length in pixels (images are centre-cropped to a square and resized): 28, 32, 64, 128. */
  size: number;
  /** Output channels; when absent, the source colour class (an error if the sources mix grey and colour). */
  channels?: 1 | 3;
  /** Bin edges per numeric attribute column (folder-csv only). */
  bins?: Record<string, number[]>;
  /** Keep only these attribute columns (folder-csv only). */
  attributes?: string[];
  /**
   * Load at most this many images, for quick runs: rows ⌊i · n / limit⌋ for i = 0 … limit − 1, i.e.
   * evenly spaced over the source order, so sources sorted by class or split still give all of them.
   */
  limit?: number;
  /** DICOM folders: the labels CSV (default: labels.csv at the top of the folder, when present). */
  labels?: string;
  /** DICOM multi-frame files: the first frame (default) or every frame. */
  frames?: 'first' | 'all';
  /** DICOM grey images without a VOI window or LUT: `minmax` (default) or `percentile` (0.5–99.5%). */
  window?: 'minmax' | 'percentile';
  /** DICOM folders: a `site` attribute from Manufacturer or InstitutionName (off by default). */
  site?: 'manufacturer' | 'institution';
  /** DICOM folders: keep the PatientID hash salt in this file (default: a new salt in memory per load). */
  saltFile?: string;
  /** Decoded-pixel cache folder; null turns it off; absent: the process default or $MEDSYNTH_CACHE (datasets/cache.ts). */
  cacheDir?: string | null;
}

/** Columns with a fixed meaning. */
export const REQUIRED_COLUMNS = ['path', 'label'] as const;

/** Checks the options that do not depend on the data (ConfigError naming the CLI option). */
export function checkLoadOptions(opts: LoadOptions): void {
  if (!(Number.isInteger(opts.size) && opts.size >= 1 && opts.size <= 4096)) {
    throw new ConfigError(`--size ${opts.size}: give the image side in pixels as a whole number, e.g. 28, 32, 64 or 128`);
  }
  if (opts.channels !== undefined && opts.channels !== 1 && opts.channels !== 3) {
    throw new ConfigError(`--channels ${String(opts.channels)}: give 1 (grey) or 3 (RGB)`);
  }
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) {
    throw new ConfigError(`--limit ${opts.limit}: give a whole number of images, 1 or more`);
  }
}

/** Indices of at most `limit` of `n` rows, evenly spaced (all rows when no limit or limit ≥ n). */
export function limitIndices(n: number, limit?: number): number[] {
  if (limit === undefined || limit >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: limit }, (_, i) => Math.floor((i * n) / limit));
}

/** The preprocessing record shared by the image adapters. */
export function preprocessingRecord(size: number, channels: 1 | 3): Preprocessing {
  return { size, channels, crop: 'center-crop', resize: 'area+bilinear', colour: 'bt601-luma|replicate', alpha: 'drop' };
}

/** A short reason for a file-system error, e.g. `EACCES: permission denied`. */
export function fsErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder, not a file',
    ENOTDIR: 'a part of the path is not a folder',
    ENOENT: 'no such file or folder',
    EMFILE: 'too many open files',
    EIO: 'input/output error',
    ELOOP: 'too many symbolic links',
  };
  if (e && typeof e.code === 'string') {
    const text = known[e.code] ?? String(e.message).replace(/^[A-Z]+:\s*/, '').split(',')[0];
    return `${e.code}: ${text}`;
  }
  return e instanceof Error ? e.message : String(err);
}

const SPLIT_ALIASES: Record<string, SplitName> = {
  train: 'train',
  holdout: 'holdout',
  val: 'holdout',
  valid: 'holdout',
  validation: 'holdout',
  test: 'test',
};

/** Labels above this are surely a typo (and would allocate absurd class lists). */
const MAX_LABEL = 65535;

interface Located {
  /** Manifest path as shown in messages (built from the user's path). */
  manifest: string;
  /** Folder that image paths are relative to. */
  root: string;
  name: string;
}

function locate(path: string): Located {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DatasetError(`${path}: no such file or folder; pass a folder that holds manifest.csv, or the manifest .csv file`);
    }
    throw new DatasetError(`${path}: cannot read it (${fsErrorReason(err)}); check the path and its permissions`);
  }
  if (isDir) {
    return { manifest: join(path, 'manifest.csv'), root: path, name: basename(resolve(path)) };
  }
  const root = dirname(path);
  const stem = basename(path, extname(path));
  const name = stem === 'manifest' ? basename(resolve(root)) : stem;
  return { manifest: path, root, name };
}

function readManifest(loc: Located, userPath: string): Uint8Array {
  try {
    return readFileSync(loc.manifest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && loc.manifest !== userPath) {
      throw new DatasetError(
        `${userPath}: no manifest.csv in this folder; add one with columns path,label (see datasets/folder-csv/README.md) or pass the .csv file itself`,
      );
    }
    throw new DatasetError(`${loc.manifest}: cannot read the manifest (${fsErrorReason(err)}); check the file and the folder permissions`);
  }
}

interface ManifestRow {
  line: number;
  path: string;
  label: number;
}

/** Loads a folder + manifest dataset. */
export function loadFolderCsv(opts: LoadOptions): ImageDataset {
  checkLoadOptions(opts);
  const loc = locate(opts.path);
  const manifestBytes = readManifest(loc, opts.path);
  const shown = loc.manifest;

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes);
  } catch {
    throw new DatasetError(`${shown}: not UTF-8 text; save the manifest as UTF-8 CSV`);
  }
  const table = parseCsv(text, shown);
  const { header } = table;
  const col = (name: string): number => header.indexOf(name);
  for (const req of REQUIRED_COLUMNS) {
    if (col(req) < 0) {
      throw new DatasetError(
        `${shown}: no ${q(req)} column (columns found: ${header.join(', ')}); the manifest needs columns path,label (see datasets/folder-csv/README.md)`,
      );
    }
  }
  if (table.rows.length === 0) {
    throw new DatasetError(`${shown}: no image rows under the header (empty dataset); add one line per image`);
  }
  const records = limitIndices(table.rows.length, opts.limit).map((i) => table.rows[i]!);
  const n = records.length;

  // ---- check every row before decoding anything
  const cPath = col('path');
  const cLabel = col('label');
  const cName = col('label_name');
  const cSplit = col('split');
  const cPatient = col('patient_id');
  const rows: ManifestRow[] = [];
  const seenPath = new Map<string, number>();
  const nameOf = new Map<number, { name: string; line: number }>();
  const labelOfName = new Map<string, { label: number; line: number }>();
  const sourceSplits: (SplitName | null)[] | undefined = cSplit >= 0 ? [] : undefined;
  const patientIds: string[] | undefined = cPatient >= 0 ? [] : undefined;
  for (const rec of records) {
    const f = rec.fields;
    const where = `${shown} line ${rec.line}`;
    const p = f[cPath]!.trim();
    if (p === '') throw new DatasetError(`${where}: empty "path"; give the image file relative to the manifest's folder or remove the row`);
    const dup = seenPath.get(p);
    if (dup !== undefined) {
      throw new DatasetError(`${shown} lines ${dup} and ${rec.line}: the image ${q(p)} is listed twice; remove one of the rows`);
    }
    seenPath.set(p, rec.line);

    const rawLabel = f[cLabel]!.trim();
    if (!/^\d+$/.test(rawLabel) || Number(rawLabel) > MAX_LABEL) {
      throw new DatasetError(
        `${where}: label ${q(rawLabel)} in column "label" is not a whole number from 0 to ${MAX_LABEL}; use class numbers 0, 1, 2, … (names go in "label_name")`,
      );
    }
    const label = Number(rawLabel);

    if (cName >= 0) {
      const nm = f[cName]!.trim();
      if (nm !== '') {
        const prev = nameOf.get(label);
        if (prev && prev.name !== nm) {
          throw new DatasetError(
            `${shown} lines ${prev.line} and ${rec.line}: label ${label} is named ${q(prev.name)} on one and ${q(nm)} on the other; give each label one label_name`,
          );
        }
        if (!prev) nameOf.set(label, { name: nm, line: rec.line });
        const other = labelOfName.get(nm);
        if (other && other.label !== label) {
          throw new DatasetError(
            `${shown} lines ${other.line} and ${rec.line}: label_name ${q(nm)} is used for labels ${other.label} and ${label}; give each label its own name`,
          );
        }
        if (!other) labelOfName.set(nm, { label, line: rec.line });
      }
    }

    if (sourceSplits) {
      const s = f[cSplit]!.trim().toLowerCase();
      if (s === '') sourceSplits.push(null);
      else {
        const mapped = SPLIT_ALIASES[s];
        if (!mapped) {
          throw new DatasetError(
            `${where}: split ${q(f[cSplit]!.trim())} is not train, holdout (or val/valid/validation) or test; fix it or leave it empty`,
          );
        }
        sourceSplits.push(mapped);
      }
    }

    if (patientIds) {
      const pid = f[cPatient]!.trim();
      if (pid === '') {
        throw new DatasetError(`${where}: empty "patient_id"; fill it in (the same id for all images of one patient) or remove the column`);
      }
      patientIds.push(pid);
    }
    rows.push({ line: rec.line, path: p, label });
  }

  const maxLabel = rows.reduce((m, r) => Math.max(m, r.label), 0);
  const labelNames = Array.from({ length: maxLabel + 1 }, (_, k) => nameOf.get(k)?.name ?? `class_${k}`);
  const { attributes } = buildAttributes(
    header,
    records.map((r) => r.fields),
    { bins: opts.bins, attributes: opts.attributes },
    shown,
    records.map((r) => r.line),
  );

  // ---- decode, crop, convert, resize
  const size = opts.size;
  const hash = createHash('sha256');
  hash.update(manifestBytes);
  let channels: 1 | 3 | undefined = opts.channels;
  let firstClass: { channels: 1 | 3; line: number; path: string } | undefined;
  let images: Float32Array | undefined;
  let bitDepth: 8 | 16 = 8;
  let sourceDims: SourceDims | undefined;
  const fileOf = (row: ManifestRow): string => (isAbsolute(row.path) ? row.path : join(loc.root, row.path));
  const readRow = (i: number): Uint8Array => {
    const row = rows[i]!;
    const where = `${shown} line ${row.line}`;
    const file = fileOf(row);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new DatasetError(`${where}: image file ${q(row.path)} not found (looked for ${file}); fix the path or remove the row`);
      }
      throw new DatasetError(`${where}: cannot read image file ${q(row.path)} (${fsErrorReason(err)}); check the file or remove the row`);
    }
    if (!fingerprint) hash.update(bytes);
    return bytes;
  };

  // ---- the cache: fingerprint first (reading and hashing is cheap next to decoding), then look it up
  const cacheDir = resolveCacheDir(opts.cacheDir);
  let fingerprint: string | undefined;
  let key: string | undefined;
  if (cacheDir) {
    for (let i = 0; i < n; i++) readRow(i);
    fingerprint = hash.digest('hex');
    key = cacheKey(fingerprint, { adapter: 'folder-csv', size, channels: opts.channels, decoder: sharpAvailable() ? 'sharp' : 'js', jsDecoder: jsDecoderVersion(), limit: opts.limit });
    const hit = cacheGet(cacheDir, key);
    if (hit && hit.n === n && hit.images.length === n * size * size * hit.channels) {
      return finish({ ...hit, fingerprint });
    }
  }

  const decoder = decodeResizeEach(
    n,
    readRow,
    (i) => `${shown} line ${rows[i]!.line}: ${rows[i]!.path}`,
    size,
    opts.channels,
    (i, img, pixels) => {
      const row = rows[i]!;
      if (img.bitDepth === 16) bitDepth = 16;
      sourceDims = widenDims(sourceDims, img.width, img.height);
      if (!firstClass) firstClass = { channels: img.channels, line: row.line, path: row.path };
      else if (opts.channels === undefined && img.channels !== firstClass.channels) {
        const kind = (c: 1 | 3): string => (c === 1 ? 'grey' : 'colour');
        const [a, b] = firstClass.line < row.line ? [firstClass, { channels: img.channels, line: row.line, path: row.path }] : [{ channels: img.channels, line: row.line, path: row.path }, firstClass];
        throw new DatasetError(
          `${shown}: images mix grey and colour (line ${a.line} ${q(a.path)} is ${kind(a.channels)}, line ${b.line} ${q(b.path)} is ${kind(b.channels)}); pass --channels 1 or --channels 3 to convert them all`,
        );
      }
      if (channels === undefined) channels = img.channels;
      if (!images) images = new Float32Array(n * size * size * channels);
      // Resized to `channels` (opts.channels, or the image's own class, which is checked to be the first's).
      images.set(pixels, i * size * size * channels);
    },
  );

  fingerprint ??= hash.digest('hex');
  const decoded: CachedPixels = {
    n,
    channels: channels!,
    bitDepth,
    sourceDims: sourceDims!,
    preprocessing: { ...preprocessingRecord(size, channels!), decoder },
    images: images!,
  };
  if (cacheDir && key) cachePut(cacheDir, key, decoded);
  return finish({ ...decoded, fingerprint });

  function finish(px: CachedPixels & { fingerprint: string }): ImageDataset {
    return {
      name: loc.name,
      source: {
        kind: 'folder-csv',
        path: opts.path,
        fingerprint: px.fingerprint,
        preprocessing: px.preprocessing,
        sourceDims: px.sourceDims,
      },
      n,
      height: size,
      width: size,
      channels: px.channels,
      bitDepth: px.bitDepth,
      images: px.images,
      labels: Int32Array.from(rows, (r) => r.label),
      labelNames,
      attributes,
      ...(patientIds ? { patientIds } : {}),
      ids: rows.map((r) => r.path),
      ...(sourceSplits ? { sourceSplits } : {}),
    };
  }
}
