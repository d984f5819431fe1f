/** `medsynth data phantom` and `medsynth data inspect`. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadDataset } from '../../../datasets/load.js';
import { parseBinsOption } from '../../../datasets/attributes.js';
import { resolvePhantomConfig } from '../../../datasets/phantom/config.js';
import { writePhantom } from '../../../datasets/phantom/index.js';
import { DEFAULT_SPLIT_SEED } from '../../../datasets/splits.js';
import { SPLIT_NAMES } from '../../../datasets/dataset.js';
import { summarizeDataset, type InspectSummary } from '../../data/inspect.js';
import { fmt, formatTable } from '../../core/table.js';
import { describeBackend, info_, startBackend } from '../context.js';
import { parseChannels, parseList, parsePositiveInt, parseSeed, parseSize, readJsonFile } from '../options.js';
import type { BackendInfo } from '../../backend/index.js';
import { JsonOutput, withDataLoadOptions, withExample, withSharedOptions, type DataLoadCliOptions, type SharedOptions } from './shared.js';

export function registerDataCommands(program: Command): void {
  const data = withExample(program.command('data').description('make and inspect datasets'), 'medsynth data phantom --out data/phantom');

  withExample(withSharedOptions(
    data
      .command('phantom')
      .description('write the built-in phantom chest-radiograph dataset (PNGs + manifest.csv)')
      .requiredOption('--out <dir>', 'output folder (must not exist)')
      .option('--n <count>', 'number of images', parsePositiveInt, 2000)
      .option('--size <px>', 'image side: 28, 32, 64 or 128', parseSize, 64)
      .option('--seed <int>', 'random seed', parseSeed, 1)
      .option('--config <file.json>', 'phantom settings (class and group imbalance, sites, ...)'),
  ), 'medsynth data phantom --out data/phantom --n 2000 --size 64').action(async (opts: PhantomCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const result = await runPhantom(opts);
    json.write({ command: 'data phantom', backend, ...result });
    if (!json.stdout) info_(`wrote ${result.n} phantom images (seed ${result.seed}) to ${result.out}`);
  });

  withExample(withDataLoadOptions(withSharedOptions(
    data
      .command('inspect')
      .description('counts per class × group, split sizes, geometry and balance indices of a dataset')
      .argument('<data>', 'folder with manifest.csv, a folder of DICOM files, a manifest .csv, or a MedMNIST .npz')
      .option('--size <px>', 'side the images are loaded at: 28, 32, 64 or 128', parseSize, 64)
      .option('--channels <n>', '1 or 3 (default: as the images are)', parseChannels)
      .option('--bins <spec>', "bin edges for numeric columns, e.g. 'age=30,45,60,75' (default: decades)")
      .option('--attributes <cols>', 'attribute columns to use (default: all)', parseList)
      .option('--group-by <cols>', 'attributes that define a group for the cell counts (default: sex)', parseList)
      .option('--split-seed <int>', 'seed of the train/holdout/test split', parseSeed, DEFAULT_SPLIT_SEED),
  )), "medsynth data inspect data/ham10000 --size 64 --bins 'age=30,45,60,75'", 'medsynth data inspect dicom/ --labels labels.csv --bins age=40,60').action(async (path: string, opts: InspectCliOptions & DataLoadCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const summary = runInspect(path, opts);
    json.write({ command: 'data inspect', backend, ...summary });
    if (!json.stdout) process.stdout.write(formatInspect(summary, backend));
  });
}

export interface PhantomCliOptions extends SharedOptions {
  out: string;
  n: number;
  size: number;
  seed: number;
  config?: string;
}

export async function runPhantom(opts: Omit<PhantomCliOptions, keyof SharedOptions>) {
  const config = resolvePhantomConfig(opts.config ? readJsonFile(opts.config, '--config') : {}, opts.config ?? 'defaults');
  const result = await writePhantom({ out: resolve(opts.out), n: opts.n, size: opts.size, seed: opts.seed, config });
  return { out: result.out, n: result.n, size: opts.size, seed: opts.seed, config };
}

export interface InspectCliOptions extends SharedOptions {
  size: number;
  channels?: 1 | 3;
  bins?: string;
  attributes?: string[];
  groupBy?: string[];
  splitSeed: number;
}

export function runInspect(path: string, opts: Omit<InspectCliOptions, keyof SharedOptions>): InspectSummary {
  const ds = loadDataset({
    path,
    size: opts.size,
    channels: opts.channels,
    bins: opts.bins ? parseBinsOption(opts.bins) : undefined,
    attributes: opts.attributes,
  });
  return summarizeDataset(ds, { groupBy: opts.groupBy, splitSeed: opts.splitSeed });
}

/** The human-readable inspect report. */
export function formatInspect(s: InspectSummary, backend: BackendInfo): string {
  const names = s.classes.map((c) => c.name);
  const withTotal = (row: number[]) => [...row, row.reduce((a, b) => a + b, 0)];
  const out: string[] = [];
  out.push(`dataset   ${s.dataset} (${s.source.kind}, ${s.source.path})`);
  const d = s.source.sourceDims;
  const span = (r: [number, number]) => (r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`);
  out.push(`images    ${s.n}, source ${span(d.width)}x${span(d.height)} px at ${s.bitDepth} bits, loaded at ${s.width}x${s.height}, ${s.channels} channel${s.channels > 1 ? 's' : ''}`);
  out.push(`patients  ${s.patients === null ? 'no patient_id column (privacy unit: image)' : `${s.patients} (privacy unit: patient)`}`);
  out.push(`sha256    ${s.source.fingerprint}`);
  if (s.source.tags) {
    out.push(`DICOM     tags read (files lacking each): ${s.source.tags.map((t) => `${t.keyword} ${t.tag} ${t.missing}`).join(', ')}`);
    out.push(`          window ${s.source.preprocessing?.window ?? '?'}, frames ${s.source.preprocessing?.frames ?? 'first'}; no tag value is kept (patient ids are salted hashes)`);
  }
  out.push(`backend   ${describeBackend(backend)}`);
  out.push('');
  const origin = s.splits.origin === 'source' ? 'as given by the data' : `seed ${s.splits.seed}, grouped by ${s.splits.unit}`;
  out.push(`Splits (${origin})`);
  const splitRows: (string | number)[][] = SPLIT_NAMES.map((name, k) => [name, ...withTotal(s.splits.byClass[k]!)]);
  splitRows.push(['total', ...withTotal(s.classes.map((c) => c.count))]);
  out.push(formatTable(['split', ...names, 'total'], splitRows));
  for (const a of s.attributes) {
    out.push('');
    out.push(formatTable([a.name, ...names, 'total'], a.values.map((v, i) => [v, ...withTotal(a.counts[i]!)])));
  }
  const c = s.cells;
  out.push('');
  const groupLabel = c.groupBy.length ? c.groupBy.join(' × ') : 'none';
  out.push(`Class × group cells (group: ${groupLabel}): ${c.diversity.cells} cells, ${c.diversity.emptyCells} empty`);
  out.push(formatTable(['class', ...c.groups], c.counts.map((row, k) => [names[k]!, ...row])));
  out.push(
    `Gini ${fmt(c.diversity.gini)} (0 = even)   Shannon ${fmt(c.diversity.shannon)} nats   Pielou evenness ${fmt(c.diversity.pielou)} (1 = even)`,
  );
  return out.join('\n') + '\n';
}
