/**
 * What every feature extractor consumes and returns. An extractor is a named, recorded choice (clean-fid's
 * `mode`): its name, the preprocessing it applies and the data it was fitted on travel with every result.
 */
import type { Features } from '../diversity/modes.js';

export type { Features };

export interface ExtractorInfo {
  /** `domain-cnn`, `pixel-pca`, or `file:<name>.npy`. */
  name: string;
  /** What happens to the pixels (or rows) before the feature vector comes out, in words. */
  preprocessing: string;
  /** The data the extractor was fitted on, e.g. `real train split (167 images)`. */
  fittedOn: string;
  /** Feature dimension. */
  dim: number;
  /** Extractor-specific record: seeds, k, explained variance, cache key, file hash, ... */
  details: Record<string, unknown>;
}

/** Images NHWC float32 in [0, 1], row-major, n images of size × size × channels. */
export interface ImageBatch {
  images: Float32Array;
  n: number;
}

export interface FeatureInput {
  /** The whole real dataset, in load order. */
  real: ImageBatch & { labels: Int32Array; fingerprint: string };
  /** Indices into `real` of its train split: the only rows an extractor may be fitted on. */
  trainIndices: readonly number[];
  /** The synthetic set, in manifest order. */
  synthetic: ImageBatch;
  size: number;
  channels: 1 | 3;
  classes: number;
  seed: number;
  /** Seed of the train/holdout/test split (part of the domain-cnn cache key). */
  splitSeed: number;
}

export interface FeatureSet {
  /** One row per real image (load order) and per synthetic image (manifest order). */
  real: Features;
  synthetic: Features;
  info: ExtractorInfo;
}

/** The train-split rows of `real`, as one contiguous batch. */
export function trainBatch(input: FeatureInput): ImageBatch & { labels: Int32Array } {
  const len = input.size * input.size * input.channels;
  const images = new Float32Array(input.trainIndices.length * len);
  input.trainIndices.forEach((src, dst) => images.set(input.real.images.subarray(src * len, (src + 1) * len), dst * len));
  return { images, n: input.trainIndices.length, labels: Int32Array.from(input.trainIndices, (i) => input.real.labels[i]!) };
}
