/**
 * A training run on disk, and the functions that create, resume and load it.
 *
 * runs/NAME/
 *   run.json           resolved configuration: data path, preprocessing, conditioning, generator config, seeds
 *   splits.csv         the train/holdout/test split actually used (id,split)
 *   conditions.json    the condition vocabulary and how often each condition occurs in the train split
 *   metrics.jsonl      one line per epoch: mean losses, images/s, elapsed time
 *   checkpoint/        weights + optimiser state + position (written atomically after every epoch)
 *   <network>/model.json + model.bin   final weights per network (encoder/, decoder/, ...), tfjs format
 *   model-card.json    what was trained on what, how, and with which results
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../datasets/load.js';
import type { ImageDataset } from '../../datasets/dataset.js';
import { assignSplits, DEFAULT_SPLIT_SEED, splitIndices, splitsCsv, type SplitAssignment } from '../../datasets/splits.js';
import { encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { generatorFactory, generatorKinds } from '../../models/registry.js';
import type { BackendInfo } from '../backend/index.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { packageVersion } from '../core/version.js';
import { loadTensors, saveTensors } from './checkpoint.js';
import { trainLoop, type EpochSummary, type LoopPosition, type Progress } from './loop.js';

export interface RunConfig {
  model: string;
  data: string;
  size: number;
  /** 1 or 3; when absent at the start of a run, the images' own channel count (then recorded). */
  channels?: 1 | 3;
  bins?: Record<string, number[]>;
  attributes?: string[];
  /** Conditioning: 'label' plus attribute names. */
  condition: string[];
  epochs: number;
  batchSize: number;
  seed: number;
  splitSeed: number;
  generator: Record<string, unknown>;
}

export interface RunCallbacks {
  backend: BackendInfo;
  onProgress?: (p: Progress) => void;
  onEpoch?: (e: EpochSummary) => void;
  shouldStop?: () => boolean;
}

export interface RunSummary {
  out: string;
  status: 'done' | 'stopped';
  step: number;
  epochs: number;
  finalLosses: Record<string, number> | null;
  trainingSeconds: number;
  modelCard: string | null;
}

interface Prepared {
  ds: ImageDataset;
  split: SplitAssignment;
  spec: ConditionSpec;
  trainIdx: number[];
  codes: Int32Array[];
}

function prepare(cfg: RunConfig): Prepared {
  const ds = loadDataset({ path: cfg.data, size: cfg.size, channels: cfg.channels, bins: cfg.bins, attributes: cfg.attributes });
  const attrNames = cfg.condition.filter((c) => c !== 'label');
  const attrs = attrNames.map((name) => {
    const a = ds.attributes.find((x) => x.name === name);
    if (!a) {
      throw new ConfigError(
        `--condition ${name}: ${ds.name} has no attribute '${name}' (available: label${ds.attributes.map((x) => `, ${x.name}`).join('')})`,
      );
    }
    return a;
  });
  const spec: ConditionSpec = { labels: ds.labelNames, attributes: attrs.map((a) => ({ name: a.name, values: a.values })) };
  const split = assignSplits(ds, { seed: cfg.splitSeed });
  const trainIdx = splitIndices(split, 'train');
  if (trainIdx.length === 0) throw new DatasetError(`${cfg.data}: the train split is empty; check the manifest's split column`);
  return { ds, split, spec, trainIdx, codes: attrs.map((a) => a.codes) };
}

/** Counts of each (label, attribute codes) combination among the train images. */
function conditionCounts(p: Prepared): { label: number; codes: number[]; count: number }[] {
  const counts = new Map<string, { label: number; codes: number[]; count: number }>();
  for (const i of p.trainIdx) {
    const label = p.ds.labels[i]!;
    const codes = p.codes.map((c) => c[i]!);
    const key = [label, ...codes].join(',');
    const e = counts.get(key) ?? { label, codes, count: 0 };
    e.count++;
    counts.set(key, e);
  }
  return [...counts.values()].sort((a, b) => a.label - b.label || a.codes.join().localeCompare(b.codes.join()));
}

function trainTensors(p: Prepared): { images: tf.Tensor4D; cond: tf.Tensor2D } {
  const { ds, trainIdx } = p;
  const len = ds.height * ds.width * ds.channels;
  const px = new Float32Array(trainIdx.length * len);
  trainIdx.forEach((src, dst) => px.set(ds.images.subarray(src * len, (src + 1) * len), dst * len));
  const cond = encodeConditions(
    p.spec,
    trainIdx.map((i) => ds.labels[i]!),
    p.codes.map((c) => trainIdx.map((i) => c[i]!)),
  );
  return {
    images: tf.tensor4d(px, [trainIdx.length, ds.height, ds.width, ds.channels]),
    cond: tf.tensor2d(cond, [trainIdx.length, cond.length / trainIdx.length]),
  };
}

