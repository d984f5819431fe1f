/**
 * `medsynth evaluate`: how good, useful and diverse a synthetic set is, each number beside what real data
 * scores on it.
 *
 * Data: with --run (the generator's run folder, read by the CLI through openRun), the real data must be the
 * run's (same sha256), its split is the run's splits.csv, its bins the run's, and the default groups are the
 * run's conditioning attributes; otherwise (a foreign synthetic set) the real dataset is split with
 * --split-seed (datasets/splits.ts; use the seed the generator was trained with). Its train split is the reference of every fidelity and diversity number and the only
 * data feature extractors are fitted on; its test split is the real-vs-real baseline of fidelity and the
 * test set of utility and fairness, and nothing else. Synthetic and augmented sets are matched to the real
 * classes and attribute values by name.
 *
 *   features   eval/features (domain-cnn | pixel-pca | FILE.npy), one extractor for everything
 *   fidelity   eval/fidelity: FID, KID, precision / recall / density / coverage of synthetic vs real train,
 *              and of real test vs real train (baseline); overall, per class, per group
 *   utility    eval/utility + eval/fairness: the classifier trained on (a) real train, (b) synthetic,
 *              (c) real + synthetic (--augmented, else real train + synthetic), (d) (c) with every synthetic
 *              row replaced by a duplicate of a real train image of its class x group cell (oversampling,
 *              the baseline a user would pick instead), each over --classifier-seeds seeds (mean and 95%
 *              t-interval), tested on real test; (c) is compared with (a) and with (d)
 *   fairness   eval/fairness/bootstrap.ts: groups with fewer than --min-group real test images listed and
 *              excluded; worst-group accuracy and equalized-odds difference over the rest, per way and
 *              (c) - (a), with stratified bootstrap intervals over the test images
 *   diversity  eval/diversity: class x group cell indices of the synthetic and augmented sets; k-means
 *              mode coverage and NDB of synthetic (and of real test, baseline) in the real train bins;
 *              intra-class mean pairwise distance of synthetic next to real
 *   learned    ./learned.ts: did the generator learn at all (distinct nearest records, mode coverage,
 *              conditional accuracy, each against real test); the report gates its verdicts on it
 *
 * Synthetic set: only rows with synthetic=1 (a balance folder's real rows are not synthetic), at the size
 * the generator's run was trained at unless --size says otherwise (./synthetic-source.ts).
 *
 * Seeds: one evaluation seed; each stage draws from a sub-seed derived by name (all recorded).
 * Privacy: the result holds aggregates only: no image, path of an image, id or patient identifier.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { imageLength, type Attribute, type ImageDataset, type SplitName } from '../../datasets/dataset.js';
import { MISSING } from '../../datasets/attributes.js';
import { loadDataset } from '../../datasets/load.js';
import { assignSplits } from '../../datasets/splits.js';
import { diversityIndices, type DiversityIndices } from '../../eval/diversity/indices.js';
import { fitModes, intraClassDistances, occupancy, selectRows, type Features, type ModeOccupancy } from '../../eval/diversity/modes.js';
import { DEFAULT_FAIRNESS_REPLICATES, DEFAULT_MIN_GROUP, fairnessBootstrap, type FairnessBootstrap } from '../../eval/fairness/bootstrap.js';
import { rarestClass } from '../../eval/fairness/metrics.js';
import { computeFeatures, extractorLabel, type ExtractorInfo, type ExtractorSpec } from '../../eval/features/index.js';
import { fidelity as fidelityOf } from '../../eval/fidelity/index.js';
import { gatherRows } from '../../eval/utility/gather.js';
import { untaughtClasses, utilityTable, type LabelledImages, type UtilityResult } from '../../eval/utility/index.js';
import { defaultGroupBy } from '../data/inspect.js';
import { ConfigError, DatasetError, UserError } from '../core/errors.js';
import { StageTracker, type ProgressCallback } from '../core/progress.js';
import { deriveSeed } from '../core/rng.js';
import { packageVersion } from '../core/version.js';
import { learnedEvidence, type LearnedEvidence } from './learned.js';
import { augmentedSyntheticFlags, oversamplingRecord, oversamplingWay, type OversamplingRecord } from './oversampling.js';
import { runImageSize, syntheticSource } from './synthetic-source.js';

export interface EvaluateRequest {
  real: string;
  synthetic: string;
  /** `medsynth balance` output for way (c); default real train + synthetic. */
  augmented?: string;
  features: ExtractorSpec;
  /** Image side; default the size the generator's run was trained at (else the first synthetic image's). */
  size?: number;
  bins?: Record<string, number[]>;
  /** Attributes whose value combinations are the groups; default `sex` if present, else the first. */
  groupBy?: string[];
  /** Positive class name for binary fairness rates; default the rarest class of the real train split. */
  positive?: string;
  splitSeed: number;
  /**
   * The generator's run (`--run`), as recorded in its folder: the real data's sha256, the split of every
   * image by id (splits.csv; `splitSeed` is then the run's), and the conditioning vocabulary.
   */
  run?: {
    dir: string;
    fingerprint: string;
    /** The image side the generator was trained at (the default evaluation size). */
    size: number;
    splits: ReadonlyMap<string, SplitName>;
    /** The model card's record of that split (seed, origin, unit, sizes, units). */
    splitSummary: EvaluateResult['splits'];
    vocabulary: { labels: string[]; attributes: { name: string; values: string[] }[] };
  };
  seed: number;
  /** Training steps of every CNN (evaluation classifier and domain-cnn extractor). */
  classifierSteps: number;
  /** Evaluation classifiers trained per utility way, each with its own seed (default 3). */
  classifierSeeds?: number;
  /** k-means clusters for mode coverage and NDB; default clamp(floor(train / 10), 2, 50). */
  modes?: number;
  /** Slices with fewer images than this on either side get no fidelity numbers (default 10). */
  minSlice?: number;
  /** Groups with fewer real test images are left out of the fairness figures (default 20). */
  minGroup?: number;
  /** Bootstrap replicates of the fairness intervals (default 1000). */
  fairnessReplicates?: number;
  /** domain-cnn weight cache; null = off. */
  cacheDir: string | null;
  /**
   * Progress by stage (features, fidelity, utility, diversity, fairness) with the fraction done and an ETA
   * (src/core/progress.ts): at each stage's start, after every CNN training step, after every fidelity
   * comparison, and once at the end with fraction 1.
   */
  onProgress?: ProgressCallback;
}

