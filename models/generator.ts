/**
 * The one interface every generator (cVAE, DP-GAN) implements, and the registry the CLI and the contract
 * tests use.
 *
 * Conditioning: a generator is conditioned on the class and on chosen categorical attributes. The
 * condition row of an image is one-hot(class) ++ one-hot(value of each conditioning attribute), in the
 * order of `ConditionSpec`; `encodeConditions` builds it. The training loop (src/train) owns epochs,
 * batching, checkpoints and progress; a generator owns its networks, its loss and its optimiser.
 */
import * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import { assert, ConfigError, UserError } from '../src/core/errors.js';
import type { Layer } from '../src/nn/layers.js';
import type { AuditBreak } from '../src/privacy/canary.js';
import type { CanaryStep } from '../src/privacy/dp-sgd.js';
import type { UnitGrouping } from '../src/privacy/per-example.js';
import type { ReleaseParams } from '../src/privacy/release.js';

export interface ConditionSpec {
  /** Class names, indexed by label. */
  labels: string[];
  /** Conditioning attributes, in order, each with its category names. */
  attributes: { name: string; values: string[] }[];
}

/** Number of condition cells: number of classes × Π number of values per attribute. */
export function conditionCells(spec: ConditionSpec): number {
  return spec.attributes.reduce((a, x) => a * x.values.length, spec.labels.length);
}

/** Width of a condition row: number of classes + Σ number of values per attribute. */
export function conditionWidth(spec: ConditionSpec): number {
  return spec.labels.length + spec.attributes.reduce((a, x) => a + x.values.length, 0);
}

/**
 * Condition rows [n, width] for n images: `labels[i]` and `codes[k][i]` (the code of attribute k, in
 * `spec.attributes` order, for image i).
 */
export function encodeConditions(spec: ConditionSpec, labels: ArrayLike<number>, codes: ArrayLike<number>[]): Float32Array {
  assert(codes.length === spec.attributes.length, () => `expected ${spec.attributes.length} attribute code arrays, got ${codes.length}`);
  const n = labels.length;
  const width = conditionWidth(spec);
  const out = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    assert(label >= 0 && label < spec.labels.length, () => `label ${label} out of range`);
    out[i * width + label] = 1;
    let offset = spec.labels.length;
    spec.attributes.forEach((a, k) => {
      const c = codes[k]![i]!;
      assert(c >= 0 && c < a.values.length, () => `code ${c} out of range for ${a.name}`);
      out[i * width + offset + c] = 1;
      offset += a.values.length;
    });
  }
  return out;
}

/**
 * A generator's training has collapsed or diverged in a way its loss does not show (e.g. a GAN whose
 * discriminator rejects every fake). The training loop adds which checkpoint is kept.
 */
export class GeneratorCollapsedError extends UserError {}

/** One minibatch: images NHWC in [0, 1] and their condition rows. The caller owns both tensors. */
export interface TrainBatch {
  images: tf.Tensor4D;
  cond: tf.Tensor2D;
}

/**
 * A Poisson batch for a DP-SGD step: the images of the sampled privacy units (possibly none), with the
 * unit of each image (null: every image is its own unit).
 */
export interface PrivateBatch extends TrainBatch {
  grouping: UnitGrouping | null;
}

/** The DP-SGD parameters of one step (src/privacy/dp-sgd.ts). */
export interface DpStepParams {
  clipNorm: number;
  noiseMultiplier: number;
  /** q · U: the expected number of privacy units per batch. */
  expectedUnits: number;
  /** q · (train images): the expected number of images per batch. */
  expectedImages?: number;
  /** Seed of this step's Gaussian noise. */
  seed: number;
  /** Audit runs: the gradient canaries of this step; the private module's DP-SGD call passes them on. */
  canary?: CanaryStep;
  /** Test builds only: a deliberate DP bug for the canary audit to catch (src/privacy/canary.ts). */
  auditBreak?: AuditBreak;
}

/**
 * The train split as a one-shot generator's release reads it: images, condition rows, and the unit of each
 * image (null: every image is its own unit). The caller owns the tensors.
 */
export interface ReleaseData extends TrainBatch {
  unitOf: Int32Array | null;
}

