/**
 * Speed of `medsynth metrics` (issue 8's benchmark): FID, KID and precision / recall / density / coverage on
 * 10 000 real × 10 000 synthetic 64-d features, end to end as a user runs it. Target: ≤ 30 s.
 *
 *   npm run bench:metrics -- [--n 10000] [--d 64] [--repeats 3] [--seed 1] [--no-peer] [--json] [--write]
 *
 * The features are seeded Gaussians (real N(0, I); synthetic N(0.05, 1.1²) per coordinate, so no metric is
 * trivially 0 or 1), written as float32 .npy files to a temporary folder. Each repeat spawns the built CLI,
 * `node dist/src/cli/bin.js metrics --real … --synthetic … --json` (default settings: k = 5, 100 KID subsets
 * of 1000), and times the whole process; the per-part times come from the command's own JSON. The numpy
 * peer (eval/bench/metrics_peer.py: the same metrics by numpy matmul, eigh and partition) runs on the same
 * files right after, when /usr/bin/python3 (or python3) can import numpy. Reported: the median and the
 * fastest of the repeats, the load average around the run (the machine is shared), and both tools' values.
 * `--write` writes eval/results/metrics.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { Rng } from '../../src/core/rng.js';

const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const PEER = fileURLToPath(new URL('../../../eval/bench/metrics_peer.py', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../../eval/results/metrics.md', import.meta.url));
const TARGET_SECONDS = 30;

interface Parts {
  read: number;
  fid: number;
  kid: number;
  prdc: number;
}

interface Values {
  fid: number;
  kid: { mean: number; std: number };
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}

interface CliRun extends Values {
  total: number;
  /** CPU seconds of the process (null without GNU time). */
  cpu: number | null;
  parts: Parts;
  backend: { name: string; version: string; threads: number | null; native: { library: string; version: string } | null };
}

