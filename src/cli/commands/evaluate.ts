/** `medsynth evaluate`: fidelity, utility & fairness, and diversity of a synthetic set against real data. */
import { statSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseBinsOption } from '../../../datasets/attributes.js';
import { DEFAULT_SPLIT_SEED } from '../../../datasets/splits.js';
import { DOMAIN_CNN_DEFAULT_STEPS } from '../../../eval/features/domain-cnn.js';
import { EXTRACTORS, parseExtractorSpec, type ExtractorSpec } from '../../../eval/features/index.js';
import { ConfigError } from '../../core/errors.js';
import { openRun } from '../../train/open.js';
import { writeFileAtomic } from '../../core/fs.js';
import { DEFAULT_MIN_GROUP } from '../../../eval/fairness/bootstrap.js';
import { DEFAULT_CLASSIFIER_SEEDS, evaluate } from '../../evaluate/evaluate.js';
import { formatEvaluation } from '../../evaluate/render.js';
import { BACKEND_CHOICES } from '../../backend/index.js';
import { info_, printJson, startBackend } from '../context.js';
import { parseList, parsePositiveInt, parseSeed, parseSize } from '../options.js';
import { progressPrinter, withDataLoadOptions, type DataLoadCliOptions } from './shared.js';

/** Where domain-cnn weights are cached unless --cache-dir or $MEDSYNTH_CACHE_DIR says otherwise (git-ignored). */
export const DEFAULT_CACHE_DIR = '.cache/medsynth';

interface EvaluateCliOptions {
  real?: string;
  run?: string;
  synthetic: string;
  augmented?: string;
  features: ExtractorSpec;
  size?: number;
  bins?: string;
  groupBy?: string[];
  positive?: string;
  splitSeed: number;
  seed: number;
  classifierSteps: number;
  classifierSeeds: number;
  modes?: number;
  minSlice: number;
  minGroup: number;
  cacheDir?: string;
  cache: boolean;
  backend?: string;
  json?: string | boolean;
}

function parseFeatures(value: string): ExtractorSpec {
  const spec = parseExtractorSpec(value);
  if (spec === null) throw new InvalidArgumentError(`use ${EXTRACTORS.join(', ')} or a FILE.npy of your own features`);
  return spec;
}

function parseModes(value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 2)) throw new InvalidArgumentError('expected a whole number of clusters >= 2');
  return n;
}

