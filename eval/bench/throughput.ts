/**
 * Training throughput, medsynth vs PyTorch, on the three architectures of eval/bench/archs.ts.
 *
 *   npm run bench:throughput -- [--json] [--only cvae28,cvae64,gan28] [--seconds 10] [--write]
 *
 * medsynth runs in this process on the chosen backend (default auto → wasm). The PyTorch peer
 * (eval/bench/throughput_torch.py) runs in the same invocation, right after, with torch.set_num_threads(2)
 * and OPENBLAS_NUM_THREADS=1 (its best setting on 2 cores), when a python3 that can `import torch` is
 * found; otherwise its columns are null and the command says how to install it. Nothing is installed here.
 * Debian's python3-torch calls the system BLAS for its linear layers: with only the reference libblas3 its
 * matmuls run ~20× slower (measured: 512×512 matmul 50 ms vs 2.7 ms), so the peer is only fair with
 * libopenblas0-pthread installed; the results file records which BLAS torch loaded.
 * Each side warms up for 5 steps, then times whole steps for at least `--seconds`.
 * `--write` writes eval/results/throughput.md (date, CPU, versions, images/s, ratio).
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { initBackend, resolveBackendChoice, type BackendInfo } from '../../src/backend/index.js';
import { ARCH_NAMES, makeWorkload, type ArchName } from './archs.js';

interface Row {
  medsynth_img_s: number;
  torch_img_s: number | null;
  ratio: number | null;
  backend: string;
  threads: number | null;
  tensors_growth: number;
}

const PYTHONS = ['python3', '/usr/bin/python3'];

function findTorchPython(): string | null {
  for (const py of PYTHONS) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

async function timeMedsynth(name: ArchName, seconds: number): Promise<{ imgS: number; growth: number }> {
  const w = makeWorkload(name, 0);
  try {
    for (let i = 0; i < 5; i++) w.step();
    w.lastLoss(); // sync point: the warm-up is finished
    const before = tf.memory().numTensors;
    let steps = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < seconds * 1000 || steps < 5) {
      w.step();
      steps++;
      w.lastLoss(); // sync point per step, as the peer's loss.backward()/step() are synchronous
      elapsed = performance.now() - t0;
    }
    const loss = w.lastLoss();
    if (!Number.isFinite(loss)) throw new Error(`${name}: loss is ${loss}`);
    return { imgS: (w.images * steps) / (elapsed / 1000), growth: tf.memory().numTensors - before };
  } finally {
    w.dispose();
  }
}

function timeTorch(py: string, only: ArchName[], seconds: number): Record<string, { img_s: number }> & { torch?: string } {
  const script = new URL('../../../eval/bench/throughput_torch.py', import.meta.url);
  const r = spawnSync(py, [script.pathname, '--only', only.join(','), '--seconds', String(seconds), '--threads', '2'], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const program = new Command('bench:throughput')
    .option('--json', 'print JSON only', false)
    .option('--only <names>', `comma-separated subset of ${ARCH_NAMES.join(',')}`, ARCH_NAMES.join(','))
    .option('--seconds <s>', 'timed seconds per architecture and side', '10')
    .option('--backend <name>', 'medsynth backend', undefined)
    .option('--write', 'write eval/results/throughput.md', false)
    .parse(process.argv);
  const opts = program.opts<{ json: boolean; only: string; seconds: string; backend?: string; write: boolean }>();
  const only = opts.only.split(',').map((s) => s.trim()) as ArchName[];
  for (const n of only) if (!(ARCH_NAMES as readonly string[]).includes(n)) throw new Error(`unknown architecture ${n}`);
  const seconds = Number(opts.seconds);
  const backend: BackendInfo = await initBackend(resolveBackendChoice(opts.backend));
  const say = (s: string) => {
    if (!opts.json) process.stderr.write(s + '\n');
  };

  const results: Record<string, Row> = {};
  for (const name of only) {
    say(`medsynth ${name} on ${backend.name} ...`);
    const m = await timeMedsynth(name, seconds);
    results[name] = { medsynth_img_s: m.imgS, torch_img_s: null, ratio: null, backend: backend.name, threads: backend.threads, tensors_growth: m.growth };
  }
  const py = findTorchPython();
  let torchVersion: string | null = null;
  if (py) {
    say(`PyTorch peer (${py}) ...`);
    const t = timeTorch(py, only, seconds);
    torchVersion = String(t.torch ?? '?');
    for (const name of only) {
      const ti = (t as Record<string, { img_s: number }>)[name]!.img_s;
      results[name]!.torch_img_s = ti;
      results[name]!.ratio = results[name]!.medsynth_img_s / ti;
    }
  } else {
    say("PyTorch peer skipped: no python3 can 'import torch' (on Debian: apt-get install python3-torch libopenblas0-pthread)");
  }

  if (opts.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else {
    for (const [name, r] of Object.entries(results)) {
      say(`${name.padEnd(7)} medsynth ${r.medsynth_img_s.toFixed(0).padStart(6)} img/s   torch ${r.torch_img_s === null ? '-' : r.torch_img_s.toFixed(0).padStart(6)} img/s   ratio ${r.ratio === null ? '-' : r.ratio.toFixed(2)}`);
    }
  }
  if (opts.write) writeResults(results, backend, torchVersion, seconds);
}

/** Which libblas.so.3 Debian's alternatives point at (reference BLAS makes the PyTorch peer unfairly slow). */
function blasName(): string {
  const r = spawnSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
  const m = /^Value: (.*)$/m.exec(r.stdout ?? '');
  return m ? m[1]! : 'unknown';
}

function writeResults(results: Record<string, Row>, backend: BackendInfo, torchVersion: string | null, seconds: number): void {
  const date = new Date().toISOString().slice(0, 10);
  const cpu = cpus()[0]?.model ?? 'unknown';
  const lines = [
    '# Training throughput: medsynth vs PyTorch',
    '',
    'Produced by `npm run bench:throughput -- --write` (eval/bench/throughput.ts); both sides measured in the same run.',
    'Architectures: eval/bench/archs.ts and eval/bench/throughput_torch.py (batch 64). images/s = 64 / step time.',
    '',
    `- date: ${date}`,
    `- CPU: ${cpu}, ${cpus().length} cores`,
    `- node ${process.version}, tfjs ${tf.version_core}, medsynth backend ${backend.name} (${backend.threads ?? '?'} thread(s))`,
    `- PyTorch: ${torchVersion ?? 'not installed'} (torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1), BLAS: ${blasName()}`,
    `- timed ${seconds} s per architecture and side after 5 warm-up steps`,
    '',
    '| architecture | medsynth img/s | PyTorch img/s | medsynth / PyTorch | tensor growth over the run |',
    '|---|---|---|---|---|',
    ...Object.entries(results).map(
      ([n, r]) => `| ${n} | ${r.medsynth_img_s.toFixed(0)} | ${r.torch_img_s?.toFixed(0) ?? '-'} | ${r.ratio?.toFixed(2) ?? '-'} | ${r.tensors_growth} |`,
    ),
    '',
  ];
  writeFileSync(new URL('../../../eval/results/throughput.md', import.meta.url), lines.join('\n'));
}

main().catch((err) => {
  process.stderr.write(`bench:throughput: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
