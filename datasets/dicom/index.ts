/**
 * The `dicom` adapter: a folder of DICOM files (any depth, any file names: a file is DICOM when it has
 * the `DICM` magic at byte 128), labelled by an optional labels CSV.
 *
 * De-identification happens here and nowhere else. The only values that leave this module are:
 *   - pixels (windowed, resized);
 *   - `sex` (PatientSex M/F/O), `age` (PatientAge, or whole years from PatientBirthDate to StudyDate),
 *     and on request `site` (Manufacturer or InstitutionName), binned like any CSV column;
 *   - the privacy unit: PatientID replaced by `p-` + the first 16 hex digits of
 *     sha256(salt ‖ PatientID); the salt is derived in memory from the full sha256 of every file (never
 *     written, the same for the same data, see `patientSalt`), or read from (and on first use written
 *     to) `saltFile` when the caller asks for a salt of its own;
 *   - image ids `dcm-<first 16 hex digits of sha256(file bytes)>` (`-f<k>` per frame with frames=all):
 *     stable, and free of file names, which hospital exports often build from names and UIDs;
 *   - the label, looked up by SOPInstanceUID, StudyInstanceUID or PatientID in the labels CSV;
 *   - `tags`: for each tag read, how many files lacked it (never a value).
 * Names, dates, UIDs and free text are read only to compute the above and are then dropped.
 *
 * Labels: `labels` (or `labels.csv` at the top of the folder, when present) with a `label` column of
 * class numbers, an optional `label_name`, and exactly one key column: SOPInstanceUID, StudyInstanceUID
 * or PatientID. Without labels every image gets class 0 (`unlabelled`), which `data inspect` accepts.
 *
 * Fingerprint: sha256 over the labels CSV bytes (when used) and each file's bytes in path order.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { widenDims, type ImageDataset, type SourceDims } from '../dataset.js';
import { ConfigError, DatasetError } from '../../src/core/errors.js';
import { writeFileAtomic } from '../../src/core/fs.js';
import { buildAttributes } from '../attributes.js';
import { parseCsv } from '../csv.js';
import { toSquarePixels } from '../image/resize.js';
import { jsDecoderVersion } from '../image/decode.js';
import { fsErrorReason, preprocessingRecord, type LoadOptions } from '../folder-csv/index.js';
import { cacheGet, cacheKey, cachePut, resolveCacheDir, type CachedPixels } from '../cache.js';
import { decodeDicomFrames, isDicom, parseDicomFile, WINDOW_FALLBACKS, type ParsedDicom, type WindowUsed } from './pixels.js';

/** A tag the adapter reads, and in how many files it was missing. */
export interface TagCount {
  keyword: string;
  /** `(gggg,eeee)` */
  tag: string;
  missing: number;
}

const q = (v: string): string => JSON.stringify(v);

/** Files under `dir` (any depth, hidden entries skipped) that start like DICOM Part 10, sorted by path. */
export function findDicomFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      throw new DatasetError(`${d}: cannot list the folder (${fsErrorReason(err)}); check its permissions`);
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && hasDicomMagic(p)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function hasDicomMagic(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = new Uint8Array(132);
    return readSync(fd, head, 0, 132, 0) === 132 && isDicom(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** True when `dir` holds no manifest.csv and at least one DICOM file (checked lazily: stops at the first). */
export function looksLikeDicomFolder(dir: string): boolean {
  if (existsSync(join(dir, 'manifest.csv'))) return false;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && hasDicomMagic(p)) return true;
    }
  }
  return false;
}

/**
 * The salt for PatientID hashes. From `saltFile` when given (created with 32 random bytes if missing).
 * Otherwise derived in memory from the full sha256 of every file (`fromData`), never written: the same
 * data gives the same patient hashes in every command (so `evaluate` redraws the split `train` drew),
 * while outputs only ever show 16 hex digits of those file hashes (the image ids), not the salt's input.
 */
