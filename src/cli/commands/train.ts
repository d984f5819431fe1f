/** `medsynth train`: fit a generator on a dataset's train split, with checkpoints and resume. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseBinsOption } from '../../../datasets/attributes.js';
import { DEFAULT_SPLIT_SEED } from '../../../datasets/splits.js';
import { generatorKinds } from '../../../models/registry.js';
import { ConfigError } from '../../core/errors.js';
import type { Progress } from '../../train/loop.js';
import { resumeRun, trainRun, type RunConfig } from '../../train/run.js';
import { info_, printJson, startBackend, withCommonOptions, type CommonOptions } from '../context.js';
import { parseChannels, parseList, parsePositiveInt, parseSeed, parseSize } from '../options.js';

interface TrainCliOptions extends CommonOptions {
  model: string;
  data?: string;
  size: number;
  channels?: 1 | 3;
  condition: string[];
  epochs: number;
  batchSize: number;
  lr?: number;
  latent?: number;
  beta?: number;
  warmupSteps?: number;
  likelihood?: string;
  seed: number;
  splitSeed: number;
  out?: string;
  resume?: string;
  bins?: string;
  attributes?: string[];
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0)) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

export function registerTrainCommand(program: Command): void {
  withCommonOptions(
    program
      .command('train')
      .description('train a generator on the train split of a dataset')
      .addOption(new Option('--model <kind>', 'generator').choices(generatorKinds()).default('cvae'))
      .option('--data <path>', 'folder with manifest.csv, a manifest .csv, or a MedMNIST .npz')
      .option('--size <px>', 'image side: 28, 32, 64 or 128', parseSize, 64)
      .option('--channels <n>', '1 or 3 (default: as the images are)', parseChannels)
      .option('--condition <list>', "what the generator is conditioned on: 'label' and attribute names", parseList, ['label'])
      .option('--epochs <n>', 'passes over the train split', parsePositiveInt, 20)
      .option('--batch-size <n>', 'images per step', parsePositiveInt, 64)
      .option('--lr <rate>', 'Adam learning rate', parsePositive)
      .option('--latent <n>', 'cVAE latent size', parsePositiveInt)
      .option('--beta <b>', 'cVAE KL weight', parseNonNegative)
      .option('--warmup-steps <n>', 'cVAE KL warm-up steps', parsePositiveInt)
      .addOption(new Option('--likelihood <kind>', 'cVAE likelihood').choices(['bernoulli', 'gaussian']))
      .option('--seed <int>', 'training seed', parseSeed, 1)
      .option('--split-seed <int>', 'seed of the train/holdout/test split', parseSeed, DEFAULT_SPLIT_SEED)
      .option('--bins <spec>', "bin edges for numeric columns, e.g. 'age=30,45,60,75'")
      .option('--attributes <cols>', 'attribute columns to read (default: all)', parseList)
      .option('--out <dir>', 'new run folder, e.g. runs/NAME')
      .option('--resume <dir>', 'continue the run in this folder from its last checkpoint (with --epochs: up to that many)'),
  ).action(async (opts: TrainCliOptions, cmd: Command) => {
    if (!opts.resume && !(opts.data && opts.out)) {
      throw new ConfigError('medsynth train needs --data and --out for a new run, or --resume runs/NAME to continue one');
    }
    const backend = await startBackend(opts);
    const tty = process.stderr.isTTY && !opts.json;
    const onProgress = (p: Progress) => {
      if (!tty) return;
      const losses = Object.entries(p.losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join('  ');
      const width = 20;
      const done = Math.round((width * p.stepInEpoch) / p.stepsPerEpoch);
      const bar = '#'.repeat(done) + '-'.repeat(width - done);
      process.stderr.write(
        `\repoch ${p.epoch}/${p.epochs} [${bar}] step ${p.stepInEpoch}/${p.stepsPerEpoch}  ${losses}  ${p.imagesPerSecond.toFixed(0)} img/s  ETA ${formatSeconds(p.etaSeconds)}   `,
      );
    };
    const onEpoch = (e: { epoch: number; losses: Record<string, number>; imagesPerSecond: number; elapsedMs: number }) => {
      const line = { event: 'epoch', ...e };
      if (opts.json) process.stdout.write(JSON.stringify(line) + '\n');
      else {
        if (tty) process.stderr.write('\n');
        const losses = Object.entries(e.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ');
        info_(`epoch ${e.epoch}: ${losses}  ${e.imagesPerSecond.toFixed(0)} img/s  ${(e.elapsedMs / 1000).toFixed(1)} s`);
      }
    };
    let stop = false;
    const onSignal = () => {
      if (stop) process.exit(130); // a second Ctrl-C: leave now
      stop = true;
      if (!opts.json) info_('\nstopping after this step; writing a checkpoint (Ctrl-C again to quit at once)');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const cb = { backend, onProgress, onEpoch, shouldStop: () => stop };
      const summary = opts.resume
        ? await resumeRun(opts.resume, cb, cmd.getOptionValueSource('epochs') === 'cli' ? { epochs: opts.epochs } : {})
        : await trainRun(opts.out!, runConfig(opts), cb);
      if (opts.json) printJson({ event: 'end', command: 'train', backend, ...summary });
      else if (summary.status === 'stopped') info_(`stopped at step ${summary.step}; continue with: medsynth train --resume ${opts.resume ?? opts.out}`);
      else info_(`trained in ${summary.trainingSeconds.toFixed(1)} s; model card: ${summary.modelCard}`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

function runConfig(opts: TrainCliOptions): RunConfig {
  const generator: Record<string, unknown> = {};
  if (opts.lr !== undefined) generator.lr = opts.lr;
  if (opts.latent !== undefined) generator.latent = opts.latent;
  if (opts.beta !== undefined) generator.beta = opts.beta;
  if (opts.warmupSteps !== undefined) generator.warmupSteps = opts.warmupSteps;
  if (opts.likelihood !== undefined) generator.likelihood = opts.likelihood;
  const condition = opts.condition.includes('label') ? opts.condition : ['label', ...opts.condition];
  return {
    model: opts.model,
    data: opts.data!,
    size: opts.size,
    channels: opts.channels,
    bins: opts.bins ? parseBinsOption(opts.bins) : undefined,
    attributes: opts.attributes,
    condition,
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    splitSeed: opts.splitSeed,
    generator,
  };
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}
