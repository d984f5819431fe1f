/**
 * Where a training step's time goes: per-kernel wall time of one step of a benchmark architecture,
 * summed by kernel name. `node dist/eval/bench/profile-step.js [cvae28|cvae64|gan28] [--backend wasm] [--write]`
 * `--write` saves the table as eval/results/profile-<arch>.md. Profiling syncs after every kernel, so the
 * profiled step is slower than an unprofiled one; the shares are what matter.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, resolveBackendChoice } from '../../src/backend/index.js';
import { makeWorkload, type ArchName } from './archs.js';

async function main(): Promise<void> {
  const name = (process.argv[2] ?? 'cvae28') as ArchName;
  const bi = process.argv.indexOf('--backend');
  const backend = await initBackend(resolveBackendChoice(bi > 0 ? process.argv[bi + 1] : undefined));
  const w = makeWorkload(name, 0);
  for (let i = 0; i < 5; i++) w.step();
  w.lastLoss();
  const t0 = performance.now();
  const info = await tf.profile(() => {
    w.step();
    w.lastLoss();
  });
  const wall = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    byKernel.set(k.name, e);
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
  const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
  const head = `${name} on ${tf.getBackend()} (${backend.threads} wasm thread(s)${backend.native ? `, native ${backend.native.library} ${backend.native.version}` : ''}): profiled step ${wall.toFixed(1)} ms, kernels ${total.toFixed(1)} ms`;
  console.log(head);
  for (const [k, e] of rows) {
    console.log(`${k.padEnd(24)} ${e.ms.toFixed(2).padStart(8)} ms  ${String(e.calls).padStart(4)} calls  ${((100 * e.ms) / total).toFixed(1).padStart(5)} %`);
  }
  if (process.argv.includes('--write')) {
    const lines = [
      `# Where a ${name} training step's time goes`,
      '',
      `Produced by \`node dist/eval/bench/profile-step.js ${name} --write\` on ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores).`,
      'Per-kernel wall time of one step (batch 64) after 5 warm-up steps, summed by kernel. Profiling syncs after every',
      'kernel, so the step is slower than unprofiled; read the shares.',
      '',
      head,
      '',
      '| kernel | ms | calls | share |',
      '|---|---|---|---|',
      ...rows.map(([k, e]) => `| ${k} | ${e.ms.toFixed(2)} | ${e.calls} | ${((100 * e.ms) / total).toFixed(1)} % |`),
      '',
    ];
    writeFileSync(new URL(`../../../eval/results/profile-${name}.md`, import.meta.url), lines.join('\n'));
  }
  w.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