function patientSalt(saltFile: string | undefined, fromData: Hash): Uint8Array {
  if (!saltFile) return fromData.digest();
  if (existsSync(saltFile)) {
    const hex = readFileSync(saltFile, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new ConfigError(`${saltFile}: not a medsynth salt file (64 hex digits); give a new path to create one`);
    return Buffer.from(hex, 'hex');
  }
  const salt = randomBytes(32);
  writeFileAtomic(saltFile, salt.toString('hex') + '\n');
  return salt;
}

const KEY_COLUMNS = ['SOPInstanceUID', 'StudyInstanceUID', 'PatientID'] as const;
type KeyColumn = (typeof KEY_COLUMNS)[number];
const KEY_TAG: Record<KeyColumn, string> = { SOPInstanceUID: 'x00080018', StudyInstanceUID: 'x0020000d', PatientID: 'x00100020' };

interface Labels {
  file: string;
  bytes: Uint8Array;
  key: KeyColumn;
  byKey: Map<string, number>;
  names: Map<number, string>;
}

function readLabels(file: string): Labels {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DatasetError(`${file}: cannot read the labels CSV (${fsErrorReason(err)}); check the path given to --labels`);
  }
  const table = parseCsv(new TextDecoder().decode(bytes), file);
  const lower = table.header.map((h) => h.trim().toLowerCase());
  const keys = KEY_COLUMNS.filter((k) => lower.includes(k.toLowerCase()));
  if (keys.length !== 1 || !lower.includes('label')) {
    throw new DatasetError(
      `${file}: a labels CSV needs a "label" column and exactly one key column of ${KEY_COLUMNS.join(', ')} (columns found: ${table.header.join(', ')})`,
    );
  }
  const key = keys[0]!;
  const cKey = lower.indexOf(key.toLowerCase());
  const cLabel = lower.indexOf('label');
  const cName = lower.indexOf('label_name');
  const byKey = new Map<string, number>();
  const names = new Map<number, string>();
  for (const r of table.rows) {
    const k = r.fields[cKey]!.trim();
    const raw = r.fields[cLabel]!.trim();
    if (k === '') throw new DatasetError(`${file} line ${r.line}: empty ${key}; fill it in or remove the row`);
    if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
      throw new DatasetError(`${file} line ${r.line}: label ${q(raw)} is not a whole number from 0 to 65535; use class numbers (names go in "label_name")`);
    }
    const label = Number(raw);
    const prev = byKey.get(k);
    if (prev !== undefined && prev !== label) throw new DatasetError(`${file} line ${r.line}: this ${key} has two labels (${prev} and ${label}); keep one`);
    byKey.set(k, label);
    if (cName >= 0 && r.fields[cName]!.trim() !== '') names.set(label, r.fields[cName]!.trim());
  }
  return { file, bytes, key, byKey, names };
}

/** Age in years from PatientAge (`045Y`, `006M`, `010W`, `003D`) or from the two dates; NaN when unknown. */
function ageYears(p: ParsedDicom): number {
  const age = (p.ds.string('x00101010') ?? '').trim().toUpperCase();
  const m = /^(\d{1,3})([DWMY])$/.exec(age);
  if (m) return Number(m[1]) / { D: 365.25, W: 52.1775, M: 12, Y: 1 }[m[2] as 'D' | 'W' | 'M' | 'Y'];
  const birth = /^(\d{4})(\d{2})(\d{2})$/.exec((p.ds.string('x00100030') ?? '').trim());
  const study = /^(\d{4})(\d{2})(\d{2})$/.exec((p.ds.string('x00080020') ?? '').trim());
  if (!birth || !study) return NaN;
  let years = Number(study[1]) - Number(birth[1]);
  if (Number(study[2]) * 100 + Number(study[3]) < Number(birth[2]) * 100 + Number(birth[3])) years--;
  return years >= 0 ? years : NaN;
}

const SEX: Record<string, string> = { M: 'male', F: 'female', O: 'other' };

