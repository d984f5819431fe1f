/**
 * `openRun(dir)`: the one reader of a finished run folder. Every command that uses a trained run (sample,
 * reconstruct, balance, audit, report, review --show-nearest, evaluate --run, train --init-from) opens it
 * here and never re-derives what the folder records: the splits come from splits.csv, the condition
 * vocabulary and counts from conditions.json, ε from the model card, the data's identity from run.json's
 * fingerprint. Each file is checked against its schema (records.ts); a folder that is incomplete, older or
 * edited gives one line naming the file and what is missing or wrong.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ImageDataset, SplitName } from '../../datasets/dataset.js';
import { loadDataset } from '../../datasets/load.js';
import type { Generator } from '../../models/generator.js';
import { DatasetError } from '../core/errors.js';
import { createGenerator, loadNetworks, runModelId } from './networks.js';
import {
  ConditionsSchema,
  MetricsLineSchema,
  ModelCardSchema,
  parseRecord,
  parseSplitsCsv,
  RunDataSchema,
  RunRecordSchema,
  type Conditions,
  type EpochEpsilon,
  type MetricsLine,
  type ModelCard,
  type RunData,
  type RunRecord,
} from './records.js';

/** What to do when a file of the folder does not match its schema. */
const OLD_OR_EDITED = 'the run folder was edited or written by an incompatible medsynth version; train it again with this version';

function readJsonFile(path: string, missing: string): unknown {
  if (!existsSync(path)) throw new DatasetError(missing);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DatasetError(`${path}: not valid JSON (${(err as Error).message.split('\n')[0]}); ${OLD_OR_EDITED}`);
  }
}

/** run.json of a run folder, checked. `option` names the flag that gave the folder, in errors. */
export function readRunRecord(dir: string, option = '--run'): RunRecord {
  const path = join(dir, 'run.json');
  const raw = readJsonFile(path, `${option} ${dir}: not a medsynth run folder (no run.json); give a folder written by medsynth train --out`);
  return parseRecord(RunRecordSchema, raw, path, OLD_OR_EDITED);
}

/** The data part of run.json only (RunDataSchema): enough to load and split the run's data. */
export function readRunData(dir: string, option = '--run'): RunData {
  const path = join(dir, 'run.json');
  const raw = readJsonFile(path, `${option} ${dir}: not a medsynth run folder (no run.json); give a folder written by medsynth train --out`);
  return parseRecord(RunDataSchema, raw, path, OLD_OR_EDITED);
}

export interface OpenedRun {
  /** The run folder, absolute. */
  dir: string;
  /** run.json. */
  record: RunRecord;
  /** model-card.json. */
  card: ModelCard;
  /** conditions.json: the vocabulary (`spec`) and the train-split counts, withheld or released. */
  conditions: Conditions;
  /** `<kind>-<12 hex>`: which weights made a sample (networks.ts runModelId). */
  modelId: string;
  /** The run's data path as recorded (run.json "data"), resolved against the working directory. */
  dataPath: string;
  /** metrics.jsonl, one entry per epoch (empty when the file is missing). */
  metrics(): MetricsLine[];
  /**
   * ε after each epoch: the card's `privacy.epsilonPerEpoch`; for run folders written before the card
   * carried it, the same values from metrics.jsonl. Empty for runs without differential privacy.
   */
  epsilonPerEpoch(): EpochEpsilon[];
  /** splits.csv as id → split. */
  splits(): Map<string, SplitName>;
  /** The split of every image of `ds` (loaded with `loadData`), in the dataset's order. */
  splitOf(ds: ImageDataset): SplitName[];
  /**
   * The run's data at the run's size, channels, bins and attributes (`allAttributes`: every attribute the
   * data has), refused unless its sha256 is the one run.json records. `path` defaults to `dataPath`;
   * `option` names the flag that gave it in errors.
   */
  loadData(opts?: { path?: string; option?: string; allAttributes?: boolean }): ImageDataset;
  /** The trained generator with its final weights. The caller disposes it. */
  loadGenerator(): Generator;
}

