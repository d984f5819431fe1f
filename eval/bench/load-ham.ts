/**
 * Benchmark: load the HAM10000 subset (3000 × 224×224 JPEG) at 64×64 RGB with the folder-csv adapter
 * and report the wall-clock time. The loader is single-threaded; to hold the process to one core run it
 * under `taskset -c 0`:
 *
 *   npx tsc -p tsconfig.build.json
 *   taskset -c 0 node dist/eval/bench/load-ham.js [data-folder] [--size 64] [--runs 3]
 *
 * Default data folder: ../shared/data/ham10000-224 beside the repository. Prints one JSON line per run
 * and a Markdown table row for eval/results/load.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFolderCsv } from '../../datasets/folder-csv/index.js';

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

function main(): void {
  const args = process.argv.slice(2);
  let size = 64;
  let runs = 1;
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--size') size = Number(args[++i]);
    else if (args[i] === '--runs') runs = Number(args[++i]);
    else path = args[i];
  }
  const data = path ?? resolve(repoRoot(), '../shared/data/ham10000-224');
  if (!existsSync(join(data, 'manifest.csv'))) {
    process.stderr.write(`load-ham: ${data}/manifest.csv not found; pass the HAM10000 folder as the first argument\n`);
    process.exitCode = 2;
    return;
  }
  const times: number[] = [];
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const ds = loadFolderCsv({ path: data, size });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    n = ds.n;
    times.push(seconds);
    process.stdout.write(
      JSON.stringify({ run: r + 1, images: ds.n, size, channels: ds.channels, seconds: +seconds.toFixed(3), imagesPerSecond: +(ds.n / seconds).toFixed(1) }) + '\n',
    );
  }
  const best = Math.min(...times);
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  process.stdout.write(
    `| ${new Date().toISOString().slice(0, 10)} | ${cpus()[0]?.model ?? 'unknown'} | ${availableParallelism()} | ${process.version} | ${n} | ${size}×${size} | ${median.toFixed(2)} | ${best.toFixed(2)} | ${(n / median).toFixed(0)} |\n`,
  );
}

main();
