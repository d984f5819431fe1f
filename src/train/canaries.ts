/**
 * Audit runs (`train --dp --audit-canaries M`): the run-folder side of the one-run canary audit
 * (src/privacy/canary.ts has the mechanism, eval/privacy/canary-bound.ts the bound).
 *
 * runs/NAME/
 *   canaries.json              the public audit plan: kind, m, the canaries' coordinates, the break (tests)
 *   canary-key.json            the SECRET key: the seed and the inclusion bits. Only the scoring's last step
 *                              (counting correct guesses) reads it, after every score is fixed.
 *   canary-observations.bin    what an all-iterates observer sees of each canary: float32 little-endian
 *                              [steps, m], the released noisy sum at the canary's coordinate in units of C
 *   checkpoint/canary-observations.bin   the same up to the checkpoint, so a resumed run continues it
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { conditionWidth, encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import { deriveSeed, Rng } from '../core/rng.js';
import { canaryCoordinates, canaryInclusion, CANARY_RAW_NORM_FACTOR, type AuditBreak, type CanaryCoordinate, type CanaryKind } from '../privacy/canary.js';
import type { LoopCanaries } from './loop.js';

/** What the user asks for: `--audit-canaries M --canary-kind K --canary-seed S` (and, in tests, a break). */
export interface CanaryRequest {
  canaries: number;
  kind: CanaryKind;
  seed: number;
  /** Test builds only: never set by the CLI. */
  break?: AuditBreak;
}

/** canaries.json. */
export interface CanaryPlanFile {
  format: 'medsynth-canary-plan';
  kind: CanaryKind;
  canaries: number;
  /** Gradient canaries: the raw norm of each Dirac canary, in units of C (clipping brings it to C). */
  rawNormFactor: number;
  coordinates: CanaryCoordinate[];
  /** The canaries' Poisson draws use this seed (public: the secret is which canaries are included). */
  drawSeed: number;
  /** Gradient canaries: where the observations are. */
  observations?: { file: string; layout: string };
  /**
   * Input canaries: image units made from `seed` (uniform noise in [0, 1], the run's size and channels),
   * each with a random class and attribute values; public, like everything in this file.
   */
  inputs?: { seed: number; size: number; channels: 1 | 3; labels: number[]; codes: number[][] };
  break?: AuditBreak;
  note: string;
}

export const CANARY_PLAN = 'canaries.json';
export const CANARY_KEY = 'canary-key.json';
export const CANARY_OBSERVATIONS = 'canary-observations.bin';
export const AUDIT_RUN_NOTE =
  'AUDIT RUN, NOT FOR RELEASE: m canaries (each included with probability 1/2, secretly) were trained into this model so that `medsynth audit` can lower-bound its epsilon (Steinke, Nasr & Jagielski 2023). The canaries are extra privacy units; the real units keep the stated guarantee.';

/**
 * The trained private module's weight matrices and filters (rank >= 2), by stable name: where canaries may
 * sit (a frozen layer's weights never move, so a canary there could not be observed).
 */
export function canaryWeights(gen: Generator): { name: string; variable: tf.Variable }[] {
  const layers = gen.trainedPrivateLayers?.() ?? gen.privateLayers?.() ?? [];
  return layers.flatMap((l) => l.named()).filter(([, v]) => v.rank >= 2 && v.trainable).map(([name, variable]) => ({ name, variable }));
}

/**
 * The canary plan of a new audit run, and its key; refuses (ConfigError) what cannot be audited. The
 * coordinates and the draws derive from the run's (public) training seed, the inclusion bits alone from
 * the canary seed: nothing in the public plan is a function of the key's seed, so the key cannot be
 * recovered from the plan by trying seeds.
 */
export function planCanaries(req: CanaryRequest, gen: Generator, oneShot: boolean, trainingSeed: number): { plan: CanaryPlanFile; key: string } {
  const included = canaryInclusion(req.canaries, req.seed);
  const key = JSON.stringify({ format: 'medsynth-canary-key', seed: req.seed, included: Array.from(included).join('') }) + '\n';
  if (req.canaries < 2) throw new ConfigError(`--audit-canaries ${req.canaries}: needs at least 2 canaries (1000 is typical)`);
  const common = { format: 'medsynth-canary-plan' as const, kind: req.kind, canaries: req.canaries, ...(req.break ? { break: req.break } : {}), note: AUDIT_RUN_NOTE };
  if (req.kind === 'input') {
    const rng = new Rng(deriveSeed(trainingSeed, 'canary-inputs'));
    const labels = Array.from({ length: req.canaries }, () => rng.int(gen.spec.labels.length));
    const codes = gen.spec.attributes.map((a) => Array.from({ length: req.canaries }, () => rng.int(a.values.length)));
    const plan: CanaryPlanFile = { ...common, rawNormFactor: 1, coordinates: [], drawSeed: deriveSeed(trainingSeed, 'canary-draws'), inputs: { seed: deriveSeed(trainingSeed, 'canary-images'), size: gen.imageSize, channels: gen.channels, labels, codes } };
    return { plan, key };
  }
  if (oneShot || !gen.privateStep) {
    throw new ConfigError(`--canary-kind gradient: gradient canaries join DP-SGD steps, and ${gen.kind} takes none (it releases its statistics once); use --canary-kind input, or audit a --model cvae or dpgan run`);
  }
  const weights = canaryWeights(gen);
  const total = weights.reduce((a, w) => a + w.variable.size, 0);
  if (req.canaries > total) {
    throw new ConfigError(`--audit-canaries ${req.canaries}: at most ${total} gradient canaries (one per weight of ${gen.kind}'s private module)`);
  }
  const plan: CanaryPlanFile = {
    ...common,
    rawNormFactor: CANARY_RAW_NORM_FACTOR,
    coordinates: canaryCoordinates(weights.map((w) => ({ name: w.name, size: w.variable.size })), req.canaries, deriveSeed(trainingSeed, 'canary-coordinates')),
    drawSeed: deriveSeed(trainingSeed, 'canary-draws'),
    observations: { file: CANARY_OBSERVATIONS, layout: 'float32 little-endian, [steps, canaries] row-major: the released noisy clipped sum at each canary coordinate, in units of the clip norm' },
  };
  return { plan, key };
}