/** Loads a DICOM folder. */
export function loadDicomFolder(opts: LoadOptions): ImageDataset {
  const frames = opts.frames ?? 'first';
  const fallback = opts.window ?? 'minmax';
  if (!WINDOW_FALLBACKS.includes(fallback)) throw new ConfigError(`--window ${String(fallback)}: give ${WINDOW_FALLBACKS.join(' or ')}`);
  const root = opts.path;
  const files = findDicomFiles(root);
  if (files.length === 0) {
    throw new DatasetError(`${root}: no DICOM files (none has the DICM marker at byte 128) and no manifest.csv; pass a folder of DICOM files or a manifest`);
  }
  const labelsFile = opts.labels ?? (existsSync(join(root, 'labels.csv')) ? join(root, 'labels.csv') : undefined);
  const labels = labelsFile ? readLabels(labelsFile) : null;
  const size = opts.size;

  const tagKeys: Array<[string, string, string]> = [
    ['PatientID', '(0010,0020)', 'x00100020'],
    ['PatientSex', '(0010,0040)', 'x00100040'],
    ['PatientAge', '(0010,1010)', 'x00101010'],
    ['PatientBirthDate', '(0010,0030)', 'x00100030'],
    ['StudyDate', '(0008,0020)', 'x00080020'],
    ['RescaleSlope', '(0028,1053)', 'x00281053'],
    ['RescaleIntercept', '(0028,1052)', 'x00281052'],
    ['WindowCenter', '(0028,1050)', 'x00281050'],
    ['WindowWidth', '(0028,1051)', 'x00281051'],
    ['VOILUTSequence', '(0028,3010)', 'x00283010'],
    ['NumberOfFrames', '(0028,0008)', 'x00280008'],
  ];
  if (labels && labels.key !== 'PatientID') tagKeys.push([labels.key, labels.key === 'SOPInstanceUID' ? '(0008,0018)' : '(0020,000D)', KEY_TAG[labels.key]]);
  if (opts.site === 'manufacturer') tagKeys.push(['Manufacturer', '(0008,0070)', 'x00080070']);
  if (opts.site === 'institution') tagKeys.push(['InstitutionName', '(0008,0080)', 'x00080080']);
  const missing = new Map(tagKeys.map(([k]) => [k, 0]));

  const hash = createHash('sha256');
  if (labels) hash.update(labels.bytes);
  const images: Float32Array[] = [];
  const ids: string[] = [];
  const labelOf: number[] = [];
  // Raw PatientIDs live only in this function, until they are hashed after the first pass.
  const rawPatientIds: (string | null)[] = [];
  const saltHash = createHash('sha256').update('medsynth dicom patient-id salt v1');
  const attrRows: string[][] = [];
  const seen = new Map<string, string>();
  let channels: 1 | 3 | undefined = opts.channels;
  let firstClass: { channels: 1 | 3; file: string } | undefined;
  let bitDepth: 8 | 16 = 8;
  let sourceDims: SourceDims | undefined;
  const windows = new Set<WindowUsed>();
  const unlabelled: string[] = [];

  // ---- pass 1: headers (tags, labels, attributes, patient hashes, frame counts) and the fingerprint
  const imageFiles: { path: string; where: string; frames: number }[] = [];
  const readFile = (path: string, where: string): Uint8Array => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new DatasetError(`${where}: cannot read the file (${fsErrorReason(err)}); check it or remove it`);
    }
  };
  for (const path of files) {
    const where = join(root, relative(root, path) || basename(path));
    const bytes = readFile(path, where);
    hash.update(bytes);
    const fullDigest = createHash('sha256').update(bytes).digest('hex');
    saltHash.update(fullDigest);
    const digest = fullDigest.slice(0, 16);
    const twin = seen.get(digest);
    if (twin) throw new DatasetError(`${where}: the same bytes as ${twin} (a copy); remove one of them`);
    seen.set(digest, where);
    const parsed = parseDicomFile(bytes, where);
    const mediaClass = (parsed.ds.string('x00020002') ?? '').trim();
    if (mediaClass === '1.2.840.10008.1.3.10') continue; // DICOMDIR: an index of the folder, not an image

    for (const [k, , t] of tagKeys) if (!parsed.ds.elements[t] || parsed.ds.elements[t]!.length === 0) missing.set(k, missing.get(k)! + 1);
    let label = 0;
    if (labels) {
      const key = (parsed.ds.string(KEY_TAG[labels.key]) ?? '').replace(/\0/g, '').trim();
      const found = labels.byKey.get(key);
      if (found === undefined) unlabelled.push(where);
      else label = found;
    }
    const pid = (parsed.ds.string('x00100020') ?? '').replace(/\0/g, '').trim();
    const sex = SEX[(parsed.ds.string('x00100040') ?? '').trim().toUpperCase()] ?? '';
    const age = ageYears(parsed);
    const attrs = [sex, Number.isFinite(age) ? String(Math.floor(age * 100) / 100) : ''];
    if (opts.site === 'manufacturer') attrs.push((parsed.ds.string('x00080070') ?? '').trim());
    if (opts.site === 'institution') attrs.push((parsed.ds.string('x00080080') ?? '').trim());
    const nFrames = frames === 'all' ? Math.max(1, parsed.ds.intString('x00280008') ?? 1) : 1;
    imageFiles.push({ path, where, frames: nFrames });
    for (let k = 0; k < nFrames; k++) {
      ids.push(nFrames > 1 ? `dcm-${digest}-f${k + 1}` : `dcm-${digest}`);
      labelOf.push(label);
      rawPatientIds.push(pid === '' ? null : pid);
      attrRows.push(attrs);
    }
  }
  // ---- pass 2 (not on a cache hit): decode, window, resize
  function decodeAll(): CachedPixels {
    for (const f of imageFiles) {
      const parsed = parseDicomFile(readFile(f.path, f.where), f.where);
      const decoded = decodeDicomFrames(parsed, f.where, { frames, window: fallback });
      if (decoded.frames.length !== f.frames) throw new Error(`internal error: ${f.where}: ${decoded.frames.length} frames decoded, ${f.frames} counted`);
      windows.add(decoded.window);
      if (decoded.bitDepth === 16) bitDepth = 16;
      sourceDims = widenDims(sourceDims, decoded.width, decoded.height);
      if (!firstClass) firstClass = { channels: decoded.channels, file: f.where };
      else if (opts.channels === undefined && decoded.channels !== firstClass.channels) {
        const kind = (c: 1 | 3): string => (c === 1 ? 'grey' : 'colour');
        throw new DatasetError(
          `${root}: images mix grey and colour (${firstClass.file} is ${kind(firstClass.channels)}, ${f.where} is ${kind(decoded.channels)}); pass --channels 1 or --channels 3 to convert them all`,
        );
      }
      channels ??= decoded.channels;
      for (const frame of decoded.frames) images.push(toSquarePixels(frame, decoded.width, decoded.height, decoded.channels, 1, size, channels));
    }
    const len = size * size * (channels ?? 1);
    const all = new Float32Array(images.length * len);
    images.forEach((im, i) => all.set(im, i * len));
    const window = [...windows].sort().join('+');
    return {
      n: images.length,
      channels: channels ?? 1,
      bitDepth,
      sourceDims: sourceDims ?? { width: [0, 0], height: [0, 0] },
      preprocessing: { ...preprocessingRecord(size, channels ?? 1), window, frames },
      images: all,
    };
  }

  const salt = patientSalt(opts.saltFile ?? process.env.MEDSYNTH_DICOM_SALT_FILE, saltHash);
  const patientIds = rawPatientIds.map((pid) => (pid === null ? null : 'p-' + createHash('sha256').update(salt).update(pid).digest('hex').slice(0, 16)));
  rawPatientIds.length = 0;
  if (ids.length === 0) throw new DatasetError(`${root}: only a DICOMDIR index, no DICOM image files; pass the folder that holds the images`);
  if (unlabelled.length > 0) {
    throw new DatasetError(
      `${labels!.file}: ${unlabelled.length} DICOM file(s) have no row for their ${labels!.key}, e.g. ${unlabelled[0]}; add rows for them or move the files out of the folder`,
    );
  }
  const withPid = patientIds.filter((p) => p !== null).length;
  if (withPid > 0 && withPid < patientIds.length) {
    throw new DatasetError(
      `${root}: ${patientIds.length - withPid} image(s) have no PatientID (0010,0020) while others do; the patient is the privacy unit, so every file needs one`,
    );
  }

  const fingerprint = hash.digest('hex');
  const cacheDir = resolveCacheDir(opts.cacheDir);
  const key = cacheDir ? cacheKey(fingerprint, { adapter: 'dicom', size, channels: opts.channels, frames, window: fallback, jsDecoder: jsDecoderVersion() }) : null;
  const hit = cacheDir && key ? cacheGet(cacheDir, key) : null;
  const pixels = hit && hit.n === ids.length ? hit : decodeAll();
  if (cacheDir && key && pixels !== hit) cachePut(cacheDir, key, pixels);

  const header = ['sex', 'age', ...(opts.site ? ['site'] : [])];
  const { attributes } = buildAttributes(header, attrRows, { bins: opts.bins, attributes: opts.attributes }, `${root} (DICOM tags)`);
  const maxLabel = labelOf.reduce((m, l) => Math.max(m, l), 0);
  const labelNames = labels
    ? Array.from({ length: maxLabel + 1 }, (_, k) => labels.names.get(k) ?? `class_${k}`)
    : ['unlabelled'];
  return {
    name: basename(resolve(root)),
    source: {
      kind: 'dicom',
      path: opts.path,
      fingerprint,
      preprocessing: pixels.preprocessing,
      sourceDims: pixels.sourceDims,
      tags: tagKeys.map(([keyword, tag]) => ({ keyword, tag, missing: missing.get(keyword)! })),
    },
    n: pixels.n,
    height: size,
    width: size,
    channels: pixels.channels,
    bitDepth: pixels.bitDepth,
    images: pixels.images,
    labels: Int32Array.from(labelOf),
    labelNames,
    attributes,
    ...(withPid > 0 ? { patientIds: patientIds as string[] } : {}),
    ids,
  };
}
