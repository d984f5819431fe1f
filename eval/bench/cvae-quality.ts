/**
 * Conditional accuracy of a trained cVAE (issue #4): does a sample show the class it was asked for?
 *
 *   node dist/eval/bench/cvae-quality.js --data DIR [--name phantom] [--size 64] [--condition label,sex]
 *        [--epochs 20] [--train-args "..."] [--per-cell 50] [--write]
 *
 * 1. Trains the cVAE with the CLI (`medsynth train`, defaults unless --train-args) into a temporary run.
 * 2. Trains the judge (eval/classifier/cnn.ts) on the REAL train split of the same split, and reports its
 *    accuracy on the real test split (how good the judge is).
 * 3. Samples --per-cell images for every class × group cell with `medsynth sample`, classifies them, and
 *    reports the share whose predicted class is the requested one, overall and per group.
 * 4. `--write` appends the numbers to eval/results/cvae.md and saves a sample grid (rows: class × group).
 * The CLI runs as a subprocess (quality-common.ts), so this file imports no model code.
 */
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadDataset } from '../../datasets/load.js';
import { assignSplits, splitIndices } from '../../datasets/splits.js';
import { imageLength } from '../../datasets/dataset.js';
import { initBackend } from '../../src/backend/index.js';
import { accuracyReport, CnnClassifier } from '../classifier/cnn.js';
import { cli, machineLine, pct, pick, saveGrid } from './quality-common.js';

async function main(): Promise<void> {
  const o = new Command('cvae-quality')
    .requiredOption('--data <path>')
    .option('--name <name>', 'dataset label for the results', 'dataset')
    .option('--size <px>', 'image side', '64')
    .option('--channels <n>', '1 or 3')
    .option('--condition <list>', 'conditioning', 'label,sex')
    .option('--epochs <n>', 'cVAE epochs', '20')
    .option('--train-args <args>', 'extra medsynth train arguments', '')
    .option('--bins <spec>', 'bins for numeric columns')
    .option('--per-cell <n>', 'samples per class × group cell', '50')
    .option('--judge-steps <n>', 'classifier steps', '800')
    .option('--write', 'append to eval/results/cvae.md and save a grid', false)
    .parse(process.argv)
    .opts<{ data: string; name: string; size: string; channels?: string; condition: string; epochs: string; trainArgs: string; bins?: string; perCell: string; judgeSteps: string; write: boolean }>();
  const backend = await initBackend('auto');
  const work = mkdtempSync(join(tmpdir(), 'medsynth-cvae-quality-'));
  const run = join(work, 'run');
  const size = Number(o.size);
  const common = ['--size', o.size, ...(o.channels ? ['--channels', o.channels] : []), ...(o.bins ? ['--bins', o.bins] : [])];
  const t0 = performance.now();
  cli(['train', '--data', o.data, '--out', run, '--epochs', o.epochs, '--condition', o.condition, ...common, ...o.trainArgs.split(' ').filter(Boolean), '--json']);
  const trainSeconds = (performance.now() - t0) / 1000;

  // The judge, on real images of the same split.
  const ds = loadDataset({ path: o.data, size, channels: o.channels ? (Number(o.channels) as 1 | 3) : undefined, bins: undefined });
  const split = assignSplits(ds, { seed: 1 });
  const tr = splitIndices(split, 'train');
  const te = splitIndices(split, 'test');
  const judge = new CnnClassifier({ size, channels: ds.channels, classes: ds.labelNames.length, seed: 7, steps: Number(o.judgeSteps) });
  judge.fit(pick(ds, tr), tr.map((i) => ds.labels[i]!));
  const real = accuracyReport(te.map((i) => ds.labels[i]!), judge.predict(pick(ds, te), te.length), ds.labelNames.length);

  // Samples per class × group.
  const groupAttr = o.condition.split(',').find((c) => c !== 'label');
  const groups = groupAttr ? ds.attributes.find((a) => a.name === groupAttr)!.values : [null];
  const perCell = Number(o.perCell);
  const rows: { label: string; group: string | null; n: number; correct: number }[] = [];
  const grid: Float32Array[] = [];
  const truthAll: number[] = [];
  const predAll: number[] = [];
  for (let k = 0; k < ds.labelNames.length; k++) {
    for (const g of groups) {
      const out = join(work, `s-${k}-${g ?? 'all'}`);
      cli(['sample', '--model', run, '--n', String(perCell), '--label', String(k), ...(g ? ['--where', `${groupAttr}=${g}`] : []), '--seed', String(100 + k), '--out', out, '--json']);
      const s = loadDataset({ path: out, size, channels: ds.channels });
      const pred = judge.predict(s.images, s.n);
      const correct = Array.from(pred).filter((p) => p === k).length;
      rows.push({ label: ds.labelNames[k]!, group: g, n: s.n, correct });
      truthAll.push(...new Array(s.n).fill(k));
      predAll.push(...pred);
      grid.push(s.images.slice(0, Math.min(8, s.n) * imageLength(s)));
    }
  }
  judge.dispose();
  const overall = accuracyReport(truthAll, predAll, ds.labelNames.length);
  const lines = [
    `## ${o.name}: ${machineLine(backend)}`,
    '',
    `- cVAE: \`medsynth train --data ${o.name} --epochs ${o.epochs} --condition ${o.condition} ${common.join(' ')} ${o.trainArgs}\` (other options default, seed 1): ${trainSeconds.toFixed(0)} s`,
    `- judge: eval/classifier/cnn.ts on the real train split (${tr.length} images), ${o.judgeSteps} steps; on the real test split (${te.length}): accuracy ${pct(real.accuracy)}, balanced ${pct(real.balancedAccuracy)}`,
    `- conditional accuracy over ${truthAll.length} samples (${perCell} per cell): **${pct(overall.accuracy)}** (balanced over classes ${pct(overall.balancedAccuracy)})`,
    '',
    `| class | ${groupAttr ?? 'group'} | samples | judged as the requested class |`,
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.group ?? 'all'} | ${r.n} | ${pct(r.correct / r.n)} |`),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (o.write) {
    const results = new URL('../../../eval/results/cvae.md', import.meta.url).pathname;
    if (!existsSync(results)) writeFileSync(results, '# Conditional VAE: quality\n\nProduced by `node dist/eval/bench/cvae-quality.js --write` (eval/bench/cvae-quality.ts).\n\n');
    const gridName = `cvae-${o.name}-samples.png`;
    appendFileSync(results, lines.join('\n') + `Sample grid (rows: class × ${groupAttr ?? 'group'} in the table's order; 8 samples each): [${gridName}](${gridName})\n\n`);
    // Grid: one row per cell, 8 samples per row.
    saveGrid(new URL(`../../../eval/results/${gridName}`, import.meta.url), grid, size, ds.channels);
  }
}

main().catch((err) => {
  process.stderr.write(`cvae-quality: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
