/**
 * Shared by the sample-quality benchmarks (cvae-quality.ts, gan-quality.ts, private-generators.ts): the CLI
 * as a subprocess, a run's real split and reproducing train command, row selection, the machine line of a
 * results section, and the class × group sample grid.
 * The CLI runs as a subprocess, so the benchmarks import no model code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { encodePng } from '../../datasets/image/encode.js';
import { imageLength, type ImageDataset } from '../../datasets/dataset.js';
import type { BackendInfo } from '../../src/backend/index.js';
import { tileImages } from '../../src/core/grid.js';

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
  const g = tileImages(cells, { perRow: cols, size, channels });
  writeFileSync(path, encodePng(g.pixels, g.width, g.height, channels, 8));
}

/** The `medsynth train` command line that reproduces a run.json (its resolved config). */
export function equivalentTrainCommand(cfg: Record<string, any>, dataName: string): string {
  const args = ['train', '--model', cfg.model, '--data', dataName, '--out', 'RUN', '--size', String(cfg.size), '--condition', cfg.condition.join(','), '--epochs', String(cfg.epochs), '--batch-size', String(cfg.batchSize), '--seed', String(cfg.seed), '--split-seed', String(cfg.splitSeed)];
  if (cfg.channels) args.push('--channels', String(cfg.channels));
  if (cfg.bins && Object.keys(cfg.bins).length) args.push('--bins', `'${Object.entries(cfg.bins as Record<string, number[]>).map(([k, e]) => `${k}=${e.join(',')}`).join(';')}'`);
  if (cfg.attributes) args.push('--attributes', cfg.attributes.join(','));
  if (cfg.generator && Object.keys(cfg.generator).length) args.push('--model-config', `'${JSON.stringify(cfg.generator)}'`);
  if (cfg.initFrom) args.push('--init-from', 'PRETRAINED');
  const dp = cfg.dp;
  if (dp) {
    args.push('--dp', ...(dp.calibrated ? ['--target-epsilon', String(dp.targetEpsilon)] : ['--noise-multiplier', String(dp.noiseMultiplier)]), '--delta', String(dp.delta), '--max-grad-norm', String(dp.clipNorm), '--accountant', dp.accountant, '--privacy-unit', dp.unit);
  } else if (cfg.model === 'dpgan') args.push('--no-dp');
  return `medsynth ${args.join(' ')}`;
}

/**
 * The dataset rows of a run's train and test splits, from the run's own splits.csv (`id,split`; ids may
 * contain commas, the split is after the last one), in dataset order.
 */
export function runSplitIndices(run: string, ds: ImageDataset): { train: number[]; test: number[] } {
  const splitOf = new Map(
    readFileSync(join(run, 'splits.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => {
        const at = l.lastIndexOf(',');
        return [l.slice(0, at), l.slice(at + 1)] as const;
      }),
  );
  const train: number[] = [];
  const test: number[] = [];
  ds.ids.forEach((id, i) => {
    const s = splitOf.get(id);
    if (s === 'train') train.push(i);
    else if (s === 'test') test.push(i);
  });
  return { train, test };
}