/** The stages, weighted by their expected cost in CNN training steps (measured on the demo: utility ≈ 85%). */
export function evaluateStages(o: { features: ExtractorSpec; classifierSteps: number; classifierSeeds: number; comparisons: number }) {
  return [
    { name: 'features', weight: o.features === 'domain-cnn' ? o.classifierSteps + 10 : 20 },
    { name: 'fidelity', weight: 30 * o.comparisons },
    { name: 'utility', weight: 4 * o.classifierSeeds * o.classifierSteps },
    { name: 'diversity', weight: 20 },
    { name: 'fairness', weight: 10 },
  ];
}

/** The part of eval/fidelity's result this report uses. */
export interface FidelityValues {
  fid: number | null;
  kid: { mean: number; std: number } | null;
  precision: number | null;
  recall: number | null;
  density: number | null;
  coverage: number | null;
  skipped?: { metric: string; reason: string }[];
}

export type FidelityFn = (
  real: Features,
  synthetic: Features,
  opts?: { k?: number; kidSubsets?: number; kidSubsetSize?: number; seed?: number },
) => Promise<FidelityValues>;

export interface FidelityComparison {
  /** Images on the compared side. */
  n: number;
  values: FidelityValues | null;
  /** Why there are no values (too few images, no such attribute in the set, a failure). */
  note: string | null;
}

export interface FidelityRow {
  slice: 'overall' | 'class' | 'group';
  name: string;
  /** Real train images in the slice (the reference side). */
  reference: number;
  synthetic: FidelityComparison;
  /** Real test vs real train: what a sample of the real distribution scores. */
  baseline: FidelityComparison;
}

export interface CellCounts {
  counts: number[][];
  indices: DiversityIndices;
}

export interface DatasetRecord {
  path: string;
  /** Rows of the manifest and those read (synthetic=1); null when every row was read. */
  rows?: { total: number; synthetic: number } | null;
  kind: string;
  fingerprint: string;
  n: number;
  perClass: number[];
}

