/**
 * Did a (private) conditional generator learn at all? The figures issue #18 asks of every generator
 * result, for already-trained runs of one configuration that differ only in the training seed.
 *
 *   npm run bench:private -- --run DIR [--run DIR2 | --run DIR1,DIR2,DIR3] [--name ham10000-32]
 *        [--data PATH] [--data-cmd TEXT] [--class-names a,b] [--per-cell 50] [--clf-steps 800]
 *        [--clf-seeds 3] [--modes 20] [--seed 1] [--no-tstr] [--write]
 *
 * Real data: the runs' own splits.csv (identical across runs: refused otherwise). All distances are
 * pixel L2 on images NHWC float32 in [0, 1] as loaded at the run's size and channels.
 * Synthetic data: one draw per class × group cell and run, `medsynth sample --label K --where G=g
 * --seed 100+cell` (cell = K · groups + g; the group is the first non-label --condition attribute, the
 * others drawn by the CLI), of n_c = max(--per-cell, TSTR share, real test count of the cell) images.
 * Each figure takes a prefix of that draw; the samples of a cell are i.i.d., so prefixes are fair draws.
 *
 * 1. Conditional accuracy: the first --per-cell samples of each cell, classified by the judge (the
 *    eval/classifier/cnn.ts CNN trained on the REAL train split, seed 7: the first TRTR classifier); the
 *    share predicted as the requested class, overall and per cell; the worst cell among those with real
 *    train images (a cell the data never shows has no real counterpart to learn).
 * 2. TSTR / TRTR: a synthetic train set as large as the real train split, balanced over cells
 *    (floor(train/cells), the remainder to the first cells), vs the real train split; the same CNN,
 *    --clf-steps steps, seeds 7..7+clf-seeds-1, tested on the REAL test split: accuracy and balanced
 *    accuracy (mean over classes of recall), mean (min–max) over classifier seeds.
 * 3. Distinct nearest records (eval/diversity/learned.ts): M = |real test split| synthetic images, at the
 *    test split's class × group counts (the first test-count samples of each cell); the number of distinct
 *    real TRAIN images that are the pixel-L2 nearest neighbour of some sample, and that / M. Reference: the
 *    real test split itself against the train split (same M). Blocked nearest neighbours
 *    (eval/privacy/nearest.ts), no M × N matrix.
 * 4. Mode coverage: pixel PCA (eval/features/pca.ts, top min(64, train - 1) components, fitted on the real
 *    train split, --seed), k-means with k = min(--modes, floor(train / 10)) (eval/diversity/modes.ts,
 *    --seed) on the real train features; the share of the k modes holding at least one of the M synthetic
 *    images of 3., the same share for the real test split, and their ratio (target >= 0.6).
 * 5. Mean-image distance: RMS pixel difference between the mean synthetic and the mean real TRAIN image of
 *    each class × group cell (all n_c samples of the cell) and of each class (the synthetic class mean
 *    weights its cell means by the real train counts, so both sides have the real group mix). Reference:
 *    the real test split's mean vs the train mean (its sampling noise). Mean colour per channel of each
 *    class mean image, real train vs synthetic, and the max abs difference over channels (HAM target
 *    <= 0.02; on grey data the mean intensity).
 * 6. A sample grid per run: rows = cells in the table's order, the first 8 samples of each.
 * 7. The model card's privacy claim (ε, δ, unit, accountant) and the train command that reproduces each
 *    run.json (equivalentTrainCommand).
 * Across runs: mean (min–max over training seeds) of every per-run figure. The section records the date,
 * machine, and load average (os.loadavg, 1/5/15 min) at the start and end. `--write` appends it to
 * eval/results/private-generators.md and saves the grids beside it; without --write the grids go to a
 * temporary folder (printed).
 * The CLI runs as a subprocess (quality-common.ts), so this file imports no model code.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadDataset } from '../../datasets/load.js';
import { imageLength, type ImageDataset } from '../../datasets/dataset.js';
import { initBackend } from '../../src/backend/index.js';
import { accuracyReport, CnnClassifier } from '../classifier/cnn.js';
import {
  distinctNearest,
  groupMeanImages,
  maxAbsDifference,
  meanColour,
  modeCoverageRatio,
  rmsDifference,
  spread,
  weightedMeanImage,
} from '../diversity/learned.js';
import { fitModes, occupancy, type Features } from '../diversity/modes.js';
import { fitPca, projectPca } from '../features/pca.js';
import { nearestInTwoParts } from '../privacy/nearest.js';
import { cli, equivalentTrainCommand, machineLine, pct, pick, runSplitIndices, saveGrid } from './quality-common.js';

interface Options {
  run: string[];
  name?: string;
  data?: string;
  dataCmd?: string;
  classNames?: string;
  perCell: string;
  clfSteps: string;
  clfSeeds: string;
  modes: string;
  seed: string;
  tstr: boolean;
  write: boolean;
}

type Report = ReturnType<typeof accuracyReport>;

/** Everything measured on one run (one training seed). */
interface RunResult {
  dir: string;
  seed: number;
  trainCmd: string;
  claim: string;
  epsilon: number | null;
  trainSeconds: number;
  steps: number;
  /** Per cell: samples judged, share judged as the requested class, mean-image RMS vs the real train cell mean. */
  cells: { n: number; condAcc: number; rms: number | null }[];
  cond: Report;
  tstr: Report[];
  distinct: { distinct: number; share: number };
  coverage: { synthetic: number; reference: number; ratio: number | null };
  /** Per class: mean-image RMS, synthetic mean colour, its max abs difference from the real train colour. */
  classes: { rms: number | null; colour: number[] | null; colourDiff: number | null }[];
  grid: string;
}

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const num = (x: number) => x.toFixed(3);
/** "mean (min–max)" of the non-null values, "value" for one, "-" for none. */
function fmt(values: (number | null)[], f: (x: number) => string): string {
  const s = spread(values);
  if (!s) return '-';
  return s.n === 1 || s.min === s.max ? f(s.mean) : `${f(s.mean)} (${f(s.min)}–${f(s.max)})`;
}

