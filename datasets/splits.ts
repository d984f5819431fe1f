/**
 * Seeded, stratified train / holdout / test splits.
 *
 * - train:   what generators are fitted on (the "members" of membership-inference audits);
 * - holdout: never trained on; the non-member reference for membership-inference attacks;
 * - test:    used only for final utility and fairness numbers.
 *
 * The unit of assignment is the patient when the dataset has `patient_id` (so no patient spans two
 * splits), else the image. Units are stratified by class × the chosen attributes, taken from each unit's
 * first image. Within a stratum units are shuffled with a stream derived from the seed, then the stratum's
 * m units are shared out as floor(f_s · m) per split, and the leftover units go one at a time to the split
 * furthest below its overall target f_s · (units so far). Small strata therefore do not all round into
 * `train`, and the overall fractions stay within one unit per split of their targets.
 *
 * A split given by the source (manifest `split` column, npz arrays) is honoured; rows without one are
 * assigned as above.
 */
import { ConfigError, DatasetError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { csvField } from './csv.js';
import { SPLIT_NAMES, type ImageDataset, type SplitName } from './dataset.js';

export interface SplitFractions {
  train: number;
  holdout: number;
  test: number;
}

export const DEFAULT_SPLIT_FRACTIONS: SplitFractions = { train: 0.7, holdout: 0.15, test: 0.15 };
export const DEFAULT_SPLIT_SEED = 1;

export interface SplitOptions {
  seed: number;
  fractions?: SplitFractions;
  /** Attribute names to stratify on besides the class label; default: every attribute. */
  stratifyBy?: string[];
}

export interface SplitAssignment {
  seed: number;
  fractions: SplitFractions;
  /** `patient` when grouped by patient_id, else `image`. */
  unit: 'patient' | 'image';
  stratifyBy: string[];
  /** `source` when every image's split came from the data itself, `seeded` when none did, else `mixed`. */
  origin: 'source' | 'seeded' | 'mixed';
  /** One split per image, in dataset order. */
  split: SplitName[];
  /** Images per split. */
  sizes: Record<SplitName, number>;
  /** Privacy units (patients or images) per split. */
  units: Record<SplitName, number>;
}

export function assignSplits(ds: ImageDataset, opts: SplitOptions): SplitAssignment {
  const fractions = opts.fractions ?? DEFAULT_SPLIT_FRACTIONS;
  checkFractions(fractions);
  const stratifyBy = opts.stratifyBy ?? ds.attributes.map((a) => a.name);
  const attrs = stratifyBy.map((name) => {
    const a = ds.attributes.find((x) => x.name === name);
    if (!a) {
      throw new DatasetError(
        `cannot stratify splits by '${name}': ${ds.name} has no such attribute (available: ${ds.attributes.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    return a;
  });

  // Units: patients (grouped) or single images.
  const unitOf: string[] = ds.patientIds ? ds.patientIds : ds.ids;
  const unitImages = new Map<string, number[]>();
  for (let i = 0; i < ds.n; i++) {
    const u = unitOf[i]!;
    let list = unitImages.get(u);
    if (!list) unitImages.set(u, (list = []));
    list.push(i);
  }

  const split: (SplitName | null)[] = new Array(ds.n).fill(null);
  let fromSource = 0;
  // Honour source splits, per unit; a unit whose images disagree is an error.
  for (const images of unitImages.values()) {
    const given = new Set(images.map((i) => ds.sourceSplits?.[i] ?? null));
    given.delete(null);
    if (given.size > 1) {
      throw new DatasetError(
        `${ds.name}: images ${images.map((i) => ds.ids[i]).slice(0, 3).join(', ')} belong to one patient but are in splits ${[...given].join(' and ')}; put all of a patient's images in one split`,
      );
    }
    if (given.size === 1) {
      const s = [...given][0]!;
      for (const i of images) split[i] = s;
      fromSource += images.length;
    }
  }

  // Seeded, stratified assignment of the remaining units.
  const strata = new Map<string, string[]>();
  for (const [unit, images] of unitImages) {
    if (split[images[0]!] !== null) continue;
    const first = images[0]!;
    const key = [ds.labels[first], ...attrs.map((a) => a.codes[first])].join('|');
    let list = strata.get(key);
    if (!list) strata.set(key, (list = []));
    list.push(unit);
  }
  const rng = new Rng(opts.seed).derive('splits');
  const assigned: Record<SplitName, number> = { train: 0, holdout: 0, test: 0 };
  let seen = 0;
  for (const key of [...strata.keys()].sort()) {
    const units = strata.get(key)!.sort();
    rng.derive(key).shuffle(units);
    const m = units.length;
    seen += m;
    const take: Record<SplitName, number> = { train: 0, holdout: 0, test: 0 };
    let left = m;
    for (const s of SPLIT_NAMES) {
      take[s] = Math.floor(fractions[s] * m);
      left -= take[s];
    }
    while (left > 0) {
      let best: SplitName = 'train';
      let bestGap = -Infinity;
      for (const s of SPLIT_NAMES) {
        const gap = fractions[s] * seen - (assigned[s] + take[s]);
        if (fractions[s] > 0 && gap > bestGap) {
          bestGap = gap;
          best = s;
        }
      }
      take[best]++;
      left--;
    }
    let k = 0;
    for (const s of SPLIT_NAMES) {
      for (let j = 0; j < take[s]; j++, k++) {
        for (const i of unitImages.get(units[k]!)!) split[i] = s;
      }
      assigned[s] += take[s];
    }
  }

  const final = split as SplitName[];
  const sizes: Record<SplitName, number> = { train: 0, holdout: 0, test: 0 };
  const unitsPer: Record<SplitName, number> = { train: 0, holdout: 0, test: 0 };
  for (const s of final) sizes[s]++;
  for (const images of unitImages.values()) unitsPer[final[images[0]!]!]++;
  return {
    seed: opts.seed,
    fractions,
    unit: ds.patientIds ? 'patient' : 'image',
    stratifyBy,
    origin: fromSource === ds.n ? 'source' : fromSource === 0 ? 'seeded' : 'mixed',
    split: final,
    sizes,
    units: unitsPer,
  };
}

/** What an empty split rules out, and where its images would come from. */
const EMPTY_SPLIT_CONSEQUENCE: Record<Exclude<SplitName, 'train'>, string> = {
  holdout: 'no membership audit possible (medsynth audit compares train members with holdout non-members)',
  test: 'no held-out utility or fairness evaluation (medsynth evaluate measures classifiers on the test split)',
};

/**
 * One warning per empty holdout or test split, naming what cannot be done without it and how to fill it.
 * (An empty train split is an error, raised where training needs it.)
 */
export function emptySplitWarnings(a: SplitAssignment): string[] {
  const total = a.units.train + a.units.holdout + a.units.test;
  const out: string[] = [];
  for (const s of ['holdout', 'test'] as const) {
    if (a.sizes[s] > 0) continue;
    const fix =
      a.fractions[s] === 0
        ? `its split fraction is 0`
        : a.origin === 'seeded'
          ? `only ${total} ${a.unit}${total === 1 ? '' : 's'} to share out, too few to fill it (it gets about ${Math.round(a.fractions[s] * 100)}%); add data`
          : `the data assigns every image to a split and none to ${s}; add ${s} rows to the manifest's split column (an .npz: ${s === 'holdout' ? 'val' : 'test'}_images and ${s === 'holdout' ? 'val' : 'test'}_labels), or leave the column empty for rows medsynth may assign`;
    out.push(`the ${s} split is empty: ${EMPTY_SPLIT_CONSEQUENCE[s]}; ${fix}`);
  }
  return out;
}

/** Indices of the images in one split. */
export function splitIndices(assignment: SplitAssignment, which: SplitName): number[] {
  const out: number[] = [];
  assignment.split.forEach((s, i) => {
    if (s === which) out.push(i);
  });
  return out;
}

/** `id,split` lines, written beside every run so the split actually used can be reproduced and audited. */
export function splitsCsv(ds: ImageDataset, assignment: SplitAssignment): string {
  const lines = ['id,split'];
  for (let i = 0; i < ds.n; i++) lines.push(`${csvField(ds.ids[i]!)},${assignment.split[i]}`);
  return lines.join('\n') + '\n';
}

function checkFractions(f: SplitFractions): void {
  const values = SPLIT_NAMES.map((s) => f[s]);
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.some((v) => !(v >= 0)) || Math.abs(sum - 1) > 1e-9 || f.train <= 0) {
    throw new ConfigError(
      `split fractions train=${f.train}, holdout=${f.holdout}, test=${f.test} must be >= 0, sum to 1, and give train a share`,
    );
  }
}
