/**
 * Downstream utility and fairness of synthetic data: the evaluation classifier (eval/classifier/cnn.ts)
 * is trained four ways and each is tested on the same REAL test split:
 *   (a) real train split                 the reference
 *   (b) synthetic only                   TSTR, "train on synthetic, test on real", as introduced by
 *                                        Esteban, Hyland & Rätsch, arXiv:1706.02633, 2017
 *   (c) real train + synthetic           the augmented (e.g. balanced) set
 *   (d) real train + oversampled real    the baseline a user would pick instead of (c): every synthetic row
 *                                        of (c) replaced by a duplicate of a real train image of its
 *                                        class x group cell (eval/utility/oversample.ts); same cell counts
 * Every way is trained once per classifier seed (seed s shares the initial weights and the minibatch draw
 * stream across ways, so the training data is the only difference within a seed) with the same steps and
 * class-balanced minibatches. Each metric is reported per seed and as mean and 95% t-interval over seeds
 * (eval/utility/intervals.ts); (c) is compared with (a) and with (d) by the paired difference in balanced
 * accuracy over seeds. The test split is used for these final numbers and nothing else.
 *
 * Metrics (formulas and references in eval/fairness/metrics.ts): accuracy, balanced accuracy, per-class
 * recall, per-group accuracy / TPR / FPR, worst-group accuracy, demographic-parity and equalized-odds
 * differences. The positive class is given by the caller (the same for all ways).
 *
 * Verdicts of a comparison, delta = mean over seeds of (balanced accuracy of (c) - of the other way):
 *   delta >  0.01   "augmentation better"
 *   |delta| <= 0.01 "within 1 point"
 *   delta < -0.01   "oversampling is better here" (against (d)) / "real only is better here" (against (a))
 * The verdict reads the mean; the interval beside it says how sure that is, and where it includes 0
 * evaluate and report say so beside the verdict (intervalIncludesZero).
 *
 * Input: images NHWC float32 in [0, 1], as plain arrays or gathered by index (eval/utility/gather.ts; a
 * gathered way is copied only while its classifier trains); labels in the real dataset's class indices;
 * group codes of the test images 0..G-1.
 */
import { CnnClassifier } from '../classifier/cnn.js';
import { fairnessReport, type FairnessReport } from '../fairness/metrics.js';
import { deriveSeed } from '../../src/core/rng.js';
import { gatheredRow, type GatheredImages, type LabelledImages } from './gather.js';
import { pairedDifference, seedStat, type SeedStat } from './intervals.js';

export type { LabelledImages } from './gather.js';

/** A way's training set: one image array, or rows gathered by index from shared arrays. */
export type TrainingSet = LabelledImages | GatheredImages;

export type UtilityWay = 'a' | 'b' | 'c' | 'd';

export const UTILITY_WAYS: { key: UtilityWay; label: string }[] = [
  { key: 'a', label: 'real train' },
  { key: 'b', label: 'synthetic only (TSTR)' },
  { key: 'c', label: 'real + synthetic' },
  { key: 'd', label: 'real + oversampled real' },
];

/** Change in balanced accuracy (in [0, 1] units) inside which two ways count as equal. */
export const ONE_POINT = 0.01;

export interface UtilityInput {
  /** (d) may be null: the way is skipped, with `skipReasons.d` as the reason. */
  train: Record<'a' | 'b' | 'c', TrainingSet> & { d: TrainingSet | null };
  skipReasons?: Partial<Record<UtilityWay, string>>;
  /** Where (c) came from, recorded with the result (e.g. `--augmented DIR` or `real train + synthetic`). */
  augmentedSource: string;
  test: LabelledImages & { group: Int32Array };
  size: number;
  channels: 1 | 3;
  classes: number;
  groups: number;
  /** Positive class for TPR / FPR / selection rates (binary tasks). */
  positive: number;
  /** First classifier seed; further seeds are derived from it (`classifierSeeds`). */
  seed: number;
  /** Classifier seeds per way (default 1). */
  classifierSeeds?: number;
  steps: number;
  batchSize?: number;
  /**
   * Called after each classifier training step with the steps done and the steps of all classifiers
   * (trained ways × seeds × steps), and which classifier is training, for progress lines.
   */
  onProgress?: (done: number, total: number, what: string) => void;
}

/** Mean and t-interval over classifier seeds of the headline metrics. */
export interface UtilitySummary {
  accuracy: SeedStat;
  balancedAccuracy: SeedStat;
  /** Per class, in class order. */
  recall: SeedStat[];
  worstGroupAccuracy: SeedStat;
}

export interface UtilityWayResult {
  key: UtilityWay;
  label: string;
  trainImages: number;
  /** Training images per class. */
  trainPerClass: number[];
  /** The first classifier seed's full report; null when the way was skipped. */
  report: FairnessReport | null;
  /** One full report per classifier seed, in seed order (empty when skipped). */
  reports: FairnessReport[];
  summary: UtilitySummary | null;
  skipped: string | null;
}

export type ComparisonVerdict = 'augmentation better' | 'within 1 point' | 'oversampling is better here' | 'real only is better here';

