/** `medsynth sample`: images from a trained run, with a manifest. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { reconstructionGrid } from '../../sample/reconstruct.js';
import { sampleRun } from '../../sample/sample.js';
import { info_, printJson, startBackend, withCommonOptions, type CommonOptions } from '../context.js';
import { parsePositiveInt, parseSeed } from '../options.js';

interface SampleCliOptions extends CommonOptions {
  model: string;
  n: number;
  label?: string;
  where?: Record<string, string>;
  seed: number;
  out: string;
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
  withCommonOptions(
    program
      .command('reconstruct')
      .description('write a PNG grid of REAL images (from the run\'s data) beside their cVAE reconstructions')
      .requiredOption('--model <run>', 'run folder of an encoder-decoder generator (cvae)')
      .addOption(new Option('--split <name>', 'which split the real images come from').choices(['train', 'holdout', 'test']).default('test'))
      .option('--n <count>', 'number of images', parsePositiveInt, 16)
      .option('--seed <int>', 'which images are picked', parseSeed, 1)
      .requiredOption('--out <file.png>', 'output PNG (contains real images)'),
  ).action(async (opts: CommonOptions & { model: string; split: 'train' | 'holdout' | 'test'; n: number; seed: number; out: string }) => {
    const backend = await startBackend(opts);
    const r = await reconstructionGrid({ run: opts.model, split: opts.split, n: opts.n, seed: opts.seed, out: opts.out });
    if (opts.json) printJson({ command: 'reconstruct', backend, ...r });
    else info_(`wrote ${r.n} real ${opts.split} images and their reconstructions to ${r.out}`);
  });

  withCommonOptions(
    program
      .command('sample')
      .description('generate images from a trained run')
      .requiredOption('--model <run>', 'run folder written by medsynth train')
      .option('--n <count>', 'number of images', parsePositiveInt, 100)
      .option('--label <class>', 'class name or index (default: drawn from the training distribution)')
      .option('--where <conds>', "attribute values, e.g. 'sex=female,age=60-69'", parseWhere)
      .option('--seed <int>', 'sampling seed', parseSeed, 1)
      .requiredOption('--out <dir>', 'output folder (must not exist)'),
  ).action(async (opts: SampleCliOptions) => {
    const backend = await startBackend(opts);
    const r = await sampleRun({ run: opts.model, n: opts.n, label: opts.label, where: opts.where, seed: opts.seed, out: opts.out });
    if (opts.json) printJson({ command: 'sample', backend, ...r });
    else info_(`wrote ${r.n} images (${Object.entries(r.perClass).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.bitDepth}-bit, seed ${r.seed}, model ${r.modelId}) to ${r.out}`);
  });
}