export interface EvaluateResult {
  command: 'evaluate';
  version: string;
  seeds: { evaluation: number; split: number; features: number; classifier: number; oversampling: number; fidelity: number; modes: number; pairwise: number; learned: number; fairness: number };
  /** `sizeFrom`: --size, the generator's run.json, or the first synthetic image. */
  image: { size: number; sizeFrom: string; channels: 1 | 3; preprocessing: ImageDataset['source']['preprocessing'] };
  features: ExtractorInfo;
  datasets: { real: DatasetRecord; synthetic: DatasetRecord; augmented: DatasetRecord | null };
  classes: string[];
  groupBy: string[];
  groups: string[];
  splits: { seed: number; origin: string; unit: string; sizes: Record<string, number>; units: Record<string, number> };
  fidelity: {
    reference: 'real train split';
    minSlice: number;
    /** KID subsets are min(kidSubsetSizeMax, n) of each set. */
    settings: { k: number; kidSubsets: number; kidSubsetSizeMax: number; seed: number };
    rows: FidelityRow[];
  };
  /** `oversampling`: how way (d) was built; null when it was not (see its way's `skipped`). */
  utility: UtilityResult & { positiveName: string | null; mode: 'binary' | 'one-vs-rest'; oversampling: OversamplingRecord | null };
  /** Minimum group size and bootstrap intervals of the fairness figures; `groups`: names by group code. */
  fairness: FairnessBootstrap & { groups: string[]; compared: string };
  /** Evidence that the generator learned the data (./learned.ts). */
  learned: LearnedEvidence;
  diversity: {
    cells: {
      groupBy: string[];
      realTrain: CellCounts;
      synthetic: CellCounts | null;
      augmented: CellCounts | null;
      notes: string[];
    };
    modes: {
      k: number;
      seed: number;
      fittedOn: string;
      inertia: number;
      converged: boolean;
      realCounts: number[];
      synthetic: ModeOccupancy;
      /** Real test rows in the same bins: what a sample of the real distribution scores. */
      baseline: ModeOccupancy;
    };
    intraClass: {
      maxPerClass: number;
      perClass: { name: string; real: number | null; synthetic: number | null; ratio: number | null }[];
      all: { real: number | null; synthetic: number | null; ratio: number | null };
    };
  };
  seconds: { load: number; features: number; fidelity: number; utility: number; diversity: number };
}

const FIDELITY_K = 5;
const KID_SUBSETS = 100;
const KID_SUBSET_SIZE = 1000;
const MAX_PAIRWISE = 1000;
/** Classifier seeds per utility way unless --classifier-seeds says otherwise. */
export const DEFAULT_CLASSIFIER_SEEDS = 3;

/** The side length of the synthetic images (square), read from the first one. */
export function detectSize(path: string, option = '--synthetic'): number {
  const probe = loadDataset({ path, size: 28, limit: 1 });
  const { width, height } = probe.source.sourceDims;
  if (width[0] !== height[0]) {
    throw new ConfigError(`${option} ${path}: images are ${width[0]}x${height[0]}, not square; pass --size to choose the evaluation size`);
  }
  return width[0];
}

/** Class index in the real vocabulary for every image of `ds`, by class name. */
function realLabels(ds: ImageDataset, real: ImageDataset, option: string, path: string): Int32Array {
  const map = ds.labelNames.map((name) => real.labelNames.indexOf(name));
  return Int32Array.from(ds.labels, (l) => {
    if (map[l]! < 0) {
      throw new DatasetError(
        `${option} ${path}: class '${ds.labelNames[l]}' is not a class of the real data (${real.labelNames.join(', ')}); evaluate a synthetic set made by a model trained on this dataset`,
      );
    }
    return map[l]!;
  });
}

/**
 * Group code per image (index into the product of the real attributes' values), or null when `ds` lacks
 * one of the attributes, or leaves it empty (MISSING) on some row while the real data has no such value:
 * the synthetic rows of a model not conditioned on the attribute (`train --condition label`, then
 * `balance`) carry none, so they cannot be placed in a group and the set is read without groups, as
 * without the column. Any other value the real data does not have is an error (different --bins, usually).
 */
