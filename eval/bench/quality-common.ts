/**
 * Shared by the sample-quality benchmarks (cvae-quality.ts, gan-quality.ts): the CLI as a subprocess,
 * row selection, the machine line of a results section, and the class × group sample grid.
 * The CLI runs as a subprocess, so the benchmarks import no model code.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { encodePng } from '../../datasets/image/encode.js';
import { imageLength, type ImageDataset } from '../../datasets/dataset.js';
import type { BackendInfo } from '../../src/backend/index.js';

const BIN = new URL('../../src/cli/bin.js', import.meta.url).pathname;

/** Runs `medsynth ARGS` and returns its stdout; throws with the last stderr line on failure. */
export function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`medsynth ${args[0]} failed: ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout;
}

/** The images of rows `idx` of `ds`, concatenated (NHWC float32). */
export function pick(ds: ImageDataset, idx: number[]): Float32Array {
  const len = imageLength(ds);
  const out = new Float32Array(idx.length * len);
  idx.forEach((s, d) => out.set(ds.images.subarray(s * len, (s + 1) * len), d * len));
  return out;
}

/** "2026-11-22, AMD EPYC (2 cores), backend wasm + native oneDNN". */
export function machineLine(backend: BackendInfo): string {
  return `${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), backend ${backend.name}${backend.native ? ' + native oneDNN' : ''}`;
}

export const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);

/**
 * Writes a PNG grid to `path`: one row per cell (each cell NHWC float32 in [0, 1], `size`² × `channels`
 * per image), the first `cols` images of each cell side by side.
 */
export function saveGrid(path: string | URL, cells: Float32Array[], size: number, channels: 1 | 3, cols = 8): void {
  const len = size * size * channels;
  const img = new Float32Array(cells.length * size * cols * size * channels);
  cells.forEach((cell, r) => {
    for (let c = 0; c < cols && c * len < cell.length; c++) {
      for (let y = 0; y < size; y++) {
        const src = cell.subarray(c * len + y * size * channels, c * len + (y + 1) * size * channels);
        img.set(src, ((r * size + y) * cols * size + c * size) * channels);
      }
    }
  });
  writeFileSync(path, encodePng(img, cols * size, cells.length * size, channels, 8));
}