/** (c) against another way: paired over classifier seeds. */
export interface WayComparison {
  /** Mean over seeds of balanced accuracy (c) - (other), in [0, 1] units (0.01 = 1 point). */
  deltaBalancedAccuracy: number;
  /** 95% t-interval of that mean (null with one seed). */
  ci: { lo: number; hi: number } | null;
  verdict: ComparisonVerdict;
  /** The per-seed differences. */
  perSeed: (number | null)[];
}

export interface UtilityResult {
  classifier: { name: 'cnn'; steps: number; batchSize: number; seed: number; seeds: number[]; sampling: 'class-balanced minibatches' };
  interval: { kind: 'student-t'; confidence: 0.95; over: 'classifier seeds' };
  positive: number;
  augmentedSource: string;
  testImages: number;
  testPerClass: number[];
  ways: UtilityWayResult[];
  /** (c) vs (a); null when either was skipped. */
  augmentedVsReal: WayComparison | null;
  /** (c) vs (d); null when either was skipped. */
  augmentedVsOversampling: WayComparison | null;
}

function perClass(labels: Int32Array, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const l of labels) c[l]!++;
  return c;
}

/** The classifier seeds: the first as given, the others derived from it by name. */
export function classifierSeeds(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, s) => (s === 0 ? first : deriveSeed(first, `classifier-seed-${s}`)));
}

/** All four are rates: their intervals are clipped to [0, 1]. */
export const RATE: readonly [number, number] = [0, 1];

export function summarise(reports: readonly FairnessReport[], classes: number): UtilitySummary {
  return {
    accuracy: seedStat(reports.map((r) => r.accuracy), { range: RATE }),
    balancedAccuracy: seedStat(reports.map((r) => r.balancedAccuracy), { range: RATE }),
    recall: Array.from({ length: classes }, (_, c) => seedStat(reports.map((r) => r.recall[c] ?? null), { range: RATE })),
    worstGroupAccuracy: seedStat(reports.map((r) => r.worstGroupAccuracy), { range: RATE }),
  };
}

/**
 * Whether a comparison's 95% interval includes 0, i.e. its classifier seeds do not tell the difference
 * apart from seed-to-seed variation. False without an interval (one seed): nothing to read it from.
 */
export function intervalIncludesZero(c: { ci?: { lo?: number; hi?: number } | null }): boolean {
  return !!c.ci && typeof c.ci.lo === 'number' && typeof c.ci.hi === 'number' && c.ci.lo <= 0 && c.ci.hi >= 0;
}

/** The caveat evaluate and report print beside a verdict whose interval includes 0. */
export function indistinctSentence(seeds: number): string {
  return `the interval includes 0: over ${seeds} classifier seeds the difference is not told apart from seed-to-seed variation`;
}

/** (c) against `other` by paired balanced accuracy; null when either way has no reports. */
export function compareWays(c: UtilityWayResult, other: UtilityWayResult, whenWorse: ComparisonVerdict): WayComparison | null {
  if (!c.reports.length || !other.reports.length) return null;
  const d = pairedDifference(
    c.reports.map((r) => r.balancedAccuracy),
    other.reports.map((r) => r.balancedAccuracy),
    { range: [-1, 1] },
  );
  if (d.mean === null) return null;
  // Rounded before the thresholds so that an exact 1-point difference is not split by float error.
  const delta = Math.round(d.mean * 1e9) / 1e9;
  const verdict: ComparisonVerdict = delta > ONE_POINT ? 'augmentation better' : delta >= -ONE_POINT ? 'within 1 point' : whenWorse;
  return { deltaBalancedAccuracy: d.mean, ci: d.lo !== null && d.hi !== null ? { lo: d.lo, hi: d.hi } : null, verdict, perSeed: d.values };
}

/**
 * Classes a way's training set does not teach: classes it holds images of, and real test images of, whose
 * recall is 0 with every classifier seed of `way`, while the `reference` way (the real train split)
 * recalls some of them (mean recall over its seeds > 0). Returned with that reference recall, in class
 * order. A class with no training images in `way` (e.g. the common class a balance folder does not top up)
 * is not named: nothing of it was there to teach. For (b), synthetic only, this names a class whose samples
 * may pass pooled learned-at-all tests (src/evaluate/learned.ts) and still teach a classifier nothing
 * about it, e.g. a rare class a GAN collapsed to one pattern that lies nearest to that class's real
 * images. No threshold: a recall of exactly 0 in every seed, and above 0 from real data. Empty when either
 * way has no reports.
 */
export function untaughtClasses(way: UtilityWayResult, reference: UtilityWayResult): { class: number; referenceRecall: number }[] {
  if (!way.reports.length || !reference.reports.length) return [];
  const classes = Math.max(...way.reports.map((r) => r.recall.length));
  const out: { class: number; referenceRecall: number }[] = [];
  for (let c = 0; c < classes; c++) {
    if (!(way.trainPerClass[c]! > 0)) continue;
    const recalls = way.reports.map((r) => r.recall[c] ?? null);
    if (recalls.some((x) => x === null) || recalls.some((x) => x! > 0)) continue;
    const ref = reference.reports.map((r) => r.recall[c] ?? null).filter((x): x is number => x !== null);
    const refMean = ref.length ? ref.reduce((a, b) => a + b, 0) / ref.length : 0;
    if (refMean > 0) out.push({ class: c, referenceRecall: refMean });
  }
  return out;
}