/** A float32 C-order .npy, format 1.0. */
function writeNpy(path: string, n: number, d: number, data: Float32Array): void {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function features(n: number, d: number, rng: Rng, shift: number, scale: number): Float32Array {
  return Float32Array.from({ length: n * d }, () => shift + scale * rng.normal());
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Runs a command to completion: its output, wall seconds and, when GNU time is installed, its CPU seconds
 * (user + system over all threads; less sensitive than wall time to the other jobs on a shared machine).
 */
function timedSpawn(cmd: string, args: string[], dir: string, env?: NodeJS.ProcessEnv) {
  const cpuFile = join(dir, 'cpu.txt');
  const useTime = existsSync(GNU_TIME);
  const t0 = performance.now();
  const r = useTime
    ? spawnSync(GNU_TIME, ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 })
    : spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const wall = (performance.now() - t0) / 1000;
  let cpu: number | null = null;
  if (useTime && existsSync(cpuFile)) {
    const [u, sys] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    cpu = u! + sys!;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, wall, cpu };
}

function runCliOnce(real: string, synthetic: string, dir: string): CliRun {
  const env = { ...process.env, MEDSYNTH_BACKEND: process.env.MEDSYNTH_BACKEND ?? '' };
  const r = timedSpawn(process.execPath, [BIN, 'metrics', '--real', real, '--synthetic', synthetic, '--json'], dir, env);
  if (r.status !== 0) throw new Error(`medsynth metrics failed (exit ${r.status}): ${r.stderr.trim()}`);
  const j = JSON.parse(r.stdout);
  return {
    total: r.wall,
    cpu: r.cpu,
    parts: { read: j.readSeconds, fid: j.seconds.fid, kid: j.seconds.kid, prdc: j.seconds.prdc },
    backend: j.backend,
    fid: j.fid,
    kid: j.kid,
    precision: j.precision,
    recall: j.recall,
    density: j.density,
    coverage: j.coverage,
  };
}

function findPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function runPeer(py: string, real: string, synthetic: string, dir: string): (Values & { total: number; cpu: number | null; parts: Parts; numpy: string }) | null {
  const r = timedSpawn(py, [PEER, real, synthetic], dir);
  if (r.status !== 0) {
    process.stderr.write(`numpy peer failed (exit ${r.status}): ${r.stderr.trim()}\n`);
    return null;
  }
  const j = JSON.parse(r.stdout);
  return { ...j, total: r.wall, cpu: r.cpu, parts: j.seconds };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('bench:metrics')
    .option('--n <count>', 'rows in each set', '10000')
    .option('--d <dims>', 'feature dimension', '64')
    .option('--repeats <count>', 'CLI runs to time', '3')
    .option('--seed <int>', 'seed of the features', '1')
    .option('--no-peer', 'skip the numpy peer')
    .option('--json', 'print JSON', false)
    .option('--write', 'write eval/results/metrics.md', false);
  program.parse(argv);
  const o = program.opts<{ n: string; d: string; repeats: string; seed: string; peer: boolean; json: boolean; write: boolean }>();
  const n = Number(o.n);
  const d = Number(o.d);
  const repeats = Number(o.repeats);
  const say = (s: string) => process.stderr.write(`${s}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'medsynth-bench-metrics-'));
  try {
    const rng = new Rng(Number(o.seed));
    const real = join(dir, 'real.npy');
    const synthetic = join(dir, 'synthetic.npy');
    writeNpy(real, n, d, features(n, d, rng.derive('real'), 0, 1));
    writeNpy(synthetic, n, d, features(n, d, rng.derive('synthetic'), 0.05, 1.1));
    const loads = [loadavg()[0]!];
    const runs: CliRun[] = [];
    for (let i = 0; i < repeats; i++) {
      const r = runCliOnce(real, synthetic, dir);
      runs.push(r);
      loads.push(loadavg()[0]!);
      say(`medsynth metrics run ${i + 1}/${repeats}: ${r.total.toFixed(2)} s, CPU ${r.cpu?.toFixed(2) ?? '-'} s (read ${r.parts.read.toFixed(2)}, FID ${r.parts.fid.toFixed(2)}, KID ${r.parts.kid.toFixed(2)}, PRDC ${r.parts.prdc.toFixed(2)})`);
    }
    const py = o.peer ? findPython() : null;
    if (o.peer && !py) say('numpy peer skipped: no python3 can import numpy');
    const peer = py ? runPeer(py, real, synthetic, dir) : null;
    loads.push(loadavg()[0]!);
    if (peer) say(`numpy peer: ${peer.total.toFixed(2)} s, CPU ${peer.cpu?.toFixed(2) ?? '-'} s (FID ${peer.parts.fid.toFixed(2)}, KID ${peer.parts.kid.toFixed(2)}, PRDC ${peer.parts.prdc.toFixed(2)})`);
    const summary = {
      n,
      d,
      repeats,
      medianSeconds: median(runs.map((r) => r.total)),
      fastestSeconds: Math.min(...runs.map((r) => r.total)),
      targetSeconds: TARGET_SECONDS,
      loadAverage: { min: Math.min(...loads), max: Math.max(...loads) },
      runs,
      peer,
    };
    if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    else say(`median ${summary.medianSeconds.toFixed(2)} s, fastest ${summary.fastestSeconds.toFixed(2)} s (target ≤ ${TARGET_SECONDS} s)`);
    if (o.write) writeResults(summary, py);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeResults(
  s: { n: number; d: number; repeats: number; medianSeconds: number; fastestSeconds: number; loadAverage: { min: number; max: number }; runs: CliRun[]; peer: ReturnType<typeof runPeer> },
  py: string | null,
): void {
  const byTotal = [...s.runs].sort((a, b) => a.total - b.total);
  const med = byTotal[(byTotal.length - 1) >> 1]!; // the median run (lower middle for even counts)
  const b = med.backend;
  const backend = `${b.name} ${b.version}, ${b.threads ?? '-'} thread(s)${b.native ? `, native ${b.native.library} ${b.native.version} matmul` : ''}`;
  const f = (x: number, digits = 2) => x.toFixed(digits);
  const p = s.peer;
  const startup = (r: { total: number; parts: Parts }) => r.total - r.parts.read - r.parts.fid - r.parts.kid - r.parts.prdc;
  const rows = [
    ['read both .npy files', f(med.parts.read), p ? f(p.parts.read) : '-'],
    ['FID (covariances, 2 eigendecompositions)', f(med.parts.fid), p ? f(p.parts.fid) : '-'],
    ['KID (100 subsets of 1000)', f(med.parts.kid), p ? f(p.parts.kid) : '-'],
    ['PRDC (k = 5; N×N, M×M, N×M distances)', f(med.parts.prdc), p ? f(p.parts.prdc) : '-'],
    ['process start, backend start, output', f(startup(med)), p ? f(startup(p)) : '-'],
    ['**total, end to end**', `**${f(med.total)}**`, p ? `**${f(p.total)}**` : '-'],
    ['CPU seconds of the process (user + system, all threads)', med.cpu === null ? '-' : f(med.cpu), p?.cpu == null ? '-' : f(p.cpu)],
  ];
  const values = (v: Values) => [f(v.fid, 5), `${v.kid.mean.toExponential(3)} ± ${v.kid.std.toExponential(2)}`, f(v.precision, 4), f(v.recall, 4), f(v.density, 4), f(v.coverage, 4)];
  const lines = [
    '# `medsynth metrics` speed: 10 000 × 10 000 features of 64 dimensions',
    '',
    'Produced by `npm run bench:metrics -- --write` (eval/bench/metrics.ts). Seeded Gaussian features (real N(0, I),',
    'synthetic N(0.05, 1.1²)) written as float32 .npy; each repeat spawns the built CLI',
    '`medsynth metrics --real real.npy --synthetic synthetic.npy --json` with its defaults (k = 5, 100 KID subsets of',
    '1000, seed 2020) and times the whole process. Part times are the command\'s own (`seconds` in its JSON). The numpy',
    'peer (eval/bench/metrics_peer.py) ran on the same files right after.',
    '',
    `- date: ${new Date().toISOString().slice(0, 10)}`,
    `- CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, shared with other jobs: 1-minute load average ${f(s.loadAverage.min, 1)}–${f(s.loadAverage.max, 1)} during the run`,
    `- node ${process.version}; medsynth backend: ${backend}`,
    `- numpy peer: ${p ? `numpy ${p.numpy} (${py}), default BLAS threads` : 'not run'}`,
    `- ${s.n} real × ${s.n} synthetic rows, d = ${s.d}; ${s.repeats} repeats, median run ${f(s.medianSeconds)} s, fastest ${f(s.fastestSeconds)} s`,
    '',
    `Target ≤ ${TARGET_SECONDS} s: **${s.medianSeconds <= TARGET_SECONDS ? 'met' : 'missed'}** (median run, ${f(s.medianSeconds)} s).`,
    '',
    'The 2 cores were shared with other jobs (trainings) during the run, at the load average above: wall times are',
    'noisy and longer than on a quiet machine. The CPU-seconds row is the steadier measure of the work done.',
    '',
    '| part | medsynth s (median run) | numpy s |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'All runs (s): ' + s.runs.map((r) => `${f(r.total)} (FID ${f(r.parts.fid)}, KID ${f(r.parts.kid)}, PRDC ${f(r.parts.prdc)})`).join('; '),
    '',
    '| tool | FID | KID | precision | recall | density | coverage |',
    '|---|---|---|---|---|---|---|',
    `| medsynth | ${values(med).join(' | ')} |`,
    ...(p ? [`| numpy | ${values(p).join(' | ')} |`] : []),
    '',
    'KID subsets are drawn by each tool\'s own generator, so the two KIDs agree within their std, not exactly. PRDC counts',
    'can differ in a handful of pairs at the ball boundaries (both compute float32 distances, in different orders).',
    '',
  ];
  writeFileSync(RESULTS, lines.join('\n'));
  process.stderr.write(`wrote ${RESULTS}\n`);
}

main(process.argv).catch((err) => {
  process.stderr.write(`bench:metrics: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
