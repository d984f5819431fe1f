/**
 * `domain-cnn`: the penultimate-layer embedding of a small CNN classifier (eval/classifier/cnn.ts) trained
 * on the real train split to predict the class label. It stands in for the ImageNet Inception features of
 * FID, which cannot be downloaded here and know nothing of radiographs; the embedding is what separates
 * this dataset's classes.
 *
 * Embedding: each image standardised to zero mean and unit variance (as the classifier does), then the
 * classifier's stride-2 convolutions with ReLU, then global average pooling: [n, width of the last conv]
 * (64 at 28 px, 128 at 64 px). The class logits are not used.
 *
 * Cache: the trained weights are stored under `<cacheDir>/domain-cnn/<key>.json`, key = sha256 of
 * (real dataset fingerprint, size, channels, classes, classifier seed, split seed, steps, train size), so a
 * second evaluation of the same data skips training. The cached weights were fitted on real images: the
 * cache belongs in a private, git-ignored folder (default `.cache/medsynth`) and is never written into an
 * evaluation's output.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../src/core/fs.js';
import type { Conv2d, Dense } from '../../src/nn/layers.js';
import { CnnClassifier, standardiseImages } from '../classifier/cnn.js';
import { trainBatch, type FeatureInput, type FeatureSet } from './types.js';

export const DOMAIN_CNN_DEFAULT_STEPS = 600;
const FORMAT = 'medsynth-domain-cnn-v1';

export interface DomainCnnOptions {
  /** Classifier training steps (default 600). */
  steps?: number;
  /** Cache folder; null turns the cache off. */
  cacheDir: string | null;
  /** Called after each training step (not on a cache hit), for progress lines. */
  onStep?: (done: number, steps: number) => void;
}

/**
 * CnnClassifier keeps its layers private; the embedding needs the convolutions without the last dense
 * layer. This is the one place that reaches in, and it fails loudly if the classifier's shape changes.
 */
function layersOf(clf: CnnClassifier): { convs: Conv2d[]; out: Dense } {
  const inner = clf as unknown as { convs?: Conv2d[]; out?: Dense };
  if (!Array.isArray(inner.convs) || inner.convs.length === 0 || !inner.out) {
    throw new Error('internal error: CnnClassifier no longer has convs/out layers; update eval/features/domain-cnn.ts');
  }
  return { convs: inner.convs, out: inner.out };
}

/** Penultimate-layer embeddings [n, width] of images NHWC (n · size · size · channels values). */
export function embedImages(clf: CnnClassifier, images: Float32Array, n: number, size: number, channels: number): Float32Array {
  const { convs } = layersOf(clf);
  const width = convs[convs.length - 1]!.outChannels;
  const len = size * size * channels;
  const x = standardiseImages(images, n, len);
  const out = new Float32Array(n * width);
  for (let s = 0; s < n; s += 256) {
    const e = Math.min(n, s + 256);
    const part = tf.tidy(() => {
      let h: tf.Tensor = tf.tensor4d(x.subarray(s * len, e * len), [e - s, size, size, channels]);
      for (const c of convs) h = tf.relu(c.apply(h));
      return tf.mean(h, [1, 2]).dataSync(); // [e - s, width]; sync point
    });
    out.set(part, s * width);
  }
  return out;
}

/** Logits from an embedding through the classifier's last layer (for checking the embedding). */
export function logitsFromEmbedding(clf: CnnClassifier, emb: Float32Array, n: number): Float32Array {
  const { out } = layersOf(clf);
  return tf.tidy(() => out.apply(tf.tensor2d(emb, [n, out.inUnits])).dataSync() as Float32Array);
}

function namedWeights(clf: CnnClassifier): [string, tf.Variable][] {
  const { convs, out } = layersOf(clf);
  return [...convs, out].flatMap((l) => l.named());
}

export function cacheKeyInputs(input: FeatureInput, steps: number) {
  return {
    extractor: 'domain-cnn',
    format: FORMAT,
    fingerprint: input.real.fingerprint,
    size: input.size,
    channels: input.channels,
    classes: input.classes,
    seed: input.seed,
    splitSeed: input.splitSeed,
    steps,
    trainImages: input.trainIndices.length,
  };
}

function cacheKey(inputs: ReturnType<typeof cacheKeyInputs>): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}

interface CacheFile {
  format: string;
  key: ReturnType<typeof cacheKeyInputs>;
  weights: { name: string; shape: number[]; data: string }[];
}

/** Restores cached weights into `clf`; false when the file is missing, foreign or damaged. */
function restore(clf: CnnClassifier, file: string, inputs: ReturnType<typeof cacheKeyInputs>): boolean {
  let parsed: CacheFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
  } catch {
    return false;
  }
  if (parsed.format !== FORMAT || JSON.stringify(parsed.key) !== JSON.stringify(inputs)) return false;
  const byName = new Map(parsed.weights.map((w) => [w.name, w]));
  const vars = namedWeights(clf);
  const values: Float32Array[] = [];
  for (const [name, v] of vars) {
    const w = byName.get(name);
    if (!w || w.shape.join(',') !== v.shape.join(',')) return false;
    const bytes = Buffer.from(w.data, 'base64');
    if (bytes.length !== v.size * 4) return false;
    values.push(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  vars.forEach(([, v], i) => tf.tidy(() => v.assign(tf.tensor(values[i]!, v.shape))));
  return true;
}

function save(clf: CnnClassifier, file: string, inputs: ReturnType<typeof cacheKeyInputs>): void {
  const weights = namedWeights(clf).map(([name, v]) => {
    const data = v.dataSync() as Float32Array; // sync point
    return { name, shape: v.shape, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  });
  const body: CacheFile = { format: FORMAT, key: inputs, weights };
  writeFileAtomic(file, JSON.stringify(body) + '\n');
}

export function domainCnnFeatures(input: FeatureInput, opts: DomainCnnOptions): FeatureSet {
  const steps = opts.steps ?? DOMAIN_CNN_DEFAULT_STEPS;
  const inputs = cacheKeyInputs(input, steps);
  const key = cacheKey(inputs);
  const file = opts.cacheDir === null ? null : join(opts.cacheDir, 'domain-cnn', `${key}.json`);
  const clf = new CnnClassifier({ size: input.size, channels: input.channels, classes: input.classes, seed: input.seed, steps, onStep: opts.onStep });
  try {
    let cache: 'hit' | 'miss' | 'off' = 'off';
    if (file && restore(clf, file, inputs)) cache = 'hit';
    else {
      const train = trainBatch(input);
      clf.fit(train.images, train.labels);
      if (file) {
        save(clf, file, inputs);
        cache = 'miss';
      }
    }
    const real = embedImages(clf, input.real.images, input.real.n, input.size, input.channels);
    const synthetic = embedImages(clf, input.synthetic.images, input.synthetic.n, input.size, input.channels);
    const dim = real.length / Math.max(1, input.real.n);
    return {
      real: { data: real, n: input.real.n, d: dim },
      synthetic: { data: synthetic, n: input.synthetic.n, d: dim },
      info: {
        name: 'domain-cnn',
        preprocessing: `pixels as loaded (${input.size}x${input.size}x${input.channels}, float32 in [0, 1]), each image standardised to mean 0 and variance 1, then the CNN's stride-2 3x3 conv + ReLU stack and global average pooling (penultimate layer, ${dim} features)`,
        fittedOn: `real train split (${input.trainIndices.length} images, class labels)`,
        dim,
        details: { seed: input.seed, steps, classes: input.classes, cache, cacheKey: key, cacheFile: file },
      },
    };
  } finally {
    clf.dispose();
  }
}