export function registerEvaluateCommand(program: Command): void {
  withDataLoadOptions(program
    .command('evaluate')
    .description('fidelity, utility & fairness, and diversity of synthetic images, each beside a real-data baseline')
    .option('--real <path>', 'the real dataset: folder with manifest.csv, a manifest .csv, or a MedMNIST .npz (default with --run: the run\'s data)')
    .option('--run <dir>', "the generator's run folder: its data (sha256 checked), split (splits.csv), bins and conditioning vocabulary replace --split-seed and --bins")
    .requiredOption('--synthetic <dir>', 'synthetic images: a medsynth sample (or balance) output folder; only rows with synthetic=1 are read')
    .option('--augmented <dir>', 'the real + synthetic training set for utility (c), e.g. medsynth balance output (default: real train + --synthetic)')
    .option('--features <name>', `feature extractor: ${EXTRACTORS.join(', ')}, or FILE.npy (real rows in load order, then synthetic rows)`, parseFeatures, 'domain-cnn' as ExtractorSpec)
    .option('--size <px>', 'evaluation image side: 28, 32, 64 or 128 (default: the size the generator was trained at, else the first synthetic image\'s)', parseSize)
    .option('--bins <spec>', "bin edges for numeric columns of the real data, as given to train, e.g. 'age=30,45,60,75'")
    .option('--group-by <attrs>', 'attributes whose values are the demographic groups (default: sex if present)', parseList)
    .option('--positive <class>', 'positive class of binary fairness rates (default: the rarest class of the real train split)')
    .option('--split-seed <int>', 'without --run (a foreign synthetic set): seed of the train/holdout/test split; use the one the model was trained with', parseSeed, DEFAULT_SPLIT_SEED)
    .option('--seed <int>', 'evaluation seed (classifiers, extractor, k-means, KID subsets)', parseSeed, 1)
    .option('--classifier-steps <n>', 'training steps of each CNN (evaluation classifier, domain-cnn)', parsePositiveInt, DOMAIN_CNN_DEFAULT_STEPS)
    .option('--classifier-seeds <n>', 'evaluation classifiers per utility way, each with its own seed; mean and 95% t-interval over them', parsePositiveInt, DEFAULT_CLASSIFIER_SEEDS)
    .option('--modes <k>', 'k-means clusters for mode coverage and NDB (default: train images / 10, 2..50)', parseModes)
    .option('--min-slice <n>', 'fidelity is left out for slices with fewer images on either side', parsePositiveInt, 10)
    .option('--min-group <n>', 'groups with fewer real test images are listed and left out of the fairness figures and verdict', parsePositiveInt, DEFAULT_MIN_GROUP)
    .option('--cache-dir <dir>', `cache folder: domain-cnn weights in DIR/domain-cnn (default: $MEDSYNTH_CACHE_DIR or ${DEFAULT_CACHE_DIR}), decoded images in DIR/datasets (default: $MEDSYNTH_CACHE or the user cache folder)`)
    .option('--no-cache', 'do not read or write the domain-cnn weight cache or the decoded-image cache')
    .addOption(new Option('--backend <name>', 'compute backend (default: $MEDSYNTH_BACKEND or auto)').choices([...BACKEND_CHOICES]))
    .option('--json [file]', 'write the full result as JSON to FILE (atomically), or to stdout without FILE'), { cache: false })
    .action(async (opts: EvaluateCliOptions & DataLoadCliOptions, cmd: Command) => {
      const jsonFile = typeof opts.json === 'string' ? opts.json : null;
      const jsonStdout = opts.json === true;
      if (jsonFile !== null) {
        let isDir = false;
        try {
          isDir = statSync(jsonFile).isDirectory();
        } catch {
          // a new file
        }
        if (isDir) throw new ConfigError(`--json ${jsonFile} is a folder; give a file name, e.g. ${jsonFile}/evaluation.json`);
      }
      // --run: the run folder says which data, split, bins and vocabulary (src/train/open.ts).
      const run = opts.run !== undefined ? openRun(opts.run, { option: '--run' }) : null;
      if (run) {
        for (const [flag, key] of [['--split-seed', 'splitSeed'], ['--bins', 'bins']] as const) {
          if (cmd.getOptionValueSource(key) === 'cli') throw new ConfigError(`${flag}: --run ${opts.run} supplies the run's ${key === 'bins' ? 'bins' : 'split (splits.csv)'}; drop ${flag}, or drop --run for a foreign synthetic set`);
        }
      }
      const real = opts.real ?? run?.dataPath;
      if (real === undefined) throw new ConfigError('evaluate needs the real data: give --real PATH, or --run RUN (the generator\'s run folder, whose data it uses)');
      const backend = await startBackend({ backend: opts.backend, json: jsonStdout });
      const cacheDir = opts.cache ? (opts.cacheDir ?? process.env.MEDSYNTH_CACHE_DIR ?? DEFAULT_CACHE_DIR) : null;
      const result = await evaluate({
        real,
        synthetic: opts.synthetic,
        augmented: opts.augmented,
        features: opts.features,
        size: opts.size,
        bins: run ? run.record.bins : opts.bins ? parseBinsOption(opts.bins) : undefined,
        groupBy: opts.groupBy,
        positive: opts.positive,
        splitSeed: run ? run.record.splitSeed : opts.splitSeed,
        ...(run
          ? { run: { dir: run.dir, fingerprint: run.record.fingerprint, size: run.record.size, splits: run.splits(), splitSummary: run.card.splits, vocabulary: run.conditions.spec } }
          : {}),
        seed: opts.seed,
        classifierSteps: opts.classifierSteps,
        classifierSeeds: opts.classifierSeeds,
        modes: opts.modes,
        minSlice: opts.minSlice,
        minGroup: opts.minGroup,
        cacheDir,
        // Progress on stderr: each stage's start, then a line with the bar and the time left every 15 s.
        onProgress: jsonStdout ? undefined : progressPrinter(info_, { everyMs: 15000 }),
      });
      const full = { ...result, backend };
      if (jsonFile !== null) writeFileAtomic(jsonFile, JSON.stringify(full, null, 2) + '\n');
      if (jsonStdout) {
        printJson(full);
        return;
      }
      process.stdout.write(formatEvaluation(result) + '\n');
      if (jsonFile !== null) info_(`wrote ${jsonFile}`);
    });
}
