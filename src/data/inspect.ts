/**
 * `medsynth data inspect`: what a dataset holds. Counts per class × attribute value, split sizes, image
 * geometry, and how (un)evenly images fill the class × group cells (Gini, Shannon, Pielou; formulas in
 * eval/diversity/indices.ts).
 *
 * Privacy: only aggregate counts are reported; no id, path or patient identifier appears.
 */
import type { ImageDataset, SplitName } from '../../datasets/dataset.js';
import { SPLIT_NAMES } from '../../datasets/dataset.js';
import { assignSplits, type SplitAssignment } from '../../datasets/splits.js';
import { diversityIndices, type DiversityIndices } from '../../eval/diversity/indices.js';
import { ConfigError } from '../core/errors.js';

export interface AttributeSummary {
  name: string;
  values: string[];
  binEdges: number[] | null;
  /** counts[v][c]: images with value v and class c. */
  counts: number[][];
}

export interface CellSummary {
  /** Attributes combined into a group, e.g. ['sex', 'age']. Empty: cells are classes alone. */
  groupBy: string[];
  /** Group names, e.g. 'female/60-69'. */
  groups: string[];
  /** counts[c][g]. */
  counts: number[][];
  diversity: DiversityIndices;
}

export interface InspectSummary {
  dataset: string;
  source: {
    kind: string;
    path: string;
    fingerprint: string;
    sourceDims: ImageDataset['source']['sourceDims'];
    /** How the pixels were prepared (size, channels, decoder, DICOM window and frames). */
    preprocessing?: ImageDataset['source']['preprocessing'];
    /** DICOM: each tag read and how many files lacked it. */
    tags?: { keyword: string; tag: string; missing: number }[];
  };
  n: number;
  height: number;
  width: number;
  channels: number;
  bitDepth: number;
  classes: { label: number; name: string; count: number }[];
  /** Number of distinct patients, or null when the data has no patient_id. */
  patients: number | null;
  splits: {
    origin: SplitAssignment['origin'];
    seed: number;
    unit: SplitAssignment['unit'];
    sizes: Record<SplitName, number>;
    units: Record<SplitName, number>;
    /** counts[s][c]: images of class c in split s, s in train/holdout/test order. */
    byClass: number[][];
  };
  attributes: AttributeSummary[];
  cells: CellSummary;
}

export function summarizeDataset(
  ds: ImageDataset,
  opts: { groupBy?: string[]; splitSeed: number },
): InspectSummary {
  const k = ds.labelNames.length;
  const classCounts = new Array<number>(k).fill(0);
  for (const l of ds.labels) classCounts[l]!++;

  const assignment = assignSplits(ds, { seed: opts.splitSeed });
  const byClass = SPLIT_NAMES.map(() => new Array<number>(k).fill(0));
  assignment.split.forEach((s, i) => byClass[SPLIT_NAMES.indexOf(s)]![ds.labels[i]!]!++);

  const attributes = ds.attributes.map((a) => {
    const counts = a.values.map(() => new Array<number>(k).fill(0));
    for (let i = 0; i < ds.n; i++) counts[a.codes[i]!]![ds.labels[i]!]!++;
    return { name: a.name, values: a.values, binEdges: a.binEdges ?? null, counts };
  });

  return {
    dataset: ds.name,
    source: {
      kind: ds.source.kind,
      path: ds.source.path,
      fingerprint: ds.source.fingerprint,
      sourceDims: ds.source.sourceDims,
      preprocessing: ds.source.preprocessing,
      ...(ds.source.tags ? { tags: ds.source.tags } : {}),
    },
    n: ds.n,
    height: ds.height,
    width: ds.width,
    channels: ds.channels,
    bitDepth: ds.bitDepth,
    classes: ds.labelNames.map((name, label) => ({ label, name, count: classCounts[label]! })),
    patients: ds.patientIds ? new Set(ds.patientIds).size : null,
    splits: {
      origin: assignment.origin,
      seed: assignment.seed,
      unit: assignment.unit,
      sizes: assignment.sizes,
      units: assignment.units,
      byClass,
    },
    attributes,
    cells: classGroupCells(ds, opts.groupBy ?? defaultGroupBy(ds)),
  };
}

/** `sex` when the data has it, else the first attribute, else none (cells are classes). */
export function defaultGroupBy(ds: ImageDataset): string[] {
  if (ds.attributes.some((a) => a.name === 'sex')) return ['sex'];
  return ds.attributes.length > 0 ? [ds.attributes[0]!.name] : [];
}

/**
 * Counts per class × group, where a group is one combination of the `groupBy` attributes' values.
 * Every combination is a cell, including those with no image.
 */
export function classGroupCells(ds: ImageDataset, groupBy: string[]): CellSummary {
  const attrs = groupBy.map((name) => {
    const a = ds.attributes.find((x) => x.name === name);
    if (!a) {
      throw new ConfigError(
        `--group-by ${name}: ${ds.name} has no attribute '${name}' (available: ${ds.attributes.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    return a;
  });
  let groups: string[] = [''];
  for (const a of attrs) groups = groups.flatMap((g) => a.values.map((v) => (g ? `${g}/${v}` : v)));
  const counts = ds.labelNames.map(() => new Array<number>(groups.length).fill(0));
  for (let i = 0; i < ds.n; i++) {
    let g = 0;
    for (const a of attrs) g = g * a.values.length + a.codes[i]!;
    counts[ds.labels[i]!]![g]!++;
  }
  return {
    groupBy,
    groups: attrs.length ? groups : ['all'],
    counts,
    diversity: diversityIndices(counts.flat()),
  };
}
