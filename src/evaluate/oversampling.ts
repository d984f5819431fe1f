/**
 * Utility way (d) of `medsynth evaluate`: the augmented set (c) with every synthetic row replaced by a
 * duplicate of a real TRAIN image of its class x group cell (eval/utility/oversample.ts), so that (d) and
 * (c) have the same count in every cell. (c) is the --augmented set (its synthetic rows are those with
 * synthetic=1, as medsynth balance writes them) or, without it, the real train split + --synthetic.
 * Nothing is copied here: both ways are gathered by index from the loaded image arrays.
 */
import { concatGathered, gatherRows, type GatheredImages } from '../../eval/utility/gather.js';
import { oversamplePlan, oversampledSet, type OversamplePlan } from '../../eval/utility/oversample.js';
import type { LabelledImages, TrainingSet } from '../../eval/utility/index.js';
import type { ImageDataset } from '../../datasets/dataset.js';

export interface OversamplingInput {
  /** The real set: images and class per image (real-set index), and group code per image. */
  real: { images: Float32Array; labels: ArrayLike<number> };
  realGroup: ArrayLike<number>;
  /** Whether there are groups to match on (a --group-by attribute). */
  byGroup: boolean;
  /** Real train split, as real-set indices: the only images (d) may duplicate. */
  train: readonly number[];
  /** The --augmented set, or null for real train + synthetic. `synthetic`: 1 per synthetic row; null = unknown. */
  augmented: { images: Float32Array; labels: Int32Array; groups: ArrayLike<number> | null; synthetic: Uint8Array | null } | null;
  /** Way (a), the real train split, gathered from the real images. */
  aSet: GatheredImages;
  synthetic: { images: Float32Array; labels: Int32Array; groups: ArrayLike<number> | null };
  seed: number;
}

/** What (d) is, for the JSON result (class and group names, counts; no image or id). */
export interface OversamplingRecord {
  seed: number;
  method: string;
  /** `class x <groups>` or `class` (when the rows to replace carry no group). */
  matchedOn: string;
  /** Synthetic rows of (c); rows that got a real duplicate; rows left out (no real train image in the cell). */
  replaced: number;
  filled: number;
  leftOut: number;
  cells: { class: string; group: string | null; rows: number; realTrain: number; distinct: number }[];
  notes: string[];
}

export interface OversamplingWay {
  c: TrainingSet;
  d: GatheredImages | null;
  /** Why (d) was not built; null when it was. */
  skipped: string | null;
  plan: OversamplePlan | null;
}

/** Synthetic flag per row of an augmented set (its `synthetic` column = 1), or null without the column. */
export function augmentedSyntheticFlags(ds: ImageDataset): Uint8Array | null {
  const col = ds.attributes.find((a) => a.name === 'synthetic');
  if (!col) return null;
  return Uint8Array.from(col.codes, (c) => (col.values[c] === '1' ? 1 : 0));
}

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

function pickRows<T extends ArrayLike<number>>(values: T, rows: readonly number[]): Int32Array {
  return Int32Array.from(rows, (r) => values[r]!);
}

/** Ways (c) and (d) as gathered sets (see the header). */
export function oversamplingWay(input: OversamplingInput): OversamplingWay {
  let cGathered: GatheredImages;
  let cPlain: LabelledImages | null = null;
  let flags: Uint8Array;
  let rowGroupsSource: ArrayLike<number> | null;
  if (input.augmented) {
    const aug = input.augmented;
    cPlain = { images: aug.images, labels: aug.labels, n: aug.labels.length };
    if (!aug.synthetic) {
      return { c: cPlain, d: null, plan: null, skipped: '--augmented has no synthetic column, so its synthetic rows cannot be told from its real ones (write it with medsynth balance)' };
    }
    cGathered = gatherRows(aug.images, range(aug.labels.length), aug.labels);
    flags = aug.synthetic;
    rowGroupsSource = aug.groups;
  } else {
    const syn = input.synthetic;
    cGathered = concatGathered(input.aSet, gatherRows(syn.images, range(syn.labels.length), syn.labels));
    flags = new Uint8Array(cGathered.n);
    flags.fill(1, input.aSet.n);
    // Group codes of (c)'s rows: real train rows are not replaced, so only the synthetic rows' codes matter.
    rowGroupsSource = syn.groups ? Int32Array.from({ length: cGathered.n }, (_, r) => (r < input.aSet.n ? -1 : syn.groups![r - input.aSet.n]!)) : null;
  }
  const rows = [...flags.keys()].filter((r) => flags[r] === 1);
  const plan = oversamplePlan({
    rowLabels: pickRows(cGathered.labels, rows),
    rowGroups: input.byGroup && rowGroupsSource ? pickRows(rowGroupsSource, rows) : null,
    train: input.train,
    labels: input.real.labels,
    groups: input.byGroup ? input.realGroup : null,
    seed: input.seed,
  });
  const d = oversampledSet(cGathered, flags, plan, input.real.images);
  return { c: cPlain ?? cGathered, d, plan, skipped: null };
}

/** The JSON record of way (d). */
export function oversamplingRecord(way: OversamplingWay, seed: number, classes: readonly string[], groups: readonly string[], groupBy: readonly string[]): OversamplingRecord | null {
  const plan = way.plan;
  if (!plan) return null;
  const matchedOn = plan.byGroup ? `class x ${groupBy.join('/')}` : 'class';
  const cellName = (c: { label: number; group: number | null }) => `${classes[c.label]}${c.group !== null ? ` | ${groups[c.group]}` : ''}`;
  const notes: string[] = [];
  if (!plan.byGroup && groupBy.length) notes.push(`the rows to replace carry no ${groupBy.join('/')} value, so duplicates are matched on class only`);
  for (const c of plan.cells) {
    if (c.realTrain === 0) notes.push(`cell ${cellName(c)}: no real train image, so its ${c.rows} synthetic row${c.rows > 1 ? 's are' : ' is'} left out of (d)`);
  }
  return {
    seed,
    method: 'each synthetic row of (c) replaced by a real train image of its cell drawn uniformly with replacement (random oversampling, as imbalanced-learn RandomOverSampler)',
    matchedOn,
    replaced: plan.source.length,
    filled: plan.filled,
    leftOut: plan.leftOut,
    cells: plan.cells.map((c) => ({ class: classes[c.label]!, group: c.group !== null ? groups[c.group]! : null, rows: c.rows, realTrain: c.realTrain, distinct: c.distinct })),
    notes,
  };
}