function groupCodes(ds: ImageDataset, attrs: Attribute[], option: string, path: string): Int32Array | null {
  const own = attrs.map((a) => ds.attributes.find((x) => x.name === a.name));
  if (own.some((a) => !a)) return null;
  // maps[k][own code] = the real data's code for the same value (-1 when it has none).
  const maps = own.map((a, k) => a!.values.map((v) => attrs[k]!.values.indexOf(v)));
  const out = new Int32Array(ds.n);
  for (let i = 0; i < ds.n; i++) {
    let g = 0;
    for (let k = 0; k < attrs.length; k++) {
      const code = maps[k]![own[k]!.codes[i]!]!;
      if (code < 0) {
        const value = own[k]!.values[own[k]!.codes[i]!];
        if (value === MISSING) return null;
        throw new DatasetError(
          `${option} ${path}: ${attrs[k]!.name}='${value}' is not a value of the real data (${attrs[k]!.values.join(', ')}); load the real data with the --bins the model was trained with`,
        );
      }
      g = g * attrs[k]!.values.length + code;
    }
    out[i] = g;
  }
  return out;
}

function groupNames(attrs: Attribute[]): string[] {
  let names = [''];
  for (const a of attrs) names = names.flatMap((g) => a.values.map((v) => (g ? `${g}/${v}` : v)));
  return attrs.length ? names : ['all'];
}

function cellCounts(labels: ArrayLike<number>, groups: ArrayLike<number> | null, classes: number, nGroups: number): CellCounts {
  const counts = Array.from({ length: classes }, () => new Array<number>(nGroups).fill(0));
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]![groups ? groups[i]! : 0]!++;
  return { counts, indices: diversityIndices(counts.flat()) };
}

function perClass(labels: ArrayLike<number>, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]!]!++;
  return c;
}

function pick(images: Float32Array, len: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * len);
  indices.forEach((src, dst) => out.set(images.subarray(src * len, (src + 1) * len), dst * len));
  return out;
}