/** Input canaries' images [m, size, size, channels] (uniform noise in [0, 1]) and condition rows [m, width]. */
export function canaryInputs(plan: CanaryPlanFile, spec: ConditionSpec): { images: Float32Array; cond: Float32Array; n: number; width: number } {
  const inp = plan.inputs;
  if (!inp) throw new Error('internal error: not an input-canary plan');
  const len = inp.size * inp.size * inp.channels;
  const rng = new Rng(inp.seed);
  const images = Float32Array.from({ length: plan.canaries * len }, () => rng.uniform());
  return { images, cond: encodeConditions(spec, inp.labels, inp.codes), n: plan.canaries, width: conditionWidth(spec) };
}

/** Writes canaries.json and the key file (canary-key.json) into a new audit run's folder. */
export function writeCanaryPlan(out: string, c: { plan: CanaryPlanFile; key: string }): void {
  writeFileAtomic(join(out, CANARY_KEY), c.key);
  writeFileAtomic(join(out, CANARY_PLAN), JSON.stringify(c.plan, null, 2) + '\n');
}

export function readCanaryPlan(runDir: string): CanaryPlanFile | null {
  const path = join(runDir, CANARY_PLAN);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CanaryPlanFile;
  } catch {
    throw new DatasetError(`${path}: unreadable; the audit run's canary plan is damaged`);
  }
}

/** The secret inclusion bits. Read only after the scores are fixed. */
export function readCanaryKey(runDir: string, m: number): Uint8Array {
  const path = join(runDir, CANARY_KEY);
  let bits: string;
  try {
    bits = String(JSON.parse(readFileSync(path, 'utf8')).included);
  } catch {
    throw new DatasetError(`${path}: missing or unreadable; without the canary key an audit run cannot be scored`);
  }
  if (bits.length !== m || /[^01]/.test(bits)) throw new DatasetError(`${path}: expected ${m} inclusion bits (0/1)`);
  return Uint8Array.from(bits, (c) => (c === '1' ? 1 : 0));
}

/** The observations [steps, m] of a run folder (or its checkpoint), the first `steps` rows. */
export function readCanaryObservations(dir: string, m: number, steps?: number): Float32Array {
  const path = join(dir, CANARY_OBSERVATIONS);
  if (!existsSync(path)) throw new DatasetError(`${path}: missing; the audit run did not finish writing its canary observations`);
  const buf = readFileSync(path);
  const rows = buf.length / (4 * m);
  if (!Number.isInteger(rows)) throw new DatasetError(`${path}: ${buf.length} bytes is not a whole number of rows of ${m} float32`);
  if (steps !== undefined && steps > rows) throw new DatasetError(`${path}: ${rows} steps recorded, ${steps} needed`);
  const out = new Float32Array(m * (steps ?? rows));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** Encodes observations as float32 little-endian. */
function encode(values: Float32Array): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  return out;
}

/**
 * The training loop's canaries for an audit run, and the log of what they show. `start` = the observations
 * a resumed run continues from (rows 0..step-1).
 */
export class CanaryRecorder {
  private rows: Float32Array[] = [];
  readonly loop: LoopCanaries;

  constructor(plan: CanaryPlanFile, included: Uint8Array, gen: Generator, start?: Float32Array) {
    const byName = new Map(canaryWeights(gen).map((w) => [w.name, w.variable]));
    const entries = plan.coordinates.map((c) => {
      const param = byName.get(c.weight);
      if (!param || c.index < 0 || c.index >= param.size) throw new DatasetError(`${CANARY_PLAN}: canary coordinate ${c.weight}[${c.index}] is not a weight of this ${gen.kind}`);
      return { param, index: c.index };
    });
    const m = plan.canaries;
    if (start) for (let t = 0; t < start.length / m; t++) this.rows.push(start.slice(t * m, (t + 1) * m));
    this.loop = {
      entries,
      included,
      seed: plan.drawSeed,
      observe: (step, values) => {
        if (step !== this.rows.length) throw new Error(`internal error: canary observation for step ${step}, expected ${this.rows.length}`);
        this.rows.push(values);
      },
      ...(plan.break ? { auditBreak: plan.break } : {}),
    };
  }

  /** Writes the first `steps` rows to `dir`/canary-observations.bin (atomically). */
  write(dir: string, steps: number): void {
    const m = this.loop.entries.length;
    const all = new Float32Array(steps * m);
    for (let t = 0; t < steps; t++) all.set(this.rows[t]!, t * m);
    writeFileAtomic(join(dir, CANARY_OBSERVATIONS), encode(all));
  }
}
