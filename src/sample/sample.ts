/**
 * Sampling a trained generator to image files.
 *
 * Conditions: the user fixes the class and/or some conditioning attributes; every condition left open is
 * drawn from the run's condition counts (conditions.json), restricted to the combinations that agree with
 * what was fixed. If none agrees (a combination absent from the counts), each open condition is drawn from
 * its own marginal frequencies. Which counts (./proportions.ts): a non-private run's exact train-split
 * counts; a DP-MERF run's counts released with differential privacy; a DP-SGD run (cvae, dpgan) withholds
 * them, so there every open value is equally likely unless the user passes public proportions
 * (--condition-proportions FILE.csv), which then fill the conditions they name, first. samples.json and the
 * result record the source of every condition (`openConditions`). All draws come from `seed`.
 *
 * Output (written to a temporary folder and renamed): images/syn_000001.png ... (8-bit, or 16-bit when the
 * training images were 16-bit), and manifest.csv with path, label, label_name, one column per
 * conditioning attribute, synthetic=1, model_id and seed. No training image or identifier is written.
 */
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodePng } from '../../datasets/image/encode.js';
import { toCsv } from '../../datasets/csv.js';
import { conditionWidth, encodeConditions, type ConditionSpec } from '../../models/generator.js';
import { ConfigError } from '../core/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { Rng } from '../core/rng.js';
import { openRun } from '../train/open.js';
import {
  conditionSources,
  drawFromProportions,
  openConditionsRecord,
  readConditionProportions,
  runConditionSource,
  type Combo,
  type ConditionProportions,
  type FixedConditions,
  type OpenConditionsRecord,
} from './proportions.js';

export interface SampleRequest {
  run: string;
  n: number;
  /** Class by name or index. */
  label?: string;
  /** attribute → value, e.g. { sex: 'female', age: '60-69' }. */
  where?: Record<string, string>;
  seed: number;
  out: string;
  /** --condition-proportions: a CSV of public proportions for the open conditions it names. */
  conditionProportions?: string;
}

export interface SampleResult {
  out: string;
  n: number;
  seed: number;
  modelId: string;
  bitDepth: 8 | 16;
  /** Images per class name. */
  perClass: Record<string, number>;
  /** Where each open condition was drawn from (fixed, user-supplied, train-split, released-by-dp, uniform). */
  openConditions: OpenConditionsRecord;
}

/** Resolves the user's fixed conditions to indices; unknown names are errors listing the valid ones. */
export function resolveFixed(spec: ConditionSpec, label: string | undefined, where: Record<string, string> = {}) {
  let fixedLabel: number | null = null;
  if (label !== undefined) {
    const byName = spec.labels.indexOf(label);
    const asIndex = /^\d+$/.test(label) ? Number(label) : -1;
    fixedLabel = byName >= 0 ? byName : asIndex >= 0 && asIndex < spec.labels.length ? asIndex : null;
    if (fixedLabel === null) throw new ConfigError(`--label ${label}: not a class of this model; use one of ${spec.labels.join(', ')}`);
  }
  const fixedCodes: (number | null)[] = spec.attributes.map(() => null);
  for (const [name, value] of Object.entries(where)) {
    const k = spec.attributes.findIndex((a) => a.name === name);
    if (k < 0) {
      throw new ConfigError(
        `--where ${name}=${value}: the model is not conditioned on '${name}'; conditioning attributes: ${spec.attributes.map((a) => a.name).join(', ') || 'none (retrain with --condition label,' + name + ')'}`,
      );
    }
    const code = spec.attributes[k]!.values.indexOf(value);
    if (code < 0) throw new ConfigError(`--where ${name}=${value}: unknown value; use one of ${spec.attributes[k]!.values.join(', ')}`);
    fixedCodes[k] = code;
  }
  return { fixedLabel, fixedCodes };
}

/** n condition draws: fixed parts as given, open parts from the train distribution. */
export function drawConditions(
  spec: ConditionSpec,
  train: Combo[],
  fixed: FixedConditions,
  n: number,
  rng: Rng,
): { labels: number[]; codes: number[][] } {
  const agrees = (c: Combo) =>
    (fixed.fixedLabel === null || c.label === fixed.fixedLabel) && fixed.fixedCodes.every((f, k) => f === null || c.codes[k] === f);
  const pool = train.filter(agrees);
  const labels: number[] = [];
  const codes: number[][] = spec.attributes.map(() => []);
  const marginal = (pick: (c: Combo) => number, size: number) => {
    const w: number[] = new Array<number>(size).fill(0);
    for (const c of train) w[pick(c)]! += c.count;
    // No counts (a DP-SGD run withholds them): every value equally likely.
    if (!w.some((v) => v > 0)) w.fill(1);
    return w;
  };
  for (let i = 0; i < n; i++) {
    if (pool.length > 0) {
      const c = pool[rng.categorical(pool.map((x) => x.count))]!;
      labels.push(c.label);
      c.codes.forEach((v, k) => codes[k]!.push(v));
    } else {
      labels.push(fixed.fixedLabel ?? rng.categorical(marginal((c) => c.label, spec.labels.length)));
      spec.attributes.forEach((a, k) => codes[k]!.push(fixed.fixedCodes[k] ?? rng.categorical(marginal((c) => c.codes[k]!, a.values.length))));
    }
  }
  return { labels, codes };
}