/** The sentence evaluate and report print under the learned-at-all tests for untaughtClasses' result (named). */
export function untaughtSentence(untaught: readonly { name: string; realRecall: number }[]): string {
  const list = untaught.map((u) => `${u.name} (a classifier trained on real images: recall ${u.realRecall.toFixed(3)})`).join(', ');
  const these = untaught.length > 1 ? 'these classes' : 'this class';
  return `These tests pool the classes: no classifier trained on the samples alone found any real test image of ${list}, with any classifier seed. The samples do not teach ${these}.`;
}

/**
 * Classes the real test split holds images of and a training set holds none of, in class order: a
 * classifier trained on that set alone never predicts them, so its (b) figures measure the set's class
 * coverage, not the generator (e.g. a balance folder's synthetic rows, which top up the rare classes
 * only). Empty when the counts are missing (an evaluation written before they were recorded).
 */
export function absentClasses(trainPerClass: readonly number[] | undefined, testPerClass: readonly number[] | undefined): number[] {
  if (!trainPerClass || !testPerClass) return [];
  const out: number[] = [];
  testPerClass.forEach((n, c) => {
    if (n > 0 && !((trainPerClass[c] ?? 0) > 0)) out.push(c);
  });
  return out;
}

/** The sentence evaluate and report print when the synthetic set lacks classes (absentClasses, named, with their test images). */
export function absentSentence(absent: readonly { name: string; testImages: number }[], classes: number, testImages: number): string {
  const list = absent.map((a) => `${a.name} (${a.testImages} of the ${testImages} test images)`).join(', ');
  return `the synthetic set holds no images of ${list}: ${classes - absent.length} of ${classes} classes, so synthetic-only accuracy, the overall FID and the diversity figures measure its class mix, not the generator; give --synthetic samples of every class (medsynth sample)`;
}

const isGathered = (t: TrainingSet): t is GatheredImages => 'sources' in t;

/** Trains and tests one classifier per way and seed, ways in order (a), (b), (c), (d). */
export function utilityTable(input: UtilityInput): UtilityResult {
  const batchSize = input.batchSize ?? 64;
  const seeds = classifierSeeds(input.seed, input.classifierSeeds ?? 1);
  const len = input.size * input.size * input.channels;
  const trained = UTILITY_WAYS.filter(({ key }) => (input.train[key]?.n ?? 0) > 0).length;
  const classifiers = trained * seeds.length;
  let finished = 0;
  const ways = UTILITY_WAYS.map(({ key, label }): UtilityWayResult => {
    const set = input.train[key];
    const labels = set?.labels ?? new Int32Array(0);
    const base = { key, label, trainImages: set?.n ?? 0, trainPerClass: perClass(labels, input.classes) };
    const skip = (why: string) => ({ ...base, report: null, reports: [], summary: null, skipped: why });
    if (!set) return skip(input.skipReasons?.[key] ?? 'not evaluated');
    if (set.n === 0) return skip(input.skipReasons?.[key] ?? 'no training images');
    // The classifiers read this way's images row by row from where they are (no copy of the set).
    const row = isGathered(set) ? gatheredRow(set, len) : (r: number) => set.images.subarray(r * len, (r + 1) * len);
    const reports = seeds.map((seed, k) => {
      const what = `classifier ${finished + 1} of ${classifiers}: way (${key}), seed ${k + 1} of ${seeds.length}`;
      const before = finished * input.steps;
      const onStep = input.onProgress ? (done: number) => input.onProgress!(before + done, classifiers * input.steps, what) : undefined;
      const clf = new CnnClassifier({ size: input.size, channels: input.channels, classes: input.classes, seed, steps: input.steps, batchSize, onStep });
      try {
        clf.fitRows(row, set.labels);
        const pred = clf.predict(input.test.images, input.test.n);
        return fairnessReport(input.test.labels, pred, input.test.group, {
          classes: input.classes,
          groups: input.groups,
          positive: input.classes === 2 ? input.positive : undefined,
        });
      } finally {
        clf.dispose();
        finished++;
      }
    });
    return { ...base, report: reports[0]!, reports, summary: summarise(reports, input.classes), skipped: null };
  });
  const way = (k: UtilityWay) => ways.find((w) => w.key === k)!;
  return {
    classifier: { name: 'cnn', steps: input.steps, batchSize, seed: input.seed, seeds, sampling: 'class-balanced minibatches' },
    interval: { kind: 'student-t', confidence: 0.95, over: 'classifier seeds' },
    positive: input.positive,
    augmentedSource: input.augmentedSource,
    testImages: input.test.n,
    testPerClass: perClass(input.test.labels, input.classes),
    ways,
    augmentedVsReal: compareWays(way('c'), way('a'), 'real only is better here'),
    augmentedVsOversampling: compareWays(way('c'), way('d'), 'oversampling is better here'),
  };
}
