/**
 * Sample quality of a trained conditional generator (issue #6): conditional accuracy, and utility as
 * train-on-synthetic, test-on-real (TSTR) accuracy beside the train-on-real reference (TRTR).
 *
 *   node dist/eval/bench/gan-quality.js --data PATH [--model dpgan|cvae] [--name phantom-64] [--size 64]
 *        [--condition label,sex] [--epochs 20] [--train-args "..."] [--per-cell 50] [--clf-steps 800]
 *        [--clf-seeds 1] [--run DIR] [--write]
 *
 * 1. Trains the generator with the CLI (`medsynth train`, the options given) into a run folder (--out,
 *    else a temporary one), or evaluates an existing run (--run; no training).
 * 2. Real split: the run's own splits.csv (the exact train/test split the generator used).
 *    Classifier: eval/classifier/cnn.ts (class-balanced minibatches), --clf-steps steps, seed 7 (+ i for
 *    the i-th of --clf-seeds repeats).
 *    TRTR: classifier trained on the REAL train split, tested on the REAL test split. The first TRTR
 *    classifier is also the judge of step 3.
 * 3. Conditional accuracy: --per-cell samples for every class × group cell (`medsynth sample --label K
 *    --where GROUP=g --seed 100+K`), the share the judge assigns to the requested class, overall and per cell.
 * 4. TSTR: a synthetic train set as large as the real train split, BALANCED: equal counts per class and,
 *    within a class, per group (`--seed 1000+cell`). Balanced rather than at the real class mix because
 *    a DP run withholds the private split's class counts (conditions.json), and cnn.ts draws class-balanced
 *    minibatches anyway. Classifier trained on the synthetic set only, tested on the REAL test split:
 *    accuracy, balanced accuracy, per-class recall.
 * 5. `--write` appends a section to eval/results/<model>.md (date, machine, exact commands, seeds, the
 *    model card's ε/δ/σ/unit) and saves eval/results/<model>-<name>-samples.png (rows: class × group).
 * The CLI runs as a subprocess (quality-common.ts), so this file imports no model code.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadDataset } from '../../datasets/load.js';
import { imageLength } from '../../datasets/dataset.js';
import { initBackend } from '../../src/backend/index.js';
import { accuracyReport, CnnClassifier } from '../classifier/cnn.js';
import { cli, equivalentTrainCommand, machineLine, pct, pick, runSplitIndices, saveGrid } from './quality-common.js';

interface Options {
  data?: string;
  dataCmd?: string;
  model: string;
  name: string;
  size: string;
  channels?: string;
  condition: string;
  epochs: string;
  trainArgs: string;
  out?: string;
  run?: string;
  perCell: string;
  clfSteps: string;
  clfSeeds: string;
  classNames?: string;
  tstr: boolean;
  write: boolean;
}

type Report = ReturnType<typeof accuracyReport>;

/** Mean of reports' field, with the range when there are several. */
function summarise(reports: Report[], get: (r: Report) => number | null): string {
  const v = reports.map(get).filter((x): x is number => x !== null);
  if (!v.length) return '-';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return v.length === 1 ? pct(mean) : `${pct(mean)} (${pct(Math.min(...v))}–${pct(Math.max(...v))})`;
}

