/** `medsynth sample`: images from a trained run, with a manifest. */
import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { reconstructionGrid } from '../../sample/reconstruct.js';
import { PROPORTIONS_OPTION, type OpenConditionsRecord } from '../../sample/proportions.js';
import { sampleRun } from '../../sample/sample.js';
import { info_, startBackend } from '../context.js';
import { parsePositiveInt, parseSeed } from '../options.js';
import { JsonOutput, withDataLoadOptions, withExample, withSharedOptions, type DataLoadCliOptions, type SharedOptions } from './shared.js';

interface SampleCliOptions extends SharedOptions {
  model: string;
  n: number;
  label?: string;
  where?: Record<string, string>;
  seed: number;
  out: string;
  conditionProportions?: string;
}

export const PROPORTIONS_HELP =
  "public proportions for open conditions: CSV naming conditions (label, attributes) and a 'proportion' or 'count' column (default: the run's counts; uniform for DP-SGD runs)";

/** The human line about open conditions: a warning when some were drawn uniformly. */
export function openConditionsLine(r: OpenConditionsRecord): string {
  return r.uniform.length ? `warning: ${r.note}` : r.note;
}

/** `sex=female,age=60-69` → { sex: 'female', age: '60-69' }. */
export function parseWhere(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new InvalidArgumentError(`'${part}' is not attribute=value`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export function registerSampleCommand(program: Command): void {
  withExample(withDataLoadOptions(withSharedOptions(
    program
      .command('reconstruct')
      .description('write a PNG grid of REAL images (from the run\'s data) beside their cVAE reconstructions')
      .requiredOption('--model <run>', 'run folder of an encoder-decoder generator (cvae)')
      .addOption(new Option('--split <name>', 'which split the real images come from').choices(['train', 'holdout', 'test']).default('test'))
      .option('--n <count>', 'number of images', parsePositiveInt, 16)
      .option('--seed <int>', 'which images are picked', parseSeed, 1)
      .requiredOption('--out <file.png>', 'new output PNG (contains real images; an existing file is refused)'),
  )), 'medsynth reconstruct --model runs/cvae --n 16 --out recon.png').action(async (opts: SharedOptions & DataLoadCliOptions & { model: string; split: 'train' | 'holdout' | 'test'; n: number; seed: number; out: string }) => {
    // Never overwrite: the user's file may be anything, and this one holds real images.
    if (existsSync(opts.out)) throw new ConfigError(`--out ${opts.out} already exists; choose a new file name or remove it first`);
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const r = await reconstructionGrid({ run: opts.model, split: opts.split, n: opts.n, seed: opts.seed, out: opts.out });
    json.write({ command: 'reconstruct', backend, ...r });
    if (!json.stdout) info_(`wrote ${r.n} real ${opts.split} images and their reconstructions to ${r.out}`);
  });

  withExample(withSharedOptions(
    program
      .command('sample')
      .description('generate images from a trained run')
      .requiredOption('--model <run>', 'run folder written by medsynth train')
      .option('--n <count>', 'number of images', parsePositiveInt, 100)
      .option('--label <class>', 'class name or index (default: drawn from the training distribution)')
      .option('--where <conds>', "attribute values, e.g. 'sex=female,age=60-69'", parseWhere)
      .option('--seed <int>', 'sampling seed', parseSeed, 1)
      .option(`${PROPORTIONS_OPTION} <file.csv>`, PROPORTIONS_HELP)
      .requiredOption('--out <dir>', 'output folder (must not exist)'),
  ), "medsynth sample --model runs/cvae --n 100 --label disease --where 'sex=female' --out samples/").action(async (opts: SampleCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const r = await sampleRun({ run: opts.model, n: opts.n, label: opts.label, where: opts.where, seed: opts.seed, out: opts.out, conditionProportions: opts.conditionProportions });
    json.write({ command: 'sample', backend, ...r });
    if (!json.stdout) info_(openConditionsLine(r.openConditions));
    if (!json.stdout) info_(`wrote ${r.n} images (${Object.entries(r.perClass).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.bitDepth}-bit, seed ${r.seed}, model ${r.modelId}) to ${r.out}`);
  });
}
