/**
 * Fidelity of a synthetic feature set against a real one: FID, KID and precision / recall / density /
 * coverage, each in its own module (fid.ts, kid.ts, prdc.ts) with its formula and paper. `fidelity()`
 * runs all of them on one pair of sets; `medsynth evaluate` calls it overall, per class and per group, and
 * on a real-vs-real pair (train vs test) for the baseline each value is read against.
 *
 * Convention: the first argument is real, the second synthetic. Both are [n, d] float32 feature matrices
 * from the same extractor. Small sets are allowed: a metric that cannot be computed at these sizes is
 * null, and `skipped` says why (FID, KID: n >= 2 in each set; PRDC: n >= k + 1).
 */
import { fid as fidOf } from './fid.js';
import { DEFAULT_KID_SEED, DEFAULT_KID_SUBSETS, DEFAULT_KID_SUBSET_SIZE, kid as kidOf, kidUnavailable } from './kid.js';
import { checkFeatureMatrix, checkSameDimension, type FeatureMatrix } from './matrix.js';
import { DEFAULT_K, prdc as prdcOf, prdcUnavailable } from './prdc.js';
import { ConfigError } from '../../src/core/errors.js';

export type { FeatureMatrix } from './matrix.js';
export { fid, frechetDistance, gaussianStatistics, type GaussianStatistics } from './fid.js';
export { kid, drawKidSubsets, kidOnSubsets, mmdSquared } from './kid.js';
export { prdc } from './prdc.js';

export interface FidelityOptions {
  /** PRDC neighbourhood size (default 5, Naeem et al.). */
  k?: number;
  /** KID subset pairs (default 100). */
  kidSubsets?: number;
  /** KID subset size, capped at each set's size (default 1000). */
  kidSubsetSize?: number;
  /** Seed of the KID subset draws (default 2020). */
  seed?: number;
  /** Names of the two inputs in error messages (default 'real features', 'synthetic features'). */
  names?: { real: string; synthetic: string };
  /** Distance / kernel elements per backend block (memory bound; tests use small blocks). */
  blockElements?: number;
}

export type FidelityMetricName = 'fid' | 'kid' | 'prdc';

export interface FidelityResult {
  fid: number | null;
  kid: { mean: number; std: number } | null;
  precision: number | null;
  recall: number | null;
  density: number | null;
  coverage: number | null;
  /** Metrics left out at these set sizes, and why. */
  skipped: { metric: FidelityMetricName; reason: string }[];
  n: { real: number; synthetic: number };
  d: number;
  settings: { k: number; kidSubsets: number; kidSubsetSize: { real: number; synthetic: number } | null; seed: number };
  /** Wall-clock seconds per metric. */
  seconds: { fid: number; kid: number; prdc: number };
}

/**
 * Each value's metadata: name, category, direction, headline key (style habit 13). Nothing in medsynth reads
 * it yet: the report renders fidelity with its own code (src/report/render.ts), not from this table.
 */
export const FIDELITY_METRICS = [
  { name: 'fid', category: 'fidelity', direction: 'minimize', headlineKey: 'fid' },
  { name: 'kid', category: 'fidelity', direction: 'minimize', headlineKey: 'kid.mean' },
  { name: 'precision', category: 'fidelity', direction: 'maximize', headlineKey: 'precision' },
  { name: 'recall', category: 'diversity', direction: 'maximize', headlineKey: 'recall' },
  { name: 'density', category: 'fidelity', direction: 'maximize', headlineKey: 'density' },
  { name: 'coverage', category: 'diversity', direction: 'maximize', headlineKey: 'coverage' },
] as const;

export async function fidelity(real: FeatureMatrix, synthetic: FeatureMatrix, opts: FidelityOptions = {}): Promise<FidelityResult> {
  const names = opts.names ?? { real: 'real features', synthetic: 'synthetic features' };
  checkFeatureMatrix(real, names.real);
  checkFeatureMatrix(synthetic, names.synthetic);
  checkSameDimension(real, synthetic, names);
  const k = opts.k ?? DEFAULT_K;
  const kidSubsets = opts.kidSubsets ?? DEFAULT_KID_SUBSETS;
  const kidSubsetSize = opts.kidSubsetSize ?? DEFAULT_KID_SUBSET_SIZE;
  const seed = opts.seed ?? DEFAULT_KID_SEED;
  positiveInt(k, 'k', 1);
  positiveInt(kidSubsets, 'kidSubsets', 1);
  positiveInt(kidSubsetSize, 'kidSubsetSize', 2);
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new ConfigError(`seed ${seed}: use a whole number from 0 to 4294967295`);

  const skipped: FidelityResult['skipped'] = [];
  const seconds = { fid: 0, kid: 0, prdc: 0 };
  const timed = async <T>(metric: FidelityMetricName, f: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      seconds[metric] = (performance.now() - t0) / 1000;
    }
  };

  let fid: number | null = null;
  if (real.n >= 2 && synthetic.n >= 2) fid = await timed('fid', () => fidOf(real, synthetic));
  else skipped.push({ metric: 'fid', reason: `needs at least 2 samples in each set, got ${real.n} real and ${synthetic.n} synthetic` });

  let kid: FidelityResult['kid'] = null;
  let kidSize: { real: number; synthetic: number } | null = null;
  const kidWhy = kidUnavailable(real.n, synthetic.n);
  if (kidWhy === null) {
    const r = await timed('kid', () =>
      kidOf(real, synthetic, { subsets: kidSubsets, subsetSize: kidSubsetSize, seed, batchElements: opts.blockElements }),
    );
    kid = { mean: r.mean, std: r.std };
    kidSize = r.subsetSize;
  } else skipped.push({ metric: 'kid', reason: kidWhy });

  let pr: { precision: number; recall: number; density: number; coverage: number } | null = null;
  const prdcWhy = prdcUnavailable(real.n, synthetic.n, k);
  if (prdcWhy === null) pr = await timed('prdc', () => prdcOf(real, synthetic, { k, blockElements: opts.blockElements }));
  else skipped.push({ metric: 'prdc', reason: prdcWhy });

  return {
    fid,
    kid,
    precision: pr?.precision ?? null,
    recall: pr?.recall ?? null,
    density: pr?.density ?? null,
    coverage: pr?.coverage ?? null,
    skipped,
    n: { real: real.n, synthetic: synthetic.n },
    d: real.d,
    settings: { k, kidSubsets, kidSubsetSize: kidSize, seed },
    seconds,
  };
}

function positiveInt(v: number, option: string, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new ConfigError(`${option} ${v}: use a whole number >= ${min}`);
}