async function main(): Promise<void> {
  const o = new Command('gan-quality')
    .option('--data <path>', 'dataset (folder with manifest.csv or .npz); with --run: read from the run')
    .option('--data-cmd <text>', 'how the data was made, for the results (e.g. the `medsynth data phantom` command)')
    .option('--model <kind>', 'dpgan or cvae', 'dpgan')
    .option('--name <name>', 'dataset label for the results and the grid file', 'dataset')
    .option('--size <px>', 'image side', '64')
    .option('--channels <n>', '1 or 3')
    .option('--condition <list>', 'conditioning', 'label,sex')
    .option('--epochs <n>', 'training epochs', '20')
    .option('--train-args <args>', 'extra medsynth train arguments', '')
    .option('--out <dir>', 'run folder to train into (default: a temporary folder)')
    .option('--run <dir>', 'evaluate this existing run instead of training one')
    .option('--per-cell <n>', 'samples per class × group cell for conditional accuracy', '50')
    .option('--clf-steps <n>', 'classifier (judge, TRTR, TSTR) steps', '800')
    .option('--clf-seeds <n>', 'classifier repeats (seeds 7, 8, ...) for TRTR and TSTR', '1')
    .option('--class-names <list>', 'display names of the classes, in label order')
    .option('--no-tstr', 'skip train-on-synthetic, test-on-real')
    .option('--write', 'append to eval/results/<model>.md and save a grid', false)
    .parse(process.argv)
    .opts<Options>();
  const backend = await initBackend('auto');
  const work = mkdtempSync(join(tmpdir(), 'medsynth-gan-quality-'));
  const tStart = performance.now();

  // 1. Train (or take an existing run).
  let run: string;
  let trainCmd: string;
  if (o.run) {
    run = resolve(o.run);
    trainCmd = `${equivalentTrainCommand(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')), o.name)} (run trained beforehand; this is the command that reproduces its run.json)`;
  } else {
    if (!o.data) throw new Error('--data is required unless --run is given');
    run = o.out ? resolve(o.out) : join(work, 'run');
    const args = ['train', '--model', o.model, '--data', o.data, '--out', run, '--epochs', o.epochs, '--condition', o.condition, '--size', o.size, ...(o.channels ? ['--channels', o.channels] : []), ...o.trainArgs.split(' ').filter(Boolean)];
    trainCmd = `medsynth ${args.map((a) => (/[\s{}"'*]/.test(a) ? `'${a}'` : a)).join(' ').replace(o.data, o.name).replace(run, 'RUN')}`;
    cli([...args, '--json']);
  }
  const card = JSON.parse(readFileSync(join(run, 'model-card.json'), 'utf8'));
  const cfg = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
  const size: number = cfg.size;
  const condition: string[] = cfg.condition;

  // 2. The real data, split exactly as the run split it.
  const ds = loadDataset({ path: cfg.data, size, channels: cfg.channels, bins: cfg.bins, attributes: cfg.attributes });
  const { train: tr, test: te } = runSplitIndices(run, ds);
  if (!tr.length || !te.length) throw new Error(`${run}/splits.csv: no train or no test rows match ${cfg.data}`);
  const classes = ds.labelNames.length;
  const names = o.classNames ? o.classNames.split(',') : ds.labelNames;
  const seeds = Array.from({ length: Number(o.clfSeeds) }, (_, i) => 7 + i);
  const clfSteps = Number(o.clfSteps);
  const xTe = pick(ds, te);
  const yTe = te.map((i) => ds.labels[i]!);
  const fitClassifier = (x: Float32Array, y: number[], seed: number) => {
    const c = new CnnClassifier({ size, channels: ds.channels, classes, seed, steps: clfSteps });
    c.fit(x, y);
    return c;
  };

  // TRTR; the first classifier is the judge.
  const xTr = pick(ds, tr);
  const yTr = tr.map((i) => ds.labels[i]!);
  const trtr: Report[] = [];
  let judge: CnnClassifier | null = null;
  for (const seed of seeds) {
    const c = fitClassifier(xTr, yTr, seed);
    trtr.push(accuracyReport(yTe, c.predict(xTe, te.length), classes));
    if (judge) c.dispose();
    else judge = c;
  }

  // 3. Conditional accuracy per class × group cell.
  const groupAttr = condition.find((c) => c !== 'label');
  const groups: (string | null)[] = groupAttr ? ds.attributes.find((a) => a.name === groupAttr)!.values : [null];
  const perCell = Number(o.perCell);
  const sampleCell = (k: number, g: string | null, n: number, seed: number, dir: string) => {
    cli(['sample', '--model', run, '--n', String(n), '--label', String(k), ...(g ? ['--where', `${groupAttr}=${g}`] : []), '--seed', String(seed), '--out', dir, '--json']);
    return loadDataset({ path: dir, size, channels: ds.channels });
  };
  const rows: { label: string; group: string | null; n: number; correct: number }[] = [];
  const grid: Float32Array[] = [];
  const truthAll: number[] = [];
  const predAll: number[] = [];
  for (let k = 0; k < classes; k++) {
    for (const g of groups) {
      const s = sampleCell(k, g, perCell, 100 + k, join(work, `cell-${k}-${g ?? 'all'}`));
      const pred = judge!.predict(s.images, s.n);
      rows.push({ label: names[k]!, group: g, n: s.n, correct: Array.from(pred).filter((p) => p === k).length });
      truthAll.push(...new Array<number>(s.n).fill(k));
      predAll.push(...pred);
      grid.push(s.images.slice(0, Math.min(8, s.n) * imageLength(s)));
    }
  }
  judge!.dispose();
  const cond = accuracyReport(truthAll, predAll, classes);

  // 4. TSTR: balanced synthetic train set of the real train split's size.
  const tstr: Report[] = [];
  const cells = classes * groups.length;
  if (o.tstr) {
    const parts: Float32Array[] = [];
    const ySyn: number[] = [];
    let cell = 0;
    for (let k = 0; k < classes; k++) {
      for (const g of groups) {
        const n = Math.floor(tr.length / cells) + (cell < tr.length % cells ? 1 : 0);
        const s = sampleCell(k, g, n, 1000 + cell, join(work, `tstr-${k}-${g ?? 'all'}`));
        parts.push(s.images);
        ySyn.push(...new Array<number>(s.n).fill(k));
        cell++;
      }
    }
    const xSyn = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (xSyn.set(p, at), at + p.length), 0);
    for (const seed of seeds) {
      const c = fitClassifier(xSyn, ySyn, seed);
      tstr.push(accuracyReport(yTe, c.predict(xTe, te.length), classes));
      c.dispose();
    }
  }
  const evalSeconds = (performance.now() - tStart) / 1000 - (o.run ? 0 : card.training.seconds);

  // Report.
  const pv = card.privacy;
  const tc = card.training.config;
  const privacy = pv.differentialPrivacy
    ? `(ε = ${pv.epsilon.toFixed(3)}, δ = ${pv.delta})-DP per ${pv.unit} (${pv.units} units), ${String(pv.accountant).toUpperCase()} accountant; σ = ${pv.noiseMultiplier.toFixed(4)}, C = ${pv.clipNorm}, q = ${pv.sampleRate.toFixed(4)}, ${pv.steps} D steps${pv.stoppedByBudget ? ' (stopped by the budget)' : ''}`
    : '**not private** (`--no-dp` baseline)';
  const classCols = names.map((n) => `recall ${n}`);
  const utilRow = (what: string, reps: Report[]) => `| ${what} | ${summarise(reps, (r) => r.accuracy)} | ${summarise(reps, (r) => r.balancedAccuracy)} | ${names.map((_, k) => summarise(reps, (r) => r.recall[k] ?? null)).join(' | ')} |`;
  const seedText = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds.join(', ')}; mean (min–max)`;
  const lines = [
    `## ${o.name}, ${o.model}${pv.differentialPrivacy ? ` ε = ${pv.targetEpsilon ?? pv.epsilon.toFixed(2)}` : ' non-private'}: ${machineLine(backend)}`,
    '',
    ...(o.dataCmd ? [`- data: \`${o.dataCmd}\``] : []),
    `- train: \`${trainCmd}\` (options not shown are defaults; training seed ${tc.seed}, split seed ${tc.splitSeed}): ${card.training.seconds.toFixed(0)} s, ${card.training.steps} steps`,
    `- generator config (model card): \`${JSON.stringify(card.generator.config)}\`, batch ${tc.batchSize}, epochs ${tc.epochs}`,
    ...(card.initialisation
      ? [
          `- initial weights (\`--init-from PRETRAINED\`, model card): the final weights of a run pretrained on ${card.initialisation.dataset} (sha256:${card.initialisation.fingerprint.slice(0, 12)}…, ${card.initialisation.privacy}), treated as public data; weights sha256:${card.initialisation.weightsSha256.slice(0, 12)}…`,
        ]
      : []),
    `- privacy (model card): ${privacy}`,
    `- real split (the run's splits.csv): train ${tr.length} images, test ${te.length} images`,
    `- classifier: eval/classifier/cnn.ts, ${clfSteps} steps, ${seedText}; TRTR = trained on the real train split; TSTR = trained on ${o.tstr ? `${tr.length} synthetic images, balanced over classes${groupAttr ? ` and ${groupAttr}` : ''} (\`medsynth sample --label K${groupAttr ? ` --where ${groupAttr}=G` : ''} --seed 1000+cell\`)` : '(skipped)'}; both tested on the real test split`,
    `- conditional accuracy over ${truthAll.length} samples (${perCell} per cell, \`--seed 100+K\`), judged by the first TRTR classifier: **${pct(cond.accuracy)}** (balanced over classes ${pct(cond.balancedAccuracy)})`,
    `- evaluation time (sampling + classifiers): ${evalSeconds.toFixed(0)} s`,
    '',
    `| class | ${groupAttr ?? 'group'} | samples | judged as the requested class |`,
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.group ?? 'all'} | ${r.n} | ${pct(r.correct / r.n)} |`),
    '',
    `| classifier trained on | accuracy | balanced accuracy | ${classCols.join(' | ')} |`,
    `|---|---|---|${classCols.map(() => '---|').join('')}`,
    utilRow('real train (TRTR)', trtr),
    ...(o.tstr ? [utilRow(`synthetic (TSTR), ${o.model}${pv.differentialPrivacy ? '' : ' non-private'}`, tstr)] : []),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (o.write) {
    const results = new URL(`../../../eval/results/${o.model}.md`, import.meta.url).pathname;
    if (!existsSync(results)) {
      writeFileSync(results, `# ${o.model}: sample quality\n\nProduced by \`npm run bench:gan-quality -- ... --write\` (eval/bench/gan-quality.ts).\n\n`);
    }
    const gridName = `${o.model}-${o.name}-samples.png`;
    appendFileSync(results, lines.join('\n') + `\nSample grid (rows: class × ${groupAttr ?? 'group'} in the table's order; 8 samples each, \`--seed 100+K\`): [${gridName}](${gridName})\n\n`);
    saveGrid(new URL(`../../../eval/results/${gridName}`, import.meta.url), grid, size, ds.channels);
  }
}

main().catch((err) => {
  process.stderr.write(`gan-quality: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
