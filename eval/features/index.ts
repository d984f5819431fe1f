/**
 * Feature extractors by name: `domain-cnn` (default), `pixel-pca`, or a path to a `.npy` file of the
 * user's own features. Each returns features for the whole real dataset and the synthetic set, and an
 * `info` record (name, preprocessing, fitted on) that goes into every result computed from them.
 */
import { domainCnnFeatures, type DomainCnnOptions } from './domain-cnn.js';
import { npyFileFeatures } from './npy-file.js';
import { pixelPcaFeatures } from './pixel-pca.js';
import type { FeatureInput, FeatureSet } from './types.js';

export type { ExtractorInfo, FeatureInput, FeatureSet, Features } from './types.js';

export const EXTRACTORS = ['domain-cnn', 'pixel-pca'] as const;
export type ExtractorName = (typeof EXTRACTORS)[number];

/** `domain-cnn`, `pixel-pca`, or `{ file }` for a .npy path. */
export type ExtractorSpec = ExtractorName | { file: string };

/** Parses the --features value; null when it is neither a known name nor a .npy path. */
export function parseExtractorSpec(value: string): ExtractorSpec | null {
  if ((EXTRACTORS as readonly string[]).includes(value)) return value as ExtractorName;
  if (value.toLowerCase().endsWith('.npy')) return { file: value };
  return null;
}

export function extractorLabel(spec: ExtractorSpec): string {
  return typeof spec === 'string' ? spec : `file:${spec.file}`;
}

export function computeFeatures(spec: ExtractorSpec, input: FeatureInput, opts: DomainCnnOptions): FeatureSet {
  if (typeof spec !== 'string') return npyFileFeatures(spec.file, { real: input.real.n, synthetic: input.synthetic.n });
  if (spec === 'pixel-pca') return pixelPcaFeatures(input);
  return domainCnnFeatures(input, opts);
}
