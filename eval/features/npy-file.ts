/**
 * `FILE.npy`: the user's own features, one row per image: first every image of the real dataset in the
 * order medsynth loads it (manifest order; for a MedMNIST .npz the train, val, then test arrays), then
 * every synthetic image in manifest order. Shape [n_real + n_synthetic, D], any numeric dtype the
 * .npy reader accepts (datasets/npy.ts); values are used as float32. Nothing is fitted by medsynth.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseNpy } from '../../datasets/npy.js';
import { ConfigError } from '../../src/core/errors.js';
import type { FeatureSet } from './types.js';

export function npyFileFeatures(path: string, counts: { real: number; synthetic: number }): FeatureSet {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`--features ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  }
  const arr = parseNpy(bytes, path);
  const rows = counts.real + counts.synthetic;
  if (arr.shape.length !== 2) {
    throw new ConfigError(`--features ${path}: expected a 2-D array [${rows}, D] (real rows, then synthetic rows), got shape (${arr.shape.join(', ')})`);
  }
  const [n, d] = arr.shape as [number, number];
  if (n !== rows || d < 1) {
    throw new ConfigError(
      `--features ${path}: has ${n} rows of ${d} features; expected ${rows} rows = ${counts.real} real images (load order) + ${counts.synthetic} synthetic images (manifest order)`,
    );
  }
  const data = Float32Array.from(arr.data as ArrayLike<number>);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new ConfigError(`--features ${path}: row ${Math.floor(bad / d)} has a non-finite value (${data[bad]}); remove NaN/Inf before evaluating`);
  }
  return {
    real: { data: data.slice(0, counts.real * d), n: counts.real, d },
    synthetic: { data: data.slice(counts.real * d), n: counts.synthetic, d },
    info: {
      name: `file:${basename(path)}`,
      preprocessing: 'user-supplied features, used as given (cast to float32); rows: the real dataset in load order, then the synthetic set in manifest order',
      fittedOn: 'not fitted by medsynth (user-supplied)',
      dim: d,
      details: { path, sha256: createHash('sha256').update(bytes).digest('hex'), dtype: arr.dtype, shape: arr.shape },
    },
  };
}