export interface Generator {
  /** Registry name: `cvae`, `dpgan`. */
  readonly kind: string;
  readonly spec: ConditionSpec;
  readonly imageSize: number;
  readonly channels: 1 | 3;
  /**
   * One optimisation step on a batch; `step` counts from 0 over the whole run. Returns the loss terms as
   * numbers (reading them back is a sync point).
   */
  trainStep(batch: TrainBatch, step: number): Record<string, number>;
  /**
   * DP generators only: one DP-SGD step of the private module (the one that sees real images) on a
   * Poisson batch. Same return value as `trainStep`, plus `clipped` (share of units clipped).
   */
  privateStep?(batch: PrivateBatch, step: number, dp: DpStepParams): Record<string, number>;
  /** DP generators only: the layers that see private data, for the DP validators. */
  privateLayers?(): Layer[];
  /**
   * DP generators only: the part of `privateLayers` that DP-SGD updates (default: all of them). The others
   * are frozen at their initial weights (a `trainable` option with --init-from); the model card lists both.
   */
  trainedPrivateLayers?(): Layer[];
  /**
   * One-shot generators only (factory `mechanism: 'one-shot'`): the single access to the train split, which
   * releases the generator's statistics with the Gaussian mechanism (σ = 0 without DP;
   * src/privacy/release.ts). Returns numbers for the log (e.g. the clipped share of units).
   */
  releaseStatistics?(data: ReleaseData, params: ReleaseParams): Record<string, number>;
  /** One-shot generators only: whether `releaseStatistics` has run (the release is saved with the weights). */
  isReleased?(): boolean;
  /** One-shot generators only: one fitting step against the released statistics; reads no data. */
  fitStep?(step: number): Record<string, number>;
  /** One-shot generators only: the class × group counts the release carries (noisy under DP). */
  releasedConditionCounts?(): { label: number; codes: number[]; count: number }[];
  /** Images NHWC in [0, 1] for the given condition rows, from `seed`. The caller owns the tensor. */
  sample(cond: tf.Tensor2D, seed: number): tf.Tensor4D;
  /** Encoder-decoder generators only: the reconstruction (posterior mean) of images. Caller owns it. */
  reconstruct?(images: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor4D;
  /** Everything a saved model needs, by stable name: trainable weights and layer state. */
  weights(): Map<string, tf.Variable>;
  /** Optimiser state by stable name, plus the optimiser's step count: what a checkpoint adds to resume. */
  optimizerState(): { step: number; slots: Map<string, tf.Variable>; meta?: Record<string, number> };
  /** Restores optimiser state saved by `optimizerState` (`meta`: its numbers, absent in older checkpoints). */
  restoreOptimizerState(state: { step: number; slots: Map<string, tf.Tensor>; meta?: Record<string, number> }): void;
  /** A JSON description of the networks (for the model card). */
  architecture(): Record<string, unknown>;
  /** The resolved configuration (JSON), enough to `create` the same generator again. */
  config(): Record<string, unknown>;
  dispose(): void;
}

export interface GeneratorFactory {
  kind: string;
  /** Builds an untrained generator; `config` is validated by the factory (user errors are ConfigErrors). */
  create(config: unknown, spec: ConditionSpec, shape: { size: number; channels: 1 | 3 }, seed: number): Generator;
  /**
   * Options that replace the factory's defaults when the run trains with DP (the user's own options still
   * win). The trainer applies them to a new run before `create`; run.json records the result, which a
   * resumed or loaded run uses as it is.
   */
  privateDefaults?: Readonly<Record<string, unknown>>;
  /**
   * How the generator touches private data: 'dp-sgd' (default) takes a DP-SGD step per Poisson batch;
   * 'one-shot' releases its statistics once (`releaseStatistics`) and then fits to them (`fitStep`).
   */
  mechanism?: 'dp-sgd' | 'one-shot';
}

/** A generator's options parsed with its zod schema; the first problem is a ConfigError naming the option. */
export function parseGeneratorConfig<T>(kind: string, schema: z.ZodType<T>, config: unknown): T {
  const parsed = schema.safeParse(config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${kind} option ${issue.path.join('.') || '(config)'}: ${issue.message}`);
  }
  return parsed.data;
}

const registry = new Map<string, GeneratorFactory>();

export function registerGenerator(factory: GeneratorFactory): void {
  if (registry.has(factory.kind)) throw new Error(`internal error: generator ${factory.kind} registered twice`);
  registry.set(factory.kind, factory);
}

export function generatorFactory(kind: string): GeneratorFactory | undefined {
  return registry.get(kind);
}

export function generatorKinds(): string[] {
  return [...registry.keys()];
}