/**
 * Opens a finished run folder (one with model-card.json). `option` is the flag that named it (`--model`,
 * `--run`, `--init-from`), so every error says which input to fix.
 */
export function openRun(runDir: string, opts: { option?: string } = {}): OpenedRun {
  const option = opts.option ?? '--run';
  const dir = resolve(runDir);
  const record = readRunRecord(dir, option);
  const cardPath = join(dir, 'model-card.json');
  const card = parseRecord(
    ModelCardSchema,
    readJsonFile(cardPath, `${option} ${runDir}: the run has not finished (no model-card.json); continue it with medsynth train --resume ${runDir}`),
    cardPath,
    OLD_OR_EDITED,
  );
  const conditionsPath = join(dir, 'conditions.json');
  const conditions = parseRecord(
    ConditionsSchema,
    readJsonFile(conditionsPath, `${option} ${runDir}: no conditions.json (the condition vocabulary the generator was trained with); the run folder is incomplete, train it again`),
    conditionsPath,
    OLD_OR_EDITED,
  );
  const dataPath = resolve(record.data);
  let splitsCache: Map<string, SplitName> | null = null;

  const metrics = (): MetricsLine[] => {
    const path = join(dir, 'metrics.jsonl');
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        let raw: unknown;
        try {
          raw = JSON.parse(l);
        } catch {
          throw new DatasetError(`${path} line ${i + 1}: not valid JSON; ${OLD_OR_EDITED}`);
        }
        return parseRecord(MetricsLineSchema, raw, `${path} line ${i + 1}`, OLD_OR_EDITED);
      });
  };

  const splits = (): Map<string, SplitName> => {
    if (splitsCache) return splitsCache;
    const path = join(dir, 'splits.csv');
    if (!existsSync(path)) throw new DatasetError(`${option} ${runDir}: no splits.csv (the train/holdout/test split training used); the run folder is incomplete, train it again`);
    splitsCache = parseSplitsCsv(readFileSync(path, 'utf8'), path);
    return splitsCache;
  };

  return {
    dir,
    record,
    card,
    conditions,
    modelId: runModelId(dir, card.generator.type),
    dataPath,
    metrics,
    epsilonPerEpoch() {
      if (!card.privacy.differentialPrivacy) return [];
      if (card.privacy.epsilonPerEpoch) return card.privacy.epsilonPerEpoch;
      return metrics().flatMap((m) => (m.epsilon === undefined ? [] : [{ epoch: m.epoch, step: m.step, epsilon: m.epsilon }]));
    },
    splits,
    splitOf(ds) {
      const byId = splits();
      return ds.ids.map((id) => {
        const s = byId.get(id);
        if (s === undefined) throw new DatasetError(`${option} ${runDir}: image ${id} of ${ds.source.path} is not in the run's splits.csv; give the data the run was trained on (run.json "data": ${record.data})`);
        return s;
      });
    },
    loadData(o = {}) {
      const flag = o.option ?? '--data';
      if (o.path === undefined && !existsSync(dataPath)) {
        throw new DatasetError(`${option} ${runDir}: the run's data (run.json "data": ${record.data}) is not at ${dataPath}; pass it with ${flag} PATH`);
      }
      const path = o.path ?? dataPath;
      const ds = loadDataset({ path, size: record.size, channels: record.channels, bins: record.bins, attributes: o.allAttributes ? undefined : record.attributes });
      if (ds.source.fingerprint !== record.fingerprint) {
        throw new DatasetError(
          o.path !== undefined
            ? `${flag} ${o.path}: not the data run ${runDir} was trained on (sha256 differs from run.json); pass the run's data (run.json "data": ${record.data})`
            : `${option} ${runDir}: the data at ${record.data} changed since the run was trained (sha256 differs from run.json); pass the original data with ${flag} PATH`,
        );
      }
      return ds;
    },
    loadGenerator() {
      const gen = createGenerator(record, conditions.spec);
      try {
        loadNetworks(dir, gen);
      } catch (err) {
        gen.dispose();
        throw err;
      }
      return gen;
    },
  };
}