/** Weights grouped by network (the first segment of their names): encoder, decoder, ... */
function byNetwork(weights: Map<string, tf.Variable>): Map<string, Map<string, tf.Tensor>> {
  const groups = new Map<string, Map<string, tf.Tensor>>();
  for (const [name, v] of weights) {
    const net = name.split('/')[0]!;
    if (!groups.has(net)) groups.set(net, new Map());
    groups.get(net)!.set(name, v);
  }
  return groups;
}

async function saveNetworks(dir: string, gen: Generator, meta: Record<string, unknown>): Promise<void> {
  for (const [net, tensors] of byNetwork(gen.weights())) {
    mkdirSync(join(dir, net), { recursive: true });
    await saveTensors(join(dir, net), 'model', { format: 'medsynth-generator', network: net, ...meta }, tensors);
  }
}

function loadNetworks(dir: string, gen: Generator): void {
  const weights = gen.weights();
  for (const net of byNetwork(weights).keys()) {
    const saved = loadTensors(join(dir, net), 'model');
    try {
      for (const [name, t] of saved.tensors) {
        const v = weights.get(name);
        if (!v || v.shape.join() !== t.shape.join()) {
          throw new DatasetError(`${join(dir, net, 'model.json')}: weight ${name} does not fit this ${gen.kind}; the run folder does not match its run.json`);
        }
        v.assign(t);
      }
    } finally {
      tf.dispose([...saved.tensors.values()]);
    }
  }
}

async function writeCheckpoint(out: string, gen: Generator, pos: LoopPosition, cfg: RunConfig): Promise<void> {
  await writeDirAtomic(
    join(out, 'checkpoint'),
    async (tmp) => {
      await saveNetworks(tmp, gen, { generatorType: gen.kind });
      const opt = gen.optimizerState();
      await saveTensors(tmp, 'optimizer', { step: opt.step }, opt.slots);
      writeFileAtomic(join(tmp, 'state.json'), JSON.stringify({ ...pos, seed: cfg.seed, epochs: cfg.epochs }, null, 2) + '\n');
    },
    { overwrite: true },
  );
}

function packageVersions(): Record<string, string> {
  return { medsynth: packageVersion(), '@tensorflow/tfjs': tf.version_core, node: process.version };
}

function createGenerator(cfg: RunConfig, spec: ConditionSpec): Generator {
  const f = generatorFactory(cfg.model);
  if (!f) throw new ConfigError(`--model ${cfg.model}: unknown generator; use one of ${generatorKinds().join(', ')}`);
  return f.create(cfg.generator, spec, { size: cfg.size, channels: cfg.channels ?? 1 }, cfg.seed);
}

async function runLoop(out: string, cfg: RunConfig, p: Prepared, gen: Generator, cb: RunCallbacks, start?: LoopPosition): Promise<RunSummary> {
  const data = trainTensors(p);
  try {
    const result = await trainLoop(gen, data, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      seed: cfg.seed,
      start,
      onProgress: cb.onProgress,
      onEpoch: (e) => {
        appendFileSync(join(out, 'metrics.jsonl'), JSON.stringify(e) + '\n');
        cb.onEpoch?.(e);
      },
      checkpoint: (pos) => writeCheckpoint(out, gen, pos, cfg),
      shouldStop: cb.shouldStop,
    });
    let modelCard: string | null = null;
    const finalLosses = result.lastEpoch?.losses ?? null;
    if (result.status === 'done') {
      await saveNetworks(out, gen, { generatorType: gen.kind });
      modelCard = join(out, 'model-card.json');
      const card = {
        generator: { type: gen.kind, architecture: gen.architecture(), config: gen.config() },
        conditioning: p.spec,
        dataset: {
          name: p.ds.name,
          source: p.ds.source.kind,
          path: cfg.data,
          fingerprint: `sha256:${p.ds.source.fingerprint}`,
          preprocessing: p.ds.source.preprocessing,
          bitDepth: p.ds.bitDepth,
        },
        splits: { seed: p.split.seed, origin: p.split.origin, unit: p.split.unit, sizes: p.split.sizes, units: p.split.units },
        training: {
          config: cfg,
          seed: cfg.seed,
          steps: result.position.step,
          seconds: result.position.elapsedMs / 1000,
          finalLosses,
        },
        privacy: { differentialPrivacy: false, note: 'trained without differential privacy: no formal guarantee for the training images or patients' },
        environment: { versions: packageVersions(), backend: cb.backend },
      };
      writeFileAtomic(modelCard, JSON.stringify(card, null, 2) + '\n');
    }
    return {
      out,
      status: result.status,
      step: result.position.step,
      epochs: cfg.epochs,
      finalLosses,
      trainingSeconds: result.position.elapsedMs / 1000,
      modelCard,
    };
  } finally {
    tf.dispose([data.images, data.cond]);
  }
}

