/**
 * Benchmark: dataset loading with the pure-JS decoders (the baseline: jpeg-js, pngjs; then the same path
 * with libjpeg-turbo for JPEG, its decoder since 2026-12-05: native through the addon when built with it,
 * else WebAssembly), with sharp, and
 * from the decoded-pixel cache, on
 *   1. the HAM10000 subset (3000 × 224×224 RGB JPEG) at 64 px;
 *   2. a large folder: 500 2048×2048 16-bit grey PNGs, generated here in a temporary folder (smooth
 *      anatomy-like gradients plus noise in the low bits, so they compress like real radiographs) and
 *      removed afterwards; at 64 px.
 * Every configuration runs in this process, one after the other, so the baseline and the new paths share
 * the machine's state; the load average is printed before and after. The cache runs use a temporary
 * cache folder (never the project).
 * Temporary folders are named medsynth-bench-{cache,large}-<pid>-*: they are removed when the benchmark ends
 * or is stopped by SIGINT/SIGTERM (130/143), and a later run removes any left by a process that no longer
 * exists (killed with -9, or stopped inside a synchronous load, where no handler can run).
 *
 *   npm run build && npm run bench:load -- [--ham DIR] [--large-n 500] [--large-side 2048] [--skip-large] [--skip-baseline-large]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import sharp from 'sharp';
import { nativeJpegPath } from '../../datasets/image/libjpeg.js';
import { loadDataset } from '../../datasets/load.js';
import { otherProcessAlive } from '../../src/core/fs.js';
import { Rng } from '../../src/core/rng.js';

const TEMP_PREFIX = /^medsynth-bench-(cache|large)-(\d+)-/;
/** This run's temporary folders, removed on exit or on a signal. */
const temporary = new Set<string>();

/** A new temporary folder named medsynth-bench-<kind>-<pid>-*, registered for removal. */
function makeTemp(kind: 'cache' | 'large'): string {
  const dir = mkdtempSync(join(tmpdir(), `medsynth-bench-${kind}-${process.pid}-`));
  temporary.add(dir);
  return dir;
}

function removeTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  temporary.delete(dir);
}

/** Removes the temporary folders of earlier runs whose process is gone; returns how many. */
export function sweepStaleTemp(root = tmpdir()): number {
  let removed = 0;
  for (const name of readdirSync(root)) {
    const m = TEMP_PREFIX.exec(name);
    if (!m || Number(m[2]) === process.pid || otherProcessAlive(Number(m[2]))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'medsynth') return d;
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the medsynth repository root above this script');
    d = up;
  }
}

interface Row {
  data: string;
  path: 'pure-JS, jpeg-js (baseline)' | 'pure-JS, libjpeg-turbo wasm' | 'pure-JS, libjpeg-turbo native' | 'sharp' | 'cache hit';
  images: number;
  seconds: number;
}

function time(data: string, path: Row['path'], load: () => { n: number }): Row {
  const t0 = process.hrtime.bigint();
  const ds = load();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const row = { data, path, images: ds.n, seconds };
  process.stdout.write(JSON.stringify({ ...row, seconds: +seconds.toFixed(2), loadavg: loadavg().map((x) => +x.toFixed(2)) }) + '\n');
  return row;
}

/** The three paths on one dataset: pure-JS, sharp, then the cache (a cold load to fill it, then a timed hit). */
function runAll(label: string, path: string, size: number, skipBaseline = false, jpeg = false): Row[] {
  const rows: Row[] = [];
  const cache = makeTemp('cache');
  try {
    if (!skipBaseline) {
      process.env.MEDSYNTH_DECODER = 'js';
      process.env.MEDSYNTH_JPEG_DECODER = 'jpeg-js';
      rows.push(time(label, 'pure-JS, jpeg-js (baseline)', () => loadDataset({ path, size, cacheDir: null })));
      delete process.env.MEDSYNTH_JPEG_DECODER;
      // The portable path's JPEG decoder: the addon's native libjpeg-turbo when built with it, else wasm.
      if (jpeg) rows.push(time(label, `pure-JS, libjpeg-turbo ${nativeJpegPath() ? 'native' : 'wasm'}`, () => loadDataset({ path, size, cacheDir: null })));
    }
    delete process.env.MEDSYNTH_JPEG_DECODER;
    process.env.MEDSYNTH_DECODER = 'sharp';
    rows.push(time(label, 'sharp', () => loadDataset({ path, size, cacheDir: null })));
    loadDataset({ path, size, cacheDir: cache }); // fills the cache (sharp decode + write)
    rows.push(time(label, 'cache hit', () => loadDataset({ path, size, cacheDir: cache })));
  } finally {
    delete process.env.MEDSYNTH_DECODER;
    removeTemp(cache);
  }
  return rows;
}

