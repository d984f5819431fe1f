/**
 * `pixel-pca`: pixels projected on their top principal components (k = 64), fitted on the real train
 * split only. A transparent, training-free baseline extractor: it sees intensity layout, not semantics.
 * Math and reference values: eval/features/pca.ts.
 */
import { fitPca, projectPca } from './pca.js';
import { trainBatch, type FeatureInput, type FeatureSet } from './types.js';

export const PIXEL_PCA_K = 64;

export function pixelPcaFeatures(input: FeatureInput, opts: { k?: number } = {}): FeatureSet {
  const d = input.size * input.size * input.channels;
  const train = trainBatch(input);
  const k = Math.min(opts.k ?? PIXEL_PCA_K, train.n - 1, d);
  if (k < 1) throw new Error(`internal error: pixel-pca needs at least 2 train images, got ${train.n}`);
  const model = fitPca({ data: train.images, n: train.n, d }, { k, seed: input.seed });
  const explained = model.variances.reduce((a, b) => a + b, 0) / model.totalVariance;
  return {
    real: projectPca(model, { data: input.real.images, n: input.real.n, d }),
    synthetic: projectPca(model, { data: input.synthetic.images, n: input.synthetic.n, d }),
    info: {
      name: 'pixel-pca',
      preprocessing: `pixels as loaded (${input.size}x${input.size}x${input.channels}, float32 in [0, 1]), flattened NHWC, centred on the real-train mean, projected on the top ${k} principal components (no whitening)`,
      fittedOn: `real train split (${train.n} images)`,
      dim: k,
      details: {
        k,
        requestedK: opts.k ?? PIXEL_PCA_K,
        explainedVarianceRatio: explained,
        method: 'subspace iteration with Rayleigh-Ritz',
        seed: model.seed,
        oversample: model.oversample,
        powerIterations: model.powerIterations,
      },
    },
  };
}
