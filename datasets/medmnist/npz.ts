/**
 * The `medmnist-npz` adapter: a MedMNIST-style `.npz` file (a zip of `.npy` arrays, as written by
 * `numpy.savez` / `numpy.savez_compressed`) with the keys `<split>_images` and `<split>_labels` for the
 * splits `train`, `val` and `test` (MedMNIST v2 layout; Yang et al., Scientific Data 10, 41, 2023).
 *
 * - Images: [N, H, W] or [N, H, W, 1] (grey) or [N, H, W, 3] (RGB); uint8 (8-bit) or uint16 (16-bit)
 *   scaled by 1 / (2^bits − 1); float32/float64 arrays are taken as already in [0, 1].
 * - Labels: [N] or [N, 1] non-negative integers; [N, K] with K > 1 (multi-label) is refused.
 * - `val` becomes the `holdout` source split. Images are cropped/resized/converted with the same code as
 *   the folder adapter (datasets/image/resize.ts).
 * - Splits whose two arrays are both absent are skipped; at least one split must be present.
 * - ids are `npz:<key prefix>:<index>`, e.g. `npz:train:123`, `npz:val:5` (the array and row they came
 *   from). No attributes, no patient ids (MedMNIST has none).
 * - Fingerprint: sha256 of the `.npz` file bytes (the file is the whole dataset).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { unzipSync } from 'fflate';
import type { ImageDataset, SplitName } from '../dataset.js';
import { DatasetError, oneLine } from '../../src/core/errors.js';
import { checkLoadOptions, fsErrorReason, limitIndices, preprocessingRecord, type LoadOptions } from '../folder-csv/index.js';
import { toSquare } from '../image/resize.js';
import { parseNpy, type NpyArray } from '../npy.js';
import type { DecodedImage } from '../image/decode.js';

const SPLITS: ReadonlyArray<{ key: 'train' | 'val' | 'test'; split: SplitName }> = [
  { key: 'train', split: 'train' },
  { key: 'val', split: 'holdout' },
  { key: 'test', split: 'test' },
];

interface SplitArrays {
  key: 'train' | 'val' | 'test';
  split: SplitName;
  images: NpyArray;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** Loads a MedMNIST `.npz` file. */
export function loadMedmnistNpz(opts: LoadOptions): ImageDataset {
  checkLoadOptions(opts);
  const file = opts.path;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DatasetError(`${file}: cannot read the .npz file (${fsErrorReason(err)}); check the path and its permissions`);
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DatasetError(
      oneLine(`${file}: not a readable .npz (zip) archive (${why}); re-download it or re-create it with numpy.savez_compressed`),
    );
  }
  const keys = Object.keys(entries).map((k) => k.replace(/\.npy$/, ''));
  const entry = (key: string): Uint8Array | undefined => entries[`${key}.npy`] ?? entries[key];

  const parts: SplitArrays[] = [];
  for (const { key, split } of SPLITS) {
    const imgBytes = entry(`${key}_images`);
    const lblBytes = entry(`${key}_labels`);
    if (!imgBytes && !lblBytes) continue;
    if (!imgBytes || !lblBytes) {
      const missing = imgBytes ? `${key}_labels` : `${key}_images`;
      throw new DatasetError(`${file}: has ${imgBytes ? `${key}_images` : `${key}_labels`} but no ${missing}; the archive is incomplete, re-create it`);
    }
    parts.push(readSplit(file, key, split, imgBytes, lblBytes));
  }
  if (parts.length === 0) {
    throw new DatasetError(
      `${file}: no train_images/train_labels, val_… or test_… arrays (found: ${keys.join(', ') || 'nothing'}); this is not a MedMNIST .npz file`,
    );
  }
  const mixed = parts.find((p) => p.channels !== parts[0]!.channels);
  if (mixed && opts.channels === undefined) {
    throw new DatasetError(
      `${file}: ${parts[0]!.key}_images is ${parts[0]!.channels === 1 ? 'grey' : 'colour'} but ${mixed.key}_images is ${mixed.channels === 1 ? 'grey' : 'colour'}; pass --channels 1 or --channels 3 to convert them all`,
    );
  }
  const channels: 1 | 3 = opts.channels ?? parts[0]!.channels;
  const bitDepth: 8 | 16 = parts.some((p) => p.images.dtype === '<u2') ? 16 : 8;

  // Flat (part, row) list in file order, then the evenly spaced limit.
  const all: Array<[SplitArrays, number]> = [];
  for (const p of parts) for (let r = 0; r < p.n; r++) all.push([p, r]);
  if (all.length === 0) throw new DatasetError(`${file}: all image arrays are empty (0 images); use a file with images`);
  const picked = limitIndices(all.length, opts.limit).map((i) => all[i]!);

  const size = opts.size;
  const n = picked.length;
  const outLen = size * size * channels;
  const images = new Float32Array(n * outLen);
  const labels = new Int32Array(n);
  const ids: string[] = [];
  const sourceSplits: SplitName[] = [];
  picked.forEach(([p, r], i) => {
    images.set(toSquare(imageOf(p, r), size, channels), i * outLen);
    labels[i] = p.labels[r]!;
    ids.push(`npz:${p.key}:${r}`);
    sourceSplits.push(p.split);
  });
  const maxLabel = labels.reduce((m, v) => Math.max(m, v), 0);
  const stem = basename(file, extname(file));

  return {
    name: stem,
    source: {
      kind: 'medmnist-npz',
      path: opts.path,
      fingerprint: createHash('sha256').update(bytes).digest('hex'),
      preprocessing: preprocessingRecord(size, channels),
      sourceDims: { width: [parts[0]!.width, parts[0]!.width], height: [parts[0]!.height, parts[0]!.height] },
    },
    n,
    height: size,
    width: size,
    channels,
    bitDepth,
    images,
    labels,
    labelNames: Array.from({ length: maxLabel + 1 }, (_, k) => `class_${k}`),
    attributes: [],
    ids,
    sourceSplits,
  };
}