async function main(): Promise<void> {
  const o = new Command('private-generators')
    .requiredOption('--run <dir>', 'trained run folder; repeat or comma-separate for several training seeds', collect, [])
    .option('--name <name>', 'dataset label for the results and grid files (default: the data folder name)')
    .option('--data <path>', "the runs' dataset, if it has moved since training (its sha256 must match run.json)")
    .option('--data-cmd <text>', 'how the data was made, for the results (e.g. the `medsynth data phantom` command)')
    .option('--class-names <list>', 'display names of the classes, in label order')
    .option('--per-cell <n>', 'samples per class × group cell for conditional accuracy', '50')
    .option('--clf-steps <n>', 'classifier (judge, TRTR, TSTR) steps', '800')
    .option('--clf-seeds <n>', 'classifier seeds 7, 8, ... for TRTR and TSTR', '3')
    .option('--modes <k>', 'k-means modes, at most floor(train / 10)', '20')
    .option('--seed <int>', 'seed of the pixel PCA and k-means', '1')
    .option('--no-tstr', 'skip train-on-synthetic, test-on-real')
    .option('--write', 'append to eval/results/private-generators.md and save the grids there', false)
    .parse(process.argv)
    .opts<Options>();
  const int = (flag: string, v: string, min: number) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`${flag} ${v}: expected an integer >= ${min}`);
    return x;
  };
  const clfSeeds = int('--clf-seeds', o.clfSeeds, 1);
  // Issue #18 asks for >= 3 TRAINING seeds per row (checked below); with one classifier seed per run the
  // spread over training seeds already includes the classifier's, at a third of the classifier time.
  const loadStart = loadavg();
  const backend = await initBackend('auto');
  const work = mkdtempSync(join(tmpdir(), 'medsynth-private-generators-'));
  const tStart = performance.now();
  const progress = (msg: string) => process.stderr.write(`[${((performance.now() - tStart) / 1000).toFixed(0)} s] ${msg}\n`);

  // The runs: one configuration, several training seeds, one split.
  const runs = o.run.map((r) => resolve(r));
  if (!runs.length) throw new Error('--run: give at least one run folder');
  const cfgs = runs.map((r) => JSON.parse(readFileSync(join(r, 'run.json'), 'utf8')) as Record<string, any>);
  const cards = runs.map((r) => JSON.parse(readFileSync(join(r, 'model-card.json'), 'utf8')) as Record<string, any>);
  const sameButSeed = (c: Record<string, any>) => JSON.stringify({ ...c, seed: undefined });
  cfgs.forEach((c, i) => {
    if (sameButSeed(c) !== sameButSeed(cfgs[0]!)) {
      const keys = Object.keys({ ...c, ...cfgs[0] }).filter((k) => k !== 'seed' && JSON.stringify(c[k]) !== JSON.stringify(cfgs[0]![k]));
      throw new Error(`${runs[i]}: run.json differs from ${runs[0]}'s in ${keys.join(', ')}; give runs of one configuration that differ only in --seed`);
    }
    if (readFileSync(join(runs[i]!, 'splits.csv'), 'utf8') !== readFileSync(join(runs[0]!, 'splits.csv'), 'utf8')) {
      throw new Error(`${runs[i]}/splits.csv differs from ${runs[0]}'s: the runs must share one split`);
    }
  });
  const cfg = cfgs[0]!;
  const size: number = cfg.size;
  const condition: string[] = cfg.condition;
  const dataPath = o.data ?? cfg.data;
  const name = o.name ?? basename(String(dataPath)).replace(/\.(npz|csv)$/, '');

  // Real data, split as the runs split it.
  const ds: ImageDataset = loadDataset({ path: dataPath, size, channels: cfg.channels, bins: cfg.bins, attributes: cfg.attributes });
  if (cfg.fingerprint && ds.source.fingerprint.replace(/^sha256:/, '') !== String(cfg.fingerprint).replace(/^sha256:/, '')) {
    throw new Error(`${dataPath}: sha256 ${ds.source.fingerprint} is not the runs' data (${cfg.fingerprint})`);
  }
  const { train: tr, test: te } = runSplitIndices(runs[0]!, ds);
  if (!tr.length || !te.length) throw new Error(`${runs[0]}/splits.csv: no train or no test rows match ${dataPath}`);
  const len = imageLength(ds);
  const C = ds.labelNames.length;
  const names = o.classNames ? o.classNames.split(',') : ds.labelNames;
  const groupAttr = condition.find((c) => c !== 'label') ?? null;
  const attr = groupAttr ? ds.attributes.find((a) => a.name === groupAttr) : undefined;
  if (groupAttr && !attr) throw new Error(`${dataPath}: no attribute '${groupAttr}' (the runs condition on it)`);
  const groups: (string | null)[] = attr ? attr.values : [null];
  const G = groups.length;
  const cells = C * G;
  const cellOf = (i: number) => ds.labels[i]! * G + (attr ? attr.codes[i]! : 0);
  const xTr = pick(ds, tr);
  const yTr = tr.map((i) => ds.labels[i]!);
  const xTe = pick(ds, te);
  const yTe = te.map((i) => ds.labels[i]!);
  const trainCell = Int32Array.from(tr, cellOf);
  const testCell = Int32Array.from(te, cellOf);
  const seeds = Array.from({ length: clfSeeds }, (_, i) => 7 + i);
  const clfSteps = int('--clf-steps', o.clfSteps, 1);
  const perCell = int('--per-cell', o.perCell, 1);
  const evalSeed = int('--seed', o.seed, 0);
  const modesK = int('--modes', o.modes, 2);
  const fitClassifier = (x: Float32Array, y: number[], seed: number) => {
    const c = new CnnClassifier({ size, channels: ds.channels, classes: C, seed, steps: clfSteps });
    c.fit(x, y);
    return c;
  };

  // Real side, once: TRTR (the first classifier is the judge), mean images, PCA + k-means, nearest records.
  progress(`real: ${tr.length} train, ${te.length} test images; TRTR over ${seeds.length} classifier seeds`);
  const trtr: Report[] = [];
  let judge: CnnClassifier | null = null;
  for (const seed of seeds) {
    const c = fitClassifier(xTr, yTr, seed);
    trtr.push(accuracyReport(yTe, c.predict(xTe, te.length), C));
    if (judge) c.dispose();
    else judge = c;
  }
  const realCells = groupMeanImages(xTr, len, trainCell, cells);
  const testCells = groupMeanImages(xTe, len, testCell, cells);
  const realClass = groupMeanImages(xTr, len, yTr, C);
  const testClass = groupMeanImages(xTe, len, yTe, C);
  const realColour = realClass.means.map((m) => (m ? meanColour(m, ds.channels) : null));
  const testColour = testClass.means.map((m) => (m ? meanColour(m, ds.channels) : null));
  const pcaK = Math.min(64, tr.length - 1, len);
  const pca = fitPca({ data: xTr, n: tr.length, d: len }, { k: pcaK, seed: evalSeed });
  const trainFeat = projectPca(pca, { data: xTr, n: tr.length, d: len });
  const k = Math.max(2, Math.min(modesK, Math.floor(tr.length / 10)));
  const modes = fitModes(trainFeat, { k, seed: evalSeed });
  const project = (x: Float32Array, n: number): Features => projectPca(pca, { data: x, n, d: len });
  const testCounts = occupancy(modes, project(xTe, te.length)).counts;
  const nearestTrain = async (x: Float32Array, n: number) => (await nearestInTwoParts({ data: x, n, d: len }, { data: xTr, n: tr.length, d: len }, 1)).nearest;
  // nearestInTwoParts also returns the nearest index over the whole reference; split = 1 is a formality.
  const refDistinct = distinctNearest(await nearestTrain(xTe, te.length));

  // Per run.
  const testCellCount = testCells.counts;
  const tstrCount = (cell: number) => (o.tstr ? Math.floor(tr.length / cells) + (cell < tr.length % cells ? 1 : 0) : 0);
  const results: RunResult[] = [];
  for (const [r, run] of runs.entries()) {
    const rc = cfgs[r]!;
    const card = cards[r]!;
    progress(`run ${r + 1}/${runs.length} (${run}, seed ${rc.seed}): sampling ${cells} cells`);
    const draws: Float32Array[] = [];
    for (let cell = 0; cell < cells; cell++) {
      const kk = Math.floor(cell / G);
      const g = groups[cell % G]!;
      const n = Math.max(perCell, tstrCount(cell), testCellCount[cell]!);
      const dir = join(work, `run${r}-cell${cell}`);
      cli(['sample', '--model', run, '--n', String(n), '--label', String(kk), ...(g !== null ? ['--where', `${groupAttr}=${g}`] : []), '--seed', String(100 + cell), '--out', dir, '--json']);
      const s = loadDataset({ path: dir, size, channels: ds.channels });
      if (s.n !== n) throw new Error(`medsynth sample wrote ${s.n} images to ${dir}, asked for ${n}`);
      rmSync(dir, { recursive: true }); // the images are in memory now
      draws.push(s.images);
    }
    const prefix = (cell: number, n: number) => draws[cell]!.subarray(0, n * len);
    const concat = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
      return out;
    };

    // 1. Conditional accuracy.
    const truth: number[] = [];
    const pred: number[] = [];
    const cellRows: RunResult['cells'] = [];
    const synCellMeans: Float64Array[] = [];
    for (let cell = 0; cell < cells; cell++) {
      const kk = Math.floor(cell / G);
      const p = judge!.predict(prefix(cell, perCell), perCell);
      truth.push(...new Array<number>(perCell).fill(kk));
      pred.push(...p);
      const synMean = groupMeanImages(draws[cell]!, len, new Int32Array(draws[cell]!.length / len), 1).means[0]!;
      synCellMeans.push(synMean);
      const real = realCells.means[cell];
      cellRows.push({ n: perCell, condAcc: Array.from(p).filter((x) => x === kk).length / perCell, rms: real ? rmsDifference(synMean, real) : null });
    }
    const cond = accuracyReport(truth, pred, C);

    // 2. TSTR.
    const tstr: Report[] = [];
    if (o.tstr) {
      progress(`run ${r + 1}/${runs.length}: TSTR over ${seeds.length} classifier seeds`);
      const xSyn = concat(Array.from({ length: cells }, (_, cell) => prefix(cell, tstrCount(cell))));
      const ySyn = Array.from({ length: cells }, (_, cell) => new Array<number>(tstrCount(cell)).fill(Math.floor(cell / G))).flat();
      for (const seed of seeds) {
        const c = fitClassifier(xSyn, ySyn, seed);
        tstr.push(accuracyReport(yTe, c.predict(xTe, te.length), C));
        c.dispose();
      }
    }

    // 3, 4. The M = |test| synthetic images at the test split's cell counts.
    const xM = concat(Array.from({ length: cells }, (_, cell) => prefix(cell, testCellCount[cell]!)));
    const distinct = distinctNearest(await nearestTrain(xM, te.length));
    const coverage = modeCoverageRatio(occupancy(modes, project(xM, te.length)).counts, testCounts);

    // 5. Class means (cell means weighted by the real train counts), colours.
    const classRows = Array.from({ length: C }, (_, kk) => {
      const m = weightedMeanImage(synCellMeans.slice(kk * G, (kk + 1) * G), realCells.counts.slice(kk * G, (kk + 1) * G));
      const real = realClass.means[kk];
      if (!m || !real) return { rms: null, colour: null, colourDiff: null };
      const colour = meanColour(m, ds.channels);
      return { rms: rmsDifference(m, real), colour, colourDiff: maxAbsDifference(colour, realColour[kk]!) };
    });

    // 6. Grid.
    const gridName = `private-generators-${name}-${rc.model}-seed${rc.seed}-samples.png`;
    const gridPath = o.write ? new URL(`../../../eval/results/${gridName}`, import.meta.url).pathname : join(work, gridName);
    saveGrid(gridPath, Array.from({ length: cells }, (_, cell) => prefix(cell, Math.min(8, perCell))), size, ds.channels);

    const pv = card.privacy;
    results.push({
      dir: run,
      seed: rc.seed,
      trainCmd: equivalentTrainCommand(rc, name),
      claim: pv.differentialPrivacy ? `(ε = ${pv.epsilon.toFixed(3)}, δ = ${pv.delta})-DP per ${pv.unit}, ${String(pv.accountant).toUpperCase()} accountant (${pv.units} units, σ = ${pv.noiseMultiplier.toFixed(4)}, ${pv.steps} steps${pv.stoppedByBudget ? ', stopped by the budget' : ''})` : 'NOT PRIVATE (trained without DP)',
      epsilon: pv.differentialPrivacy ? pv.epsilon : null,
      trainSeconds: card.training.seconds,
      steps: card.training.steps,
      cells: cellRows,
      cond,
      tstr,
      distinct,
      coverage,
      classes: classRows,
      grid: gridPath,
    });
  }
  judge!.dispose();
  const loadEnd = loadavg();
  const evalSeconds = (performance.now() - tStart) / 1000;

  // Report: one column per run, then the mean (min–max) over runs.
  const tstrMean = (res: RunResult, get: (x: Report) => number | null) => (res.tstr.length ? mean(res.tstr.map(get).filter((x): x is number => x !== null)) : null);
  const trtrBal = spread(trtr.map((x) => x.balancedAccuracy));
  const figure = (label: string, perRun: (res: RunResult) => string, agg: string, ref: string) =>
    `| ${label} | ${results.map(perRun).join(' | ')} | ${agg} | ${ref} |`;
  const over = (get: (res: RunResult) => number | null, f: (x: number) => string) => fmt(results.map(get), f);
  // Cells without real train images (e.g. HAM's sex=unknown in most classes) do not count for the worst cell.
  const worst = (res: RunResult) => Math.min(...res.cells.filter((_, cell) => realCells.counts[cell]! > 0).map((c) => c.condAcc));
  const maxOf = (xs: (number | null)[]) => (xs.some((x) => x !== null) ? Math.max(...xs.filter((x): x is number => x !== null)) : null);
  const refClassRms = testClass.means.map((m, kk) => (m && realClass.means[kk] ? rmsDifference(m, realClass.means[kk]!) : null));
  const refColourDiff = testColour.map((c, kk) => (c && realColour[kk] ? maxAbsDifference(c, realColour[kk]!) : null));
  const refCellRms = testCells.means.map((m, cell) => (m && realCells.means[cell] ? rmsDifference(m, realCells.means[cell]!) : null));
  const runCols = results.map((res) => `seed ${res.seed}`);
  const pv0 = cards[0]!.privacy;
  const cellLabel = (cell: number) => `${names[Math.floor(cell / G)]} | ${groups[cell % G] ?? 'all'}`;
  const colourText = (c: number[] | null) => (c ? c.map(num).join(', ') : '-');

  const lines = [
    `## ${name}, ${cfg.model} ${pv0.differentialPrivacy ? `ε = ${pv0.targetEpsilon ?? pv0.epsilon.toFixed(2)} per ${pv0.unit}` : 'non-private'}, ${results.length} training seed${results.length > 1 ? 's' : ''}: ${machineLine(backend)}`,
    '',
    `- load average (1/5/15 min): ${loadStart.map((x) => x.toFixed(2)).join(' / ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(' / ')} at the end; evaluation ${evalSeconds.toFixed(0)} s`,
    ...(o.dataCmd ? [`- data made by: \`${o.dataCmd}\``] : []),
    `- data: ${name} (sha256:${ds.source.fingerprint.replace(/^sha256:/, '').slice(0, 12)}…), ${size} px, ${ds.channels} channel${ds.channels > 1 ? 's' : ''}; the runs' split: train ${tr.length} images, test ${te.length} images`,
    ...results.map((res) => `- seed ${res.seed}: \`${res.trainCmd}\` (the command that reproduces its run.json; ${res.trainSeconds.toFixed(0)} s, ${res.steps} steps); privacy (model card): ${res.claim}`),
    `- classifier: eval/classifier/cnn.ts, ${clfSteps} steps, seeds ${seeds.join(', ')}; TRTR on the real train split${o.tstr ? `, TSTR on ${tr.length} synthetic images balanced over class × ${groupAttr ?? 'class'} cells; both` : ' (TSTR skipped),'} tested on the real test split. Judge of conditional accuracy: the TRTR classifier of seed ${seeds[0]} (${perCell} samples per cell)`,
    `- samples: \`medsynth sample --label K${groupAttr ? ` --where ${groupAttr}=G` : ''} --seed 100+cell\`; distinct nearest records and mode coverage on M = ${te.length} samples at the test split's cell counts; modes: k-means k = ${k} (seed ${evalSeed}) on pixel PCA (${pcaK} components, seed ${evalSeed}) of the real train split`,
    ...(results.length < 3 ? [`- **${results.length} training seed${results.length > 1 ? 's' : ''}: not a targets row (issue #18 asks for the mean of at least 3)**`] : []),
    `- TRTR (real train → real test, the reference for TSTR): accuracy ${fmt(trtr.map((x) => x.accuracy), pct)}, balanced accuracy ${fmt(trtr.map((x) => x.balancedAccuracy), pct)}`,
    `- runs: mean (min–max) over training seeds; a run's TSTR is its mean over classifier seeds (range in brackets); reference = real data measured the same way (TRTR; the real test split for nearest records, modes and mean images)`,
    '',
    `| figure | ${runCols.join(' | ')} | runs | real reference |`,
    `|---|${runCols.map(() => '---|').join('')}---|---|`,
    figure('conditional accuracy, all cells', (res) => pct(res.cond.accuracy), over((res) => res.cond.accuracy, pct), '-'),
    figure('conditional accuracy, worst cell with real train images', (res) => pct(worst(res)), over(worst, pct), '-'),
    ...(o.tstr
      ? [
          figure('TSTR accuracy (TRTR as reference)', (res) => fmt(res.tstr.map((x) => x.accuracy), pct), over((res) => tstrMean(res, (x) => x.accuracy), pct), fmt(trtr.map((x) => x.accuracy), pct)),
          figure('TSTR balanced accuracy', (res) => fmt(res.tstr.map((x) => x.balancedAccuracy), pct), over((res) => tstrMean(res, (x) => x.balancedAccuracy), pct), fmt(trtr.map((x) => x.balancedAccuracy), pct)),
          figure('TSTR / TRTR balanced accuracy', (res) => (trtrBal ? num(tstrMean(res, (x) => x.balancedAccuracy)! / trtrBal.mean) : '-'), trtrBal ? over((res) => tstrMean(res, (x) => x.balancedAccuracy)! / trtrBal.mean, num) : '-', '1'),
        ]
      : []),
    figure(`distinct nearest train records of M = ${te.length}`, (res) => String(res.distinct.distinct), over((res) => res.distinct.distinct, (x) => x.toFixed(1)), String(refDistinct.distinct)),
    figure('distinct nearest train records / M', (res) => pct(res.distinct.share), over((res) => res.distinct.share, pct), pct(refDistinct.share)),
    figure(`mode coverage (of ${k})`, (res) => pct(res.coverage.synthetic), over((res) => res.coverage.synthetic, pct), pct(results[0]!.coverage.reference)),
    figure('mode coverage / real test coverage', (res) => (res.coverage.ratio === null ? '-' : num(res.coverage.ratio)), over((res) => res.coverage.ratio, num), '1'),
    figure('class mean-image RMS, worst class', (res) => num(maxOf(res.classes.map((c) => c.rms)) ?? NaN), over((res) => maxOf(res.classes.map((c) => c.rms)), num), num(maxOf(refClassRms) ?? NaN)),
    figure('class mean-colour max abs diff, worst class', (res) => num(maxOf(res.classes.map((c) => c.colourDiff)) ?? NaN), over((res) => maxOf(res.classes.map((c) => c.colourDiff)), num), num(maxOf(refColourDiff) ?? NaN)),
    ...(pv0.differentialPrivacy ? [figure('ε (model card)', (res) => num(res.epsilon!), over((res) => res.epsilon, num), '-')] : []),
    '',
    `| class | ${groupAttr ?? 'group'} | real train | conditional accuracy | mean-image RMS vs real train | real test vs train |`,
    '|---|---|---|---|---|---|',
    ...Array.from({ length: cells }, (_, cell) =>
      `| ${cellLabel(cell)} | ${realCells.counts[cell]} | ${over((res) => res.cells[cell]!.condAcc, pct)} | ${over((res) => res.cells[cell]!.rms, num)} | ${refCellRms[cell] === null ? '-' : num(refCellRms[cell]!)} |`,
    ),
    '',
    `| class | real train | TRTR recall | TSTR recall | mean-image RMS | real test vs train | mean colour real train | mean colour synthetic | max abs diff | real test vs train |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...names.map((cn, kk) => {
      const synColour = results.map((res) => res.classes[kk]!.colour).filter((c): c is number[] => c !== null);
      const avgColour = synColour.length ? synColour[0]!.map((_, ch) => mean(synColour.map((c) => c[ch]!))) : null;
      return `| ${cn} | ${realClass.counts[kk]} | ${fmt(trtr.map((x) => x.recall[kk] ?? null), pct)} | ${o.tstr ? over((res) => tstrMean(res, (x) => x.recall[kk] ?? null), pct) : '-'} | ${over((res) => res.classes[kk]!.rms, num)} | ${refClassRms[kk] === null ? '-' : num(refClassRms[kk]!)} | ${colourText(realColour[kk]!)} | ${colourText(avgColour)} | ${over((res) => res.classes[kk]!.colourDiff, num)} | ${refColourDiff[kk] === null ? '-' : num(refColourDiff[kk]!)} |`;
    }),
    '',
    `Sample grids (synthetic only; rows: class × ${groupAttr ?? 'class'} cells in the table's order, the first 8 samples of each, \`--seed 100+cell\`): ${results.map((res) => `[seed ${res.seed}](${basename(res.grid)})`).join(', ')}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (o.write) {
    const file = new URL('../../../eval/results/private-generators.md', import.meta.url).pathname;
    if (!existsSync(file)) {
      writeFileSync(
        file,
        '# Private generators: did they learn at all?\n\nProduced by `npm run bench:private -- --run DIR[,DIR...] --write` (eval/bench/private-generators.ts; what each figure means is in its header). Targets: issue #18.\n\n',
      );
    }
    appendFileSync(file, lines.join('\n') + '\n');
    process.stderr.write(`appended to ${file}\n`);
  } else {
    process.stderr.write(`sample grids: ${results.map((res) => res.grid).join(', ')}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`private-generators: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