/**
 * n condition draws with the user's public proportions: for each draw, the conditions the table names are
 * drawn from its rows that agree with the fixed ones, then the rest as in drawConditions.
 */
export function drawConditionsWithProportions(
  spec: ConditionSpec,
  train: Combo[],
  fixed: FixedConditions,
  table: ConditionProportions,
  n: number,
  rng: Rng,
): { labels: number[]; codes: number[][] } {
  const labels: number[] = [];
  const codes: number[][] = spec.attributes.map(() => []);
  const what = () => describeFixed(spec, fixed);
  for (let i = 0; i < n; i++) {
    const f = drawFromProportions(table, spec, fixed, rng, what);
    const one = drawConditions(spec, train, f, 1, rng);
    labels.push(one.labels[0]!);
    one.codes.forEach((c, k) => codes[k]!.push(c[0]!));
  }
  return { labels, codes };
}

/** `label=disease, sex=female`, or `no fixed condition`. */
function describeFixed(spec: ConditionSpec, fixed: FixedConditions): string {
  const parts = [
    ...(fixed.fixedLabel !== null ? [`label=${spec.labels[fixed.fixedLabel]}`] : []),
    ...spec.attributes.flatMap((a, k) => (fixed.fixedCodes[k] !== null ? [`${a.name}=${a.values[fixed.fixedCodes[k]!]}`] : [])),
  ];
  return parts.length ? `the fixed conditions (${parts.join(', ')})` : 'no fixed condition';
}

/** Why a run's conditions.json has no counts to draw from, in words (for the uniform warning). */
export function uniformReason(conditions: { countsWithheld?: string; countsSource?: string }): string {
  if (conditions.countsWithheld !== undefined) return 'This DP-SGD run withholds its train-split condition counts (they are statistics of the private data)';
  if (conditions.countsSource !== undefined) return "The run's differentially private release kept no condition count";
  return 'The run records no condition counts';
}

export async function sampleRun(req: SampleRequest): Promise<SampleResult> {
  const run = openRun(req.run, { option: '--model' });
  const runDir = run.dir;
  // conditions.json also says where its counts came from (withheld, or released with DP).
  const conditions = run.conditions;
  const gen = run.loadGenerator();
  try {
    const bitDepth: 8 | 16 = run.card.dataset.bitDepth === 16 ? 16 : 8;
    const spec = conditions.spec;
    const fixed = resolveFixed(spec, req.label, req.where);
    const table = req.conditionProportions !== undefined ? readConditionProportions(req.conditionProportions, spec) : null;
    const rng = new Rng(req.seed);
    const drawn = table
      ? drawConditionsWithProportions(spec, conditions.train, fixed, table, req.n, rng.derive('conditions'))
      : drawConditions(spec, conditions.train, fixed, req.n, rng.derive('conditions'));
    const openConditions = openConditionsRecord(conditionSources(spec, fixed, runConditionSource(conditions), table), table, { uniformWhy: uniformReason(conditions) });
    const modelId = run.modelId;
    const perClass: Record<string, number> = {};
    await writeDirAtomic(
      req.out,
      async (tmp) => {
        const rows: (string | number)[][] = [];
        const size = gen.imageSize;
        const digits = Math.max(6, String(req.n).length);
        for (let start = 0, b = 0; start < req.n; start += 64, b++) {
          const end = Math.min(req.n, start + 64);
          const labels = drawn.labels.slice(start, end);
          const codes = drawn.codes.map((c) => c.slice(start, end));
          const pixels = tf.tidy(() => {
            const cond = tf.tensor2d(encodeConditions(spec, labels, codes), [end - start, conditionWidth(spec)]);
            return gen.sample(cond, rng.derive(`batch-${b}`).nextUint32()).dataSync() as Float32Array; // sync point
          });
          const len = size * size * gen.channels;
          for (let i = 0; i < end - start; i++) {
            const name = `images/syn_${String(start + i + 1).padStart(digits, '0')}.png`;
            writeFileAtomic(join(tmp, name), encodePng(pixels.subarray(i * len, (i + 1) * len), size, size, gen.channels, bitDepth));
            const labelName = spec.labels[labels[i]!]!;
            perClass[labelName] = (perClass[labelName] ?? 0) + 1;
            rows.push([name, labels[i]!, labelName, ...spec.attributes.map((a, k) => a.values[codes[k]![i]!]!), 1, modelId, req.seed]);
          }
        }
        const header = ['path', 'label', 'label_name', ...spec.attributes.map((a) => a.name), 'synthetic', 'model_id', 'seed'];
        writeFileAtomic(join(tmp, 'manifest.csv'), toCsv(header, rows));
        writeFileAtomic(
          join(tmp, 'samples.json'),
          JSON.stringify({ model: basename(runDir), modelId, seed: req.seed, n: req.n, label: req.label ?? null, where: req.where ?? {}, bitDepth, openConditions }, null, 2) + '\n',
        );
      },
      { option: '--out' },
    );
    return { out: resolve(req.out), n: req.n, seed: req.seed, modelId, bitDepth, perClass, openConditions };
  } finally {
    gen.dispose();
  }
}
