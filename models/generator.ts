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
import { assert } from '../src/core/errors.js';

export interface ConditionSpec {
  /** Class names, indexed by label. */
  labels: string[];
  /** Conditioning attributes, in order, each with its category names. */
  attributes: { name: string; values: string[] }[];
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

/** One minibatch: images NHWC in [0, 1] and their condition rows. The caller owns both tensors. */
export interface TrainBatch {
  images: tf.Tensor4D;
  cond: tf.Tensor2D;
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
  /** Images NHWC in [0, 1] for the given condition rows, from `seed`. The caller owns the tensor. */
  sample(cond: tf.Tensor2D, seed: number): tf.Tensor4D;
  /** Encoder-decoder generators only: the reconstruction (posterior mean) of images. Caller owns it. */
  reconstruct?(images: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor4D;
  /** Everything a saved model needs, by stable name: trainable weights and layer state. */
  weights(): Map<string, tf.Variable>;
  /** Optimiser state by stable name, plus the optimiser's step count: what a checkpoint adds to resume. */
  optimizerState(): { step: number; slots: Map<string, tf.Variable> };
  /** Restores optimiser state saved by `optimizerState`. */
  restoreOptimizerState(state: { step: number; slots: Map<string, tf.Tensor> }): void;
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