function readSplit(
  file: string,
  key: 'train' | 'val' | 'test',
  split: SplitName,
  imgBytes: Uint8Array,
  lblBytes: Uint8Array,
): SplitArrays {
  const imgName = `${file}:${key}_images`;
  const lblName = `${file}:${key}_labels`;
  const images = parseNpy(imgBytes, imgName);
  const labelsArr = parseNpy(lblBytes, lblName);

  const s = images.shape;
  let channels: 1 | 3;
  if (s.length === 3 || (s.length === 4 && s[3] === 1)) channels = 1;
  else if (s.length === 4 && s[3] === 3) channels = 3;
  else {
    throw new DatasetError(
      `${imgName}: shape (${s.join(', ')}) is not [N, H, W] (grey) or [N, H, W, 3] (RGB); 3-D volumes and other layouts are not supported`,
    );
  }
  const [n, height, width] = s as [number, number, number];
  if (n > 0 && !(height > 0 && width > 0)) throw new DatasetError(`${imgName}: images of size ${width}x${height}; use non-empty images`);
  if (!['|u1', '<u2', '<f4', '<f8'].includes(images.dtype)) {
    throw new DatasetError(`${imgName}: dtype ${images.dtype} is not supported for images; store them as uint8, uint16 or float in [0, 1]`);
  }
  if (images.dtype === '<f4' || images.dtype === '<f8') {
    const d = images.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (!(v >= 0 && v <= 1)) {
        throw new DatasetError(`${imgName}: float pixel value ${v} at element ${i} is outside [0, 1]; scale the images to [0, 1] or store them as uint8`);
      }
    }
  }

  const ls = labelsArr.shape;
  if (ls.length === 2 && ls[1]! > 1) {
    throw new DatasetError(
      `${lblName}: shape (${ls.join(', ')}) holds ${ls[1]} labels per image; multi-label datasets are not supported yet, use a single-label dataset`,
    );
  }
  if (!(ls.length === 1 || (ls.length === 2 && ls[1] === 1))) {
    throw new DatasetError(`${lblName}: shape (${ls.join(', ')}) is not [N] or [N, 1]; store one integer label per image`);
  }
  if (ls[0] !== n) {
    throw new DatasetError(`${lblName}: ${ls[0]} labels for ${n} images in ${key}_images; the two arrays must have the same length`);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labelsArr.data[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= 65535)) {
      throw new DatasetError(`${lblName}: label ${v} at row ${i} is not a whole number from 0 to 65535; use class numbers 0, 1, 2, …`);
    }
    labels[i] = v;
  }
  return { key, split, images, labels, n, height, width, channels };
}

/** Row r of a split as a DecodedImage (floats in [0, 1]). */
function imageOf(p: SplitArrays, r: number): DecodedImage {
  const len = p.height * p.width * p.channels;
  const src = p.images.data;
  const data = new Float32Array(len);
  const off = r * len;
  const scale = p.images.dtype === '|u1' ? 1 / 255 : p.images.dtype === '<u2' ? 1 / 65535 : 1;
  for (let i = 0; i < len; i++) data[i] = src[off + i]! * scale;
  return {
    width: p.width,
    height: p.height,
    channels: p.channels,
    bitDepth: p.images.dtype === '<u2' ? 16 : 8,
    data,
  };
}