/** Starts a new run in `out` (which must not exist). */
export async function trainRun(outDir: string, requested: RunConfig, cb: RunCallbacks): Promise<RunSummary> {
  const out = resolve(outDir);
  if (existsSync(out)) throw new ConfigError(`--out ${outDir} already exists; choose a new run folder, or continue it with --resume ${outDir}`);
  const p = prepare(requested);
  const cfg: RunConfig = { ...requested, channels: p.ds.channels };
  const gen = createGenerator(cfg, p.spec);
  try {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(join(out, 'run.json'), JSON.stringify({ ...cfg, fingerprint: p.ds.source.fingerprint }, null, 2) + '\n');
    writeFileAtomic(join(out, 'splits.csv'), splitsCsv(p.ds, p.split));
    writeFileAtomic(join(out, 'conditions.json'), JSON.stringify({ spec: p.spec, train: conditionCounts(p) }, null, 2) + '\n');
    return await runLoop(out, cfg, p, gen, cb);
  } finally {
    gen.dispose();
  }
}

/** The configuration a run was started with. */
export function readRunConfig(runDir: string): RunConfig & { fingerprint: string } {
  const path = join(runDir, 'run.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new DatasetError(`${path}: not a medsynth run folder (run.json missing or unreadable)`);
  }
}

/** Continues a run from its last checkpoint; the same seed gives the same weights as an uninterrupted run. */
export async function resumeRun(runDir: string, cb: RunCallbacks, overrides: { epochs?: number } = {}): Promise<RunSummary> {
  const out = resolve(runDir);
  const saved = readRunConfig(out);
  const { fingerprint, ...rest } = saved;
  const cfg: RunConfig = { ...rest, epochs: overrides.epochs ?? rest.epochs };
  if (!existsSync(join(out, 'checkpoint', 'state.json'))) {
    throw new DatasetError(`--resume ${runDir}: no checkpoint yet (it is written after the first epoch); start the run again`);
  }
  const p = prepare(cfg);
  if (p.ds.source.fingerprint !== fingerprint) {
    throw new DatasetError(`--resume ${runDir}: the data at ${cfg.data} changed since the run started (sha256 differs); resume needs the same data`);
  }
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as LoopPosition;
  const gen = createGenerator(cfg, p.spec);
  try {
    loadNetworks(join(out, 'checkpoint'), gen);
    const opt = loadTensors(join(out, 'checkpoint'), 'optimizer');
    try {
      gen.restoreOptimizerState({ step: Number(opt.meta.step), slots: opt.tensors });
    } finally {
      tf.dispose([...opt.tensors.values()]);
    }
    if (cfg.epochs !== rest.epochs) writeFileAtomic(join(out, 'run.json'), JSON.stringify({ ...cfg, fingerprint }, null, 2) + '\n');
    return await runLoop(out, cfg, p, gen, cb, state);
  } finally {
    gen.dispose();
  }
}

/** A trained generator from a finished run folder, with its configuration and condition statistics. */
export function loadRunGenerator(runDir: string): { gen: Generator; cfg: RunConfig; conditions: { spec: ConditionSpec; train: { label: number; codes: number[]; count: number }[] } } {
  const cfg = readRunConfig(runDir);
  const conditions = JSON.parse(readFileSync(join(runDir, 'conditions.json'), 'utf8'));
  if (!existsSync(join(runDir, 'model-card.json'))) {
    throw new DatasetError(`--model ${runDir}: the run has not finished (no model-card.json); continue it with medsynth train --resume ${runDir}`);
  }
  const gen = createGenerator(cfg, conditions.spec);
  try {
    loadNetworks(runDir, gen);
  } catch (err) {
    gen.dispose();
    throw err;
  }
  return { gen, cfg, conditions };
}

export { DEFAULT_SPLIT_SEED };
