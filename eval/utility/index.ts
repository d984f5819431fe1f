/**
 * Downstream utility and fairness of synthetic data: the evaluation classifier (eval/classifier/cnn.ts)
 * is trained three ways and each is tested on the same REAL test split:
 *   (a) real train split                 the reference
 *   (b) synthetic only                   TSTR, "train on synthetic, test on real", as introduced by
 *                                        Esteban, Hyland & Rätsch, arXiv:1706.02633, 2017
 *   (c) real train + synthetic           the augmented (e.g. balanced) set
 * Every way uses the same classifier seed, steps and class-balanced minibatches, so the training data is
 * the only difference. The test split is used for these final numbers and nothing else.
 *
 * Metrics (formulas and references in eval/fairness/metrics.ts): accuracy, balanced accuracy, per-class
 * recall, per-group accuracy / TPR / FPR, worst-group accuracy, demographic-parity and equalized-odds
 * differences. The positive class is given by the caller (the same for all three ways).
 *
 * Input: images NHWC float32 in [0, 1]; labels in the real dataset's class indices; group codes of the
 * test images 0..G-1.
 */
import { CnnClassifier } from '../classifier/cnn.js';
import { fairnessReport, type FairnessReport } from '../fairness/metrics.js';

export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

export type UtilityWay = 'a' | 'b' | 'c';

export const UTILITY_WAYS: { key: UtilityWay; label: string }[] = [
  { key: 'a', label: 'real train' },
  { key: 'b', label: 'synthetic only (TSTR)' },
  { key: 'c', label: 'real + synthetic' },
];

export interface UtilityInput {
  train: Record<UtilityWay, LabelledImages>;
  /** Where (c) came from, recorded with the result (e.g. `--augmented DIR` or `real train + synthetic`). */
  augmentedSource: string;
  test: LabelledImages & { group: Int32Array };
  size: number;
  channels: 1 | 3;
  classes: number;
  groups: number;
  /** Positive class for TPR / FPR / selection rates (binary tasks). */
  positive: number;
  seed: number;
  steps: number;
  batchSize?: number;
}

export interface UtilityWayResult {
  key: UtilityWay;
  label: string;
  trainImages: number;
  /** Training images per class. */
  trainPerClass: number[];
  /** null when the training set was empty (the way is skipped). */
  report: FairnessReport | null;
  skipped: string | null;
}

export interface UtilityResult {
  classifier: { name: 'cnn'; steps: number; batchSize: number; seed: number; sampling: 'class-balanced minibatches' };
  positive: number;
  augmentedSource: string;
  testImages: number;
  testPerClass: number[];
  ways: UtilityWayResult[];
}

function perClass(labels: Int32Array, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const l of labels) c[l]!++;
  return c;
}

/** Trains and tests one classifier per way, in order (a), (b), (c). */
export function utilityTable(input: UtilityInput): UtilityResult {
  const batchSize = input.batchSize ?? 64;
  const ways = UTILITY_WAYS.map(({ key, label }): UtilityWayResult => {
    const train = input.train[key];
    const base = { key, label, trainImages: train.n, trainPerClass: perClass(train.labels, input.classes) };
    if (train.n === 0) return { ...base, report: null, skipped: 'no training images' };
    const clf = new CnnClassifier({
      size: input.size,
      channels: input.channels,
      classes: input.classes,
      seed: input.seed,
      steps: input.steps,
      batchSize,
    });
    try {
      clf.fit(train.images, train.labels);
      const pred = clf.predict(input.test.images, input.test.n);
      const report = fairnessReport(input.test.labels, pred, input.test.group, {
        classes: input.classes,
        groups: input.groups,
        positive: input.classes === 2 ? input.positive : undefined,
      });
      return { ...base, report, skipped: null };
    } finally {
      clf.dispose();
    }
  });
  return {
    classifier: { name: 'cnn', steps: input.steps, batchSize, seed: input.seed, sampling: 'class-balanced minibatches' },
    positive: input.positive,
    augmentedSource: input.augmentedSource,
    testImages: input.test.n,
    testPerClass: perClass(input.test.labels, input.classes),
    ways,
  };
}
