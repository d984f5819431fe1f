import type { ImageDataset, SplitName } from '../../datasets/dataset.js';
import { Rng } from '../../src/core/rng.js';

/**
 * A small in-memory dataset for unit tests: `n` 4×4 grey images, `classes` labels drawn with the given
 * weights, a `sex` attribute (25% female), and optionally patients with 1–3 images each.
 */
export function toyDataset(opts: {
  n: number;
  seed?: number;
  classWeights?: number[];
  patients?: boolean;
  sourceSplits?: (SplitName | null)[];
}): ImageDataset {
  const rng = new Rng(opts.seed ?? 0);
  const weights = opts.classWeights ?? [0.9, 0.1];
  const labels = new Int32Array(opts.n);
  const sex = new Int32Array(opts.n);
  const patientIds: string[] = [];
  let i = 0;
  let p = 0;
  while (i < opts.n) {
    const k = opts.patients ? 1 + rng.int(3) : 1;
    const label = rng.categorical(weights);
    const s = rng.bernoulli(0.25) ? 0 : 1;
    for (let j = 0; j < k && i < opts.n; j++, i++) {
      labels[i] = label;
      sex[i] = s;
      patientIds.push(`P${p}`);
    }
    p++;
  }
  const images = new Float32Array(opts.n * 16);
  for (let j = 0; j < images.length; j++) images[j] = rng.uniform();
  return {
    name: 'toy',
    source: {
      kind: 'phantom',
      path: 'memory',
      fingerprint: 'toy',
      preprocessing: { size: 4, channels: 1, crop: 'center-crop', resize: 'area+bilinear', colour: 'bt601-luma|replicate', alpha: 'drop' },
      sourceDims: { width: [4, 4], height: [4, 4] },
    },
    n: opts.n,
    height: 4,
    width: 4,
    channels: 1,
    bitDepth: 8,
    images,
    labels,
    labelNames: weights.map((_, k) => `class_${k}`),
    attributes: [{ name: 'sex', values: ['female', 'male'], codes: sex }],
    patientIds: opts.patients ? patientIds : undefined,
    ids: Array.from({ length: opts.n }, (_, j) => `img_${j}.png`),
    sourceSplits: opts.sourceSplits,
  };
}
