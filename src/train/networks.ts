/**
 * A generator's weights in a run folder: one folder per network (encoder/, decoder/, generator/, ...), each
 * `model.json + model.bin` in the tfjs weights format (checkpoint.ts); creating the generator a run.json
 * describes; and the model id that names which weights made a sample.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ConditionSpec, Generator } from '../../models/generator.js';
import { generatorFactory, generatorKinds } from '../../models/registry.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import { loadTensors, saveTensors } from './checkpoint.js';

/** Weights grouped by network (the first segment of their names): encoder, decoder, ... */
export function byNetwork(weights: Map<string, tf.Variable>): Map<string, Map<string, tf.Tensor>> {
  const groups = new Map<string, Map<string, tf.Tensor>>();
  for (const [name, v] of weights) {
    const net = name.split('/')[0]!;
    if (!groups.has(net)) groups.set(net, new Map());
    groups.get(net)!.set(name, v);
  }
  return groups;
}

export async function saveNetworks(dir: string, gen: Generator, meta: Record<string, unknown>): Promise<void> {
  for (const [net, tensors] of byNetwork(gen.weights())) {
    mkdirSync(join(dir, net), { recursive: true });
    await saveTensors(join(dir, net), 'model', { format: 'medsynth-generator', network: net, ...meta }, tensors);
  }
}

/**
 * Loads every network of `gen` from `dir`. Each of gen's weights must be there with its shape and nothing
 * else may be: `mismatch(detail)` makes the error (what the folder is, and what to do).
 */
export function loadNetworks(dir: string, gen: Generator, mismatch: (detail: string) => Error = (d) => new DatasetError(`${dir}: ${d} for this ${gen.kind}; the run folder does not match its run.json`)): void {
  const weights = gen.weights();
  const seen = new Set<string>();
  for (const net of byNetwork(weights).keys()) {
    if (!existsSync(join(dir, net, 'model.json'))) throw mismatch(`no ${net} weights (${join(net, 'model.json')} is missing)`);
    const saved = loadTensors(join(dir, net), 'model');
    try {
      for (const [name, t] of saved.tensors) {
        const v = weights.get(name);
        if (!v) throw mismatch(`weight ${name} has no place`);
        if (v.shape.join() !== t.shape.join()) throw mismatch(`weight ${name} is [${t.shape.join(', ')}] there but [${v.shape.join(', ')}] here`);
        v.assign(t);
        seen.add(name);
      }
    } finally {
      tf.dispose([...saved.tensors.values()]);
    }
  }
  const missing = [...weights.keys()].find((k) => !seen.has(k));
  if (missing) throw mismatch(`weight ${missing} is missing`);
}

/** sha256 over a run's final weight files: network folders in name order, model.json then model.bin. */
export function weightsSha256(runDir: string, networks: string[]): string {
  const h = createHash('sha256');
  for (const net of [...networks].sort()) for (const f of ['model.json', 'model.bin']) h.update(readFileSync(join(runDir, net, f)));
  return h.digest('hex');
}

/** The generator a run's settings describe, with fresh weights (the caller loads and disposes them). */
export function createGenerator(cfg: { model: string; generator: Record<string, unknown>; size: number; channels?: 1 | 3; seed: number }, spec: ConditionSpec): Generator {
  const f = generatorFactory(cfg.model);
  if (!f) throw new ConfigError(`--model ${cfg.model}: unknown generator; use one of ${generatorKinds().join(', ')}`);
  return f.create(cfg.generator, spec, { size: cfg.size, channels: cfg.channels ?? 1 }, cfg.seed);
}

/** `<kind>-<first 12 hex of sha256(sampling network weights)>`: which weights made a sample. */
export function runModelId(runDir: string, kind: string): string {
  const weightsHash = createHash('sha256');
  for (const net of ['decoder', 'generator']) {
    const bin = join(runDir, net, 'model.bin');
    if (existsSync(bin)) weightsHash.update(readFileSync(bin)); // a generator has one of these networks
  }
  return `${kind}-${weightsHash.digest('hex').slice(0, 12)}`;
}