/** Writes `n` side×side 16-bit grey PNGs and a manifest into a new temporary folder. */
async function makeLargeFolder(n: number, side: number): Promise<string> {
  const dir = makeTemp('large');
  const rng = new Rng(7);
  const lines = ['path,label'];
  const px = new Uint16Array(side * side);
  const sx = new Float64Array(side);
  const sy = Float64Array.from({ length: side }, (_, y) => 12000 * Math.sin(y / 53));
  for (let i = 0; i < n; i++) {
    const cx = side * (0.4 + 0.2 * rng.uniform());
    const r = side * (0.25 + 0.1 * rng.uniform());
    for (let x = 0; x < side; x++) sx[x] = Math.sin(x / 37 + i);
    for (let y = 0; y < side; y++) {
      const dy2 = (y - side / 2) ** 2;
      for (let x = 0; x < side; x++) {
        const d = Math.sqrt((x - cx) ** 2 + dy2) / r;
        const body = d < 1 ? 30000 + 20000 * (1 - 1.125 * d * d) : 8000 + 4 * y;
        px[y * side + x] = Math.min(65535, Math.max(0, Math.round(body + sx[x]! * sy[y]!) + ((x * 7 + y * 13 + i) & 63)));
      }
    }
    const png = await sharp(Buffer.from(px.buffer), { raw: { width: side, height: side, channels: 1 } as never })
      .toColourspace('grey16')
      .png({ compressionLevel: 6 })
      .toBuffer()
      .catch(async () =>
        // older sharp: raw 16-bit input through a 16-bit PNG is the same bytes
        sharp(Buffer.from(px.buffer), { raw: { width: side, height: side, channels: 1, depth: 'ushort' } as never }).toColourspace('grey16').png().toBuffer(),
      );
    writeFileSync(join(dir, `img${String(i).padStart(4, '0')}.png`), png);
    lines.push(`img${String(i).padStart(4, '0')}.png,${i % 2}`);
  }
  writeFileSync(join(dir, 'manifest.csv'), lines.join('\n') + '\n');
  return dir;
}

interface Options {
  ham?: string;
  largeN: string;
  largeSide: string;
  skipLarge: boolean;
  skipBaselineLarge: boolean;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`load: ${name} ${value}: give a whole number of at least 1\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const o = new Command('bench:load')
    .description('dataset loading: pure-JS decoders vs sharp vs the decoded cache, on HAM10000 and a generated folder of large 16-bit PNGs (JSON lines, then a table)')
    .option('--ham <dir>', 'the HAM10000 folder (default: ../shared/data/ham10000-224 beside the repository; skipped when absent)')
    .option('--large-n <n>', 'generated 16-bit PNGs', '500')
    .option('--large-side <px>', 'their side in pixels', '2048')
    .option('--skip-large', 'skip the generated folder', false)
    .option('--skip-baseline-large', 'skip the pure-JS decoder on the generated folder (the slowest row)', false)
    .addHelpText('after', '\nExample:\n  npm run bench:load -- --large-n 50 --large-side 1024')
    .parse(process.argv)
    .opts<Options>();
  const ham = o.ham ?? resolve(repoRoot(), '../shared/data/ham10000-224');
  const largeN = positiveInt('--large-n', o.largeN);
  const largeSide = positiveInt('--large-side', o.largeSide);
  const stale = sweepStaleTemp();
  if (stale) process.stderr.write(`load: removed ${stale} temporary folder(s) left by earlier runs that were killed\n`);
  const onSignal = (sig: NodeJS.Signals) => {
    for (const dir of [...temporary]) removeTemp(dir);
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.write(
    JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, loadavg: loadavg() }) + '\n',
  );
  const rows: Row[] = [];
  if (existsSync(join(ham, 'manifest.csv'))) rows.push(...runAll('HAM10000 3000 JPEG 224² → 64', ham, 64, false, true));
  else process.stderr.write(`load: ${ham}/manifest.csv not found; HAM10000 skipped\n`);
  if (!o.skipLarge) {
    const t0 = Date.now();
    const dir = await makeLargeFolder(largeN, largeSide);
    process.stdout.write(JSON.stringify({ generated: largeN, side: largeSide, seconds: (Date.now() - t0) / 1000 }) + '\n');
    try {
      rows.push(...runAll(`${largeN} PNG 16-bit ${largeSide}² → 64`, dir, 64, o.skipBaselineLarge));
    } finally {
      removeTemp(dir);
    }
  }
  process.stdout.write('\n| data | path | images | seconds | images/s | speed-up vs baseline |\n|---|---|---|---|---|---|\n');
  for (const r of rows) {
    const base = rows.find((b) => b.data === r.data && b.path === 'pure-JS, jpeg-js (baseline)');
    const speed = base ? `${(base.seconds / r.seconds).toFixed(1)}×` : 'n/a';
    process.stdout.write(`| ${r.data} | ${r.path} | ${r.images} | ${r.seconds.toFixed(2)} | ${(r.images / r.seconds).toFixed(0)} | ${speed} |\n`);
  }
  process.stdout.write(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
}

void main();