function imageHashes(images: Float32Array, len: number, indices: Iterable<number>): Set<string> {
  const out = new Set<string>();
  for (const i of indices) {
    const view = images.subarray(i * len, (i + 1) * len);
    out.add(createHash('sha1').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex'));
  }
  return out;
}

function record(ds: ImageDataset, labels: ArrayLike<number>, classes: number): DatasetRecord {
  return { path: resolve(ds.source.path), kind: ds.source.kind, fingerprint: ds.source.fingerprint, n: ds.n, perClass: perClass(labels, classes) };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export async function evaluate(req: EvaluateRequest, deps: { fidelity?: FidelityFn } = {}): Promise<EvaluateResult> {
  const fidelity: FidelityFn = deps.fidelity ?? fidelityOf;
  const minSlice = req.minSlice ?? 10;
  const seeds = {
    evaluation: req.seed,
    split: req.splitSeed,
    features: deriveSeed(req.seed, 'features'),
    classifier: deriveSeed(req.seed, 'classifier'),
    oversampling: deriveSeed(req.seed, 'oversampling'),
    fidelity: deriveSeed(req.seed, 'fidelity'),
    modes: deriveSeed(req.seed, 'modes'),
    pairwise: deriveSeed(req.seed, 'pairwise'),
    learned: deriveSeed(req.seed, 'learned'),
    fairness: deriveSeed(req.seed, 'fairness'),
  };
  const minGroup = req.minGroup ?? DEFAULT_MIN_GROUP;
  if (!(Number.isInteger(minGroup) && minGroup >= 1)) throw new ConfigError(`--min-group ${minGroup}: expected a whole number of test images >= 1 (default ${DEFAULT_MIN_GROUP})`);

  const classifierSeedCount = req.classifierSeeds ?? DEFAULT_CLASSIFIER_SEEDS;
  if (!(Number.isInteger(classifierSeedCount) && classifierSeedCount >= 1)) {
    throw new ConfigError(`--classifier-seeds ${classifierSeedCount}: expected a whole number of classifier seeds >= 1 (3 gives a t-interval with 2 degrees of freedom)`);
  }

  // --- Load and match vocabularies. ---
  let t0 = performance.now();
  const source = syntheticSource(req.synthetic);
  let synthetic: ImageDataset;
  let size: number;
  let sizeFrom: string;
  try {
    const runDir = req.run?.dir ?? source.run;
    const runSize = req.run ? req.run.size : source.run ? runImageSize(source.run) : null;
    if (req.size !== undefined) [size, sizeFrom] = [req.size, '--size'];
    else if (runSize !== null) [size, sizeFrom] = [runSize, `the generator's run (${runDir}/run.json)`];
    else [size, sizeFrom] = [detectSize(source.loadPath), 'the first synthetic image'];
    synthetic = loadDataset({ path: source.loadPath, size });
  } finally {
    source.cleanup();
  }
  const channels = synthetic.channels;
  const real = loadDataset({ path: req.real, size, channels, bins: req.bins });
  const augmented = req.augmented ? loadDataset({ path: req.augmented, size, channels }) : null;
  const K = real.labelNames.length;
  const run = req.run;
  if (run) {
    if (real.source.fingerprint !== run.fingerprint) {
      throw new DatasetError(`--real ${req.real}: not the data run ${run.dir} was trained on (sha256 differs from its run.json); pass the run's data, or drop --run and give --split-seed for a foreign synthetic set`);
    }
    const unknown = run.vocabulary.labels.filter((l) => !real.labelNames.includes(l));
    if (unknown.length) throw new DatasetError(`--real ${req.real}: no class ${unknown.join(', ')} of run ${run.dir}'s vocabulary (conditions.json); pass the run's data`);
  }
  const runGroups = run?.vocabulary.attributes.map((a) => a.name) ?? [];
  const groupBy = req.groupBy ?? (runGroups.length ? runGroups : defaultGroupBy(real));
  const attrs = groupBy.map((name) => {
    const a = real.attributes.find((x) => x.name === name);
    if (!a) throw new ConfigError(`--group-by ${name}: the real data has no attribute '${name}' (available: ${real.attributes.map((x) => x.name).join(', ') || 'none'})`);
    return a;
  });
  const groups = groupNames(attrs);
  const realGroup = groupCodes(real, attrs, '--real', req.real) ?? new Int32Array(real.n);
  const synLabels = realLabels(synthetic, real, '--synthetic', req.synthetic);
  const synGroup = groupCodes(synthetic, attrs, '--synthetic', req.synthetic);
  const augLabels = augmented ? realLabels(augmented, real, '--augmented', req.augmented!) : null;
  const augGroup = augmented ? groupCodes(augmented, attrs, '--augmented', req.augmented!) : null;

  // The run's recorded split (by image id), else the one --split-seed assigns.
  const assigned = run ? null : assignSplits(real, { seed: req.splitSeed });
  const splitOf: SplitName[] = run
    ? real.ids.map((id) => {
        const s = run.splits.get(id);
        if (s === undefined) throw new DatasetError(`--real ${req.real}: image ${id} is not in run ${run.dir}'s splits.csv; pass the run's data`);
        return s;
      })
    : assigned!.split;
  const splitSummary: EvaluateResult['splits'] = run
    ? run.splitSummary
    : { seed: assigned!.seed, origin: assigned!.origin, unit: assigned!.unit, sizes: assigned!.sizes, units: assigned!.units };
  const ofSplit = (name: SplitName) => splitOf.flatMap((s, i) => (s === name ? [i] : []));
  const train = ofSplit('train');
  const test = ofSplit('test');
  if (train.length < 2) throw new DatasetError(`--real ${req.real}: the train split has ${train.length} image(s); evaluation needs a real train split`);
  if (test.length === 0) throw new DatasetError(`--real ${req.real}: the test split is empty; utility and the real-vs-real baseline need test images (check the split column or the data size)`);
  const len = imageLength(real);
  if (augmented) {
    // The augmented set must not contain test images: (c) would then be trained on its own test set.
    // Exact pixel match at the evaluation size: catches real rows referenced by path (balance's default)
    // and copies that were not resized; a resized --copy re-quantises the pixels and is not caught.
    const testHashes = imageHashes(real.images, len, test);
    const synFlags = augmentedSyntheticFlags(augmented);
    const realRows = [...Array(augmented.n).keys()].filter((i) => !synFlags || synFlags[i] === 0);
    const leaked = [...imageHashes(augmented.images, len, realRows)].filter((h) => testHashes.has(h)).length;
    if (leaked > 0) {
      throw new DatasetError(
        `--augmented ${req.augmented}: ${leaked} of its real images are in the real test split (--split-seed ${req.splitSeed}); build it with medsynth balance from the same data and evaluate with the --split-seed the model was trained with`,
      );
    }
  }
  let positive: number;
  if (req.positive !== undefined) {
    positive = real.labelNames.indexOf(req.positive);
    if (positive < 0) throw new ConfigError(`--positive ${req.positive}: not a class of the real data; use one of ${real.labelNames.join(', ')}`);
  } else {
    positive = rarestClass(train.map((i) => real.labels[i]!), K);
  }
  const loadSeconds = seconds(t0);

  // --- Features. ---
  t0 = performance.now();
  const comparisons = 2 * (1 + K + (attrs.length ? groups.length : 0));
  const progress = new StageTracker(evaluateStages({ features: req.features, classifierSteps: req.classifierSteps, classifierSeeds: classifierSeedCount, comparisons }), req.onProgress);
  progress.start('features', `${extractorLabel(req.features)}${req.features === 'domain-cnn' ? ` (${req.classifierSteps} training steps unless cached)` : ''}`);
  const feats = computeFeatures(
    req.features,
    {
      real: { images: real.images, labels: real.labels, n: real.n, fingerprint: real.source.fingerprint },
      trainIndices: train,
      synthetic: { images: synthetic.images, n: synthetic.n },
      size,
      channels,
      classes: K,
      seed: seeds.features,
      splitSeed: req.splitSeed,
    },
    { steps: req.classifierSteps, cacheDir: req.cacheDir, onStep: (done, steps) => progress.update(done / steps, `domain-cnn training step ${done} of ${steps}`) },
  );
  const featureSeconds = seconds(t0);
  const trainFeat = selectRows(feats.real, train);
  const testFeat = selectRows(feats.real, test);

  // --- Fidelity, overall / per class / per group, each with its real-vs-real baseline. ---
  t0 = performance.now();
  progress.start('fidelity', 'overall, per class, per group, with the real-vs-real baseline');
  let compared = 0;
  const fidelityOpts = (n1: number, n2: number) => ({ k: FIDELITY_K, kidSubsets: KID_SUBSETS, kidSubsetSize: Math.max(2, Math.min(KID_SUBSET_SIZE, n1, n2)), seed: seeds.fidelity });
  const compare = async (ref: Features, other: Features | null, missing: string): Promise<FidelityComparison> => {
    compared++;
    progress.update((compared - 1) / comparisons, `comparison ${compared} of ${comparisons}`);
    if (!other) return { n: 0, values: null, note: missing };
    if (ref.n < minSlice || other.n < minSlice) {
      return { n: other.n, values: null, note: `too few images (${ref.n} real train, ${other.n} compared; at least ${minSlice} each)` };
    }
    try {
      return { n: other.n, values: await fidelity(ref, other, fidelityOpts(ref.n, other.n)), note: null };
    } catch (err) {
      if (err instanceof UserError) throw err;
      return { n: other.n, values: null, note: `failed: ${(err as Error).message}` };
    }
  };
  const rowsWhere = (pred: (i: number) => boolean, within: readonly number[]) => within.filter(pred);
  const synAll = [...Array(synthetic.n).keys()];
  const slices: { slice: FidelityRow['slice']; name: string; real: (i: number) => boolean; syn: ((i: number) => boolean) | null; missing: string }[] = [
    { slice: 'overall', name: 'all', real: () => true, syn: () => true, missing: '' },
    ...real.labelNames.map((name, c) => ({ slice: 'class' as const, name, real: (i: number) => real.labels[i] === c, syn: (i: number) => synLabels[i] === c, missing: '' })),
    ...(attrs.length
      ? groups.map((name, g) => ({
          slice: 'group' as const,
          name,
          real: (i: number) => realGroup[i] === g,
          syn: synGroup ? (i: number) => synGroup[i] === g : null,
          missing: `the synthetic set has no ${groupBy.join('/')} column (the model was not conditioned on it)`,
        }))
      : []),
  ];
  const fidelityRows: FidelityRow[] = [];
  for (const s of slices) {
    const refRows = rowsWhere(s.real, train);
    const ref = selectRows(feats.real, refRows);
    const synRows = s.syn ? synAll.filter(s.syn) : null;
    fidelityRows.push({
      slice: s.slice,
      name: s.name,
      reference: refRows.length,
      synthetic: await compare(ref, synRows ? selectRows(feats.synthetic, synRows) : null, s.missing),
      baseline: await compare(ref, selectRows(feats.real, rowsWhere(s.real, test)), ''),
    });
  }
  const fidelitySeconds = seconds(t0);

  // --- Utility and fairness: (a) real train, (b) synthetic, (c) real + synthetic, (d) real + oversampled real. ---
  t0 = performance.now();
  // The ways are described by index into the loaded arrays; eval/utility copies one way at a time.
  const trainLabels = Int32Array.from(train, (i) => real.labels[i]!);
  const trainGroups = Int32Array.from(train, (i) => realGroup[i]!);
  const aSet = gatherRows(real.images, train, trainLabels);
  const synSet: LabelledImages = { images: synthetic.images, labels: synLabels, n: synthetic.n };
  const cd = oversamplingWay({
    real,
    realGroup,
    byGroup: attrs.length > 0,
    train,
    augmented: augmented ? { images: augmented.images, labels: augLabels!, groups: augGroup, synthetic: augmentedSyntheticFlags(augmented) } : null,
    aSet,
    synthetic: { images: synthetic.images, labels: synLabels, groups: synGroup },
    seed: seeds.oversampling,
  });
  progress.start(
    'utility',
    `training the evaluation classifier 4 ways x ${classifierSeedCount} seed${classifierSeedCount > 1 ? 's' : ''} (${req.classifierSteps} steps each), testing on ${test.length} real test images`,
  );
  const utility = utilityTable({
    train: { a: aSet, b: synSet, c: cd.c, d: cd.d },
    skipReasons: cd.skipped ? { d: cd.skipped } : undefined,
    augmentedSource: augmented ? `--augmented ${resolve(req.augmented!)}` : 'real train split + --synthetic',
    test: { images: pick(real.images, len, test), labels: Int32Array.from(test, (i) => real.labels[i]!), group: Int32Array.from(test, (i) => realGroup[i]!), n: test.length },
    size,
    channels,
    classes: K,
    groups: groups.length,
    positive,
    seed: seeds.classifier,
    classifierSeeds: classifierSeedCount,
    steps: req.classifierSteps,
    onProgress: (done, total, what) => progress.update(done / total, what),
  });
  const utilitySeconds = seconds(t0);

  // --- Diversity. ---
  t0 = performance.now();
  progress.start('diversity', 'cell counts, mode coverage and NDB, intra-class spread, learned-at-all evidence');
  const notes: string[] = [];
  const realTrainCells = cellCounts(trainLabels, trainGroups, K, groups.length);
  const synCells = synGroup || !attrs.length ? cellCounts(synLabels, synGroup, K, groups.length) : null;
  if (!synCells) notes.push(`synthetic: no ${groupBy.join('/')} value on some or all rows (no such column, or a model not conditioned on it), so no class x group cells`);
  let augCells: CellCounts | null = null;
  if (augmented) {
    if (augGroup || !attrs.length) augCells = cellCounts(augLabels!, augGroup, K, groups.length);
    else notes.push(`augmented: no ${groupBy.join('/')} value on some or all rows (no such column, or synthetic rows of a model not conditioned on it), so no class x group cells`);
  } else if (!synCells) {
    notes.push('augmented (real train + synthetic): no class x group cells without the synthetic group column');
  } else {
    const sum = realTrainCells.counts.map((row, c) => row.map((v, g) => v + synCells.counts[c]![g]!));
    augCells = { counts: sum, indices: diversityIndices(sum.flat()) };
  }
  const k = req.modes ?? Math.min(50, Math.max(2, Math.floor(train.length / 10)));
  if (k > train.length) throw new ConfigError(`--modes ${k}: more clusters than real train images (${train.length}); use at most ${train.length}`);
  const modes = fitModes(trainFeat, { k, seed: seeds.modes });
  const synOcc = occupancy(modes, feats.synthetic);
  const baseOcc = occupancy(modes, testFeat);
  const realMpd = intraClassDistances(trainFeat, trainLabels, K, { seed: seeds.pairwise, maxPerClass: MAX_PAIRWISE });
  const synMpd = intraClassDistances(feats.synthetic, synLabels, K, { seed: seeds.pairwise, maxPerClass: MAX_PAIRWISE });
  const ratio = (s: number | null, r: number | null) => (s !== null && r !== null && r > 0 ? s / r : null);
  // The pooled spread (classes ignored), on the same seeded subset size as the per-class values.
  const pooled = (f: Features) => intraClassDistances(f, new Int32Array(f.n), 1, { seed: seeds.pairwise, maxPerClass: MAX_PAIRWISE })[0]!;
  const allReal = pooled(trainFeat);
  const allSyn = pooled(feats.synthetic);
  const wayOf = (key: string) => utility.ways.find((w) => w.key === key)!;
  const untaught = untaughtClasses(wayOf('b'), wayOf('a')).map((u) => ({ name: real.labelNames[u.class]!, realRecall: u.referenceRecall }));
  const evidence = await learnedEvidence({
    space: `${feats.info.name} features`,
    train: trainFeat,
    trainLabels,
    test: testFeat,
    testLabels: Int32Array.from(test, (i) => real.labels[i]!),
    synthetic: feats.synthetic,
    syntheticLabels: synLabels,
    classes: K,
    modes,
    seed: seeds.learned,
  });
  const learned: LearnedEvidence = { ...evidence, untaught };
  const diversitySeconds = seconds(t0);

  // --- Fairness: minimum group size and bootstrap intervals over the test images. ---
  progress.start('fairness', `bootstrap intervals of worst-group accuracy and the equalized-odds difference (groups of at least ${minGroup} test images)`);
  const utilityMode = K === 2 ? 'binary' : 'one-vs-rest';
  const fairness = fairnessBootstrap(
    utility.ways.map((w) => ({ key: w.key, seeds: w.reports.map((r) => r.confusion) })),
    [['c', 'a']],
    { minGroup, replicates: req.fairnessReplicates ?? DEFAULT_FAIRNESS_REPLICATES, seed: seeds.fairness, positives: utilityMode === 'binary' ? [positive] : [...Array(K).keys()] },
  );
  progress.finish();

  return {
    command: 'evaluate',
    version: packageVersion(),
    seeds,
    image: { size, sizeFrom, channels, preprocessing: real.source.preprocessing },
    features: feats.info,
    datasets: {
      real: record(real, real.labels, K),
      synthetic: { ...record(synthetic, synLabels, K), path: resolve(req.synthetic), rows: source.rows && source.rows.synthetic < source.rows.total ? source.rows : null },
      augmented: augmented ? record(augmented, augLabels!, K) : null,
    },
    classes: real.labelNames,
    groupBy,
    groups,
    splits: splitSummary,
    fidelity: {
      reference: 'real train split',
      minSlice,
      settings: { k: FIDELITY_K, kidSubsets: KID_SUBSETS, kidSubsetSizeMax: KID_SUBSET_SIZE, seed: seeds.fidelity },
      rows: fidelityRows,
    },
    utility: {
      ...utility,
      positiveName: utilityMode === 'binary' ? real.labelNames[positive]! : null,
      mode: utilityMode,
      oversampling: oversamplingRecord(cd, seeds.oversampling, real.labelNames, groups, groupBy),
    },
    fairness: { ...fairness, groups, compared: '(c) real + synthetic minus (a) real train' },
    learned,
    diversity: {
      cells: { groupBy, realTrain: realTrainCells, synthetic: synCells, augmented: augCells, notes },
      modes: {
        k,
        seed: seeds.modes,
        fittedOn: `real train split features (${train.length} images)`,
        inertia: modes.inertia,
        converged: modes.converged,
        realCounts: modes.realCounts,
        synthetic: synOcc,
        baseline: baseOcc,
      },
      intraClass: {
        maxPerClass: MAX_PAIRWISE,
        perClass: real.labelNames.map((name, c) => ({ name, real: realMpd[c]!, synthetic: synMpd[c]!, ratio: ratio(synMpd[c]!, realMpd[c]!) })),
        all: { real: allReal, synthetic: allSyn, ratio: ratio(allSyn, allReal) },
      },
    },
    seconds: { load: loadSeconds, features: featureSeconds, fidelity: fidelitySeconds, utility: utilitySeconds, diversity: diversitySeconds },
  };
}
