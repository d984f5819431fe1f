/**
 * GAN-Leaks full black-box attack — Chen, Yu, Zhang & Fritz, "GAN-Leaks: A Taxonomy of Membership
 * Inference Attacks against Generative Models", ACM CCS 2020 (arXiv:1909.03935), Sec. 5.1 (full
 * black-box: the attacker only sees k generated samples and reconstructs a query by its nearest one).
 *
 *   score(x) = - min_{j=1..k} || x - g_j ||_2         higher = more likely a member
 *
 * Input: `queries` [n, d] (the audit's members AND non-members, scored alike), `synthetic` [k, d] (the
 * generator's samples), same space: flattened NHWC pixels in [0, 1] ("pixel"), or features of one
 * extractor fitted on neither members nor non-members ("feature"). L2 distance, no calibration (the
 * paper's Sec. 5.4 calibration needs a reference generator, which the audit does not train).
 * A generator that reproduces training images puts members at distance ~0: AUC -> 1.
 */
import { nearestDistances, type FeatureMatrix } from './nearest.js';

export interface GanLeaksResult {
  /** One score per query row, in order. */
  scores: Float64Array;
  /** The nearest-sample distances themselves (score = -distance). */
  distances: Float64Array;
}

export async function ganLeaksScores(queries: FeatureMatrix, synthetic: FeatureMatrix, opts: { blockElements?: number } = {}): Promise<GanLeaksResult> {
  const distances = await nearestDistances(queries, synthetic, opts);
  return { scores: distances.map((d) => -d), distances };
}
