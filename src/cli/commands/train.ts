/** `medsynth train`: fit a generator on a dataset's train split, with checkpoints and resume. */
import { existsSync, readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_SPLIT_SEED } from '../../../datasets/splits.js';
import { generatorKinds } from '../../../models/registry.js';
import { ConfigError } from '../../core/errors.js';
import { ACCOUNTANTS } from '../../privacy/accountants/index.js';
import type { Progress } from '../../train/loop.js';
import { AUTO_MODEL, resumeRun, trainRun, type RunConfig } from '../../train/run.js';
import { normaliseTrainOptions, type TrainOptions } from '../../train/request.js';
import type { Selection } from '../../train/select.js';
import { info_, startBackend } from '../context.js';
import { parseChannels, parseList, parsePositiveInt, parseSeed, parseSize } from '../options.js';
import { formatSeconds, JsonOutput, withDataLoadOptions, withExample, withSharedOptions, type SharedOptions } from './shared.js';

/** train's parsed options: a new run's options (src/train/request.ts) plus where the run goes. */
interface TrainCliOptions extends SharedOptions, Omit<TrainOptions, 'data' | 'epochsDefaulted'> {
  data?: string;
  out?: string;
  resume?: string;
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

/** Exit codes after a stop on a signal: 128 + the signal's number, as a shell reports it. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export function registerTrainCommand(program: Command): void {
  const cmd = withSharedOptions(
    program
      .command('train')
      .description('train a generator on the train split of a dataset')
      .addOption(new Option('--model <kind>', `generator (default: with --dp, '${AUTO_MODEL}' = the private generator the measured results favour for the data's size and budget; without, cvae)`).choices([AUTO_MODEL, ...generatorKinds()]))
      .option('--data <path>', 'folder with manifest.csv, a manifest .csv, or a MedMNIST .npz (required for a new run)')
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
      .option('--out <dir>', 'new run folder, e.g. runs/NAME (required for a new run)')
      .option('--resume <dir>', 'continue the run in this folder from its last checkpoint (with --epochs: up to that many)')
      .option('--dp', 'train with DP-SGD (Poisson sampling, per-unit clipping, Gaussian noise); the default for dpgan')
      .option('--no-dp', 'dpgan: train WITHOUT differential privacy (a non-private baseline)')
      .option('--model-config <json>', "generator options as a JSON object or a .json file, e.g. '{\"emaDecay\":0.999}' (the options and their defaults: the model's config schema in models/<kind>/index.ts; the model card records them; flags win)", parseModelConfig)
      .option('--init-from <run>', 'start from the final weights of a finished run of the same model and shapes, trained on PUBLIC data (public pretraining); the privacy claim covers only this run\'s data')
      .option('--d-steps <n>', 'dpgan: discriminator steps per generator step (default 10 with DP, 1 with --no-dp; the starting ratio when --model-config sets {"dStepsSchedule":"adaptive"}; see models/dpgan)', parsePositiveInt)
      .option('--target-epsilon <e>', 'DP budget; the noise multiplier is calibrated to it, and training stops before exceeding it', parsePositive)
      .option('--delta <d>', 'DP delta (default: min(1e-5, 1/(10 N)) for N privacy units)', parsePositive)
      .option('--max-grad-norm <c>', 'DP clipping norm C per privacy unit', parsePositive, 1)
      .option('--noise-multiplier <s>', 'DP noise std / C (default: calibrated to --target-epsilon)', parsePositive)
      .addOption(new Option('--accountant <name>', 'DP accountant (default: prv for a one-shot release such as dpmerf, where it is exact; rdp for DP-SGD)').choices([...ACCOUNTANTS]))
      .addOption(new Option('--privacy-unit <unit>', 'what DP protects (default: patient when the data has patient_id)').choices(['image', 'patient']))
      .option('--audit-canaries <m>', 'an AUDIT run (not for release): train m secret canaries in, so `medsynth audit` can lower-bound epsilon in one run (Steinke et al. 2023); e.g. 1000', parsePositiveInt)
      .addOption(new Option('--canary-kind <kind>', 'gradient: Dirac gradient canaries, scored from every released noisy gradient (white-box)').choices(['gradient', 'input']).default('gradient'))
      .option('--canary-seed <int>', 'seed of the secret canary inclusion bits (default: random; kept in the run folder\'s canary-key.json)', parseSeed),
  );
  withExample(
    cmd,
    'medsynth train --data data/phantom --out runs/cvae --size 32 --epochs 20 --dp --target-epsilon 8',
    'medsynth train --data data/phantom --out runs/audit --model cvae --size 32 --dp --target-epsilon 4 --audit-canaries 1000',
  );
  withDataLoadOptions(cmd);
  cmd.action(async (opts: TrainCliOptions, cmd: Command) => {
    if (!opts.resume && !(opts.data && opts.out)) {
      throw new ConfigError('medsynth train needs --data and --out for a new run, or --resume runs/NAME to continue one');
    }
    if (opts.resume && opts.initFrom) throw new ConfigError('--init-from starts a new run; a resumed run continues from its own checkpoint (drop --init-from)');
    const json = new JsonOutput(opts.json);
    const quiet = json.stdout; // --json: stdout holds JSON lines only, and stderr stays quiet
    const backend = await startBackend({ backend: opts.backend, json: quiet });
    if (opts.initFrom && !quiet) info_(`--init-from ${opts.initFrom}: starting from that run's weights; its training data must be PUBLIC, as this run's privacy claim does not cover it`);
    const tty = process.stderr.isTTY && !quiet;
    const onProgress = (p: Progress) => {
      if (!tty) return;
      const losses = Object.entries(p.losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join('  ');
      const width = 20;
      const done = Math.round((width * p.stepInEpoch) / p.stepsPerEpoch);
      const bar = '#'.repeat(done) + '-'.repeat(width - done);
      const eps = p.epsilon !== undefined ? `  eps ${p.epsilon.toFixed(3)}` : '';
      process.stderr.write(
        `\repoch ${p.epoch}/${p.epochs} [${bar}] step ${p.stepInEpoch}/${p.stepsPerEpoch}  ${losses}${eps}  ${p.imagesPerSecond.toFixed(0)} img/s  ETA ${formatSeconds(p.etaSeconds)}   `,
      );
    };
    const onEpoch = (e: { epoch: number; losses: Record<string, number>; imagesPerSecond: number; elapsedMs: number; epsilon?: number }) => {
      json.line({ event: 'epoch', ...e });
      if (!quiet) {
        if (tty) process.stderr.write('\n');
        const losses = Object.entries(e.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ');
        const eps = e.epsilon !== undefined ? `  eps ${e.epsilon.toFixed(3)}` : '';
        info_(`epoch ${e.epoch}: ${losses}${eps}  ${e.imagesPerSecond.toFixed(0)} img/s  ${(e.elapsedMs / 1000).toFixed(1)} s`);
      }
    };
    // The first signal stops the loop after its step and a checkpoint; the exit code then says which
    // signal stopped the run (130 Ctrl-C, 143 SIGTERM), so a script can tell a stop from a finished run.
    let signal: keyof typeof SIGNAL_EXIT_CODES | null = null;
    const onSignal = (name: NodeJS.Signals) => {
      const sig = name === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
      if (signal) process.exit(SIGNAL_EXIT_CODES[sig]); // a second signal: leave now
      signal = sig;
      if (!quiet) info_('\nstopping after this step; writing a checkpoint (Ctrl-C again to quit at once)');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const onSelect = (sel: Selection) => {
        json.line({ event: 'selection', ...sel });
        if (!quiet) info_(`--model ${AUTO_MODEL}: ${sel.reason} (${sel.evidence}); ${sel.epochs} epochs unless --epochs is given`);
      };
      const onWarning = (m: string) => {
        if (!quiet) info_(`warning: ${m}`);
      };
      const cb = { backend, onProgress, onEpoch, onSelect, onWarning, shouldStop: () => signal !== null };
      const summary = opts.resume
        ? await resumeRun(opts.resume, cb, cmd.getOptionValueSource('epochs') === 'cli' ? { epochs: opts.epochs } : {})
        : await trainRun(opts.out!, newRunRequest(opts, cmd.getOptionValueSource('epochs') === 'default', quiet), cb);
      json.line({ event: 'end', command: 'train', backend, ...summary, ...(signal ? { signal } : {}) });
      if (signal) process.exitCode = SIGNAL_EXIT_CODES[signal];
      if (quiet) return;
      if (summary.status === 'stopped') info_(`stopped at step ${summary.step}; continue with: medsynth train --resume ${opts.resume ?? opts.out}`);
      else {
        if (summary.status === 'budget') info_(`stopped at step ${summary.step}: one more step would exceed the privacy budget`);
        const pv = summary.privacy;
        if (pv) info_(`privacy: (epsilon ${pv.epsilon.toFixed(3)}, delta ${pv.delta})-DP per ${pv.unit}, ${pv.accountant.toUpperCase()} accountant, noise multiplier ${pv.noiseMultiplier.toFixed(4)}, ${pv.steps} steps`);
        info_(`trained in ${summary.trainingSeconds.toFixed(1)} s; model card: ${summary.modelCard}`);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

/** --model-config: an inline JSON object, or the path of a .json file holding one. */
function parseModelConfig(value: string): Record<string, unknown> {
  const inline = value.trim().startsWith('{');
  let text = value;
  if (!inline) {
    if (!existsSync(value)) throw new InvalidArgumentError(`--model-config ${value}: not a JSON object and no such file`);
    text = readFileSync(value, 'utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`--model-config ${inline ? '' : value + ' '}is not valid JSON (${(err as Error).message}); give an object such as '{"emaDecay":0.999}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('--model-config must be a JSON object of generator options');
  return parsed as Record<string, unknown>;
}

/** A new run's request from the parsed flags (src/train/request.ts owns the policy); its notices on stderr. */
function newRunRequest(opts: TrainCliOptions, epochsDefaulted: boolean, quiet: boolean): RunConfig {
  const { out: _out, resume: _resume, json: _json, backend: _backend, ...rest } = opts;
  const { request, notices } = normaliseTrainOptions({ ...rest, data: opts.data!, epochsDefaulted });
  if (!quiet) for (const n of notices) info_(n);
  return request;
}
