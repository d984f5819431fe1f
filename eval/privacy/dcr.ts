/**
 * DCR share test: the share of synthetic samples whose closest record is a training image rather than a
 * holdout image (distance to closest record, in the holdout-based form of Platzer & Reutterer,
 * "Holdout-Based Empirical Assessment of Mixed-Type Synthetic Data", Frontiers in Big Data 4, 2021,
 * doi:10.3389/fdata.2021.679939: each synthetic record's DCR to the training set is compared with its
 * DCR to an equally large holdout set).
 *
 *   d_T(s) = min_i ||s - t_i||_2 over members (train records) t_i
 *   d_H(s) = min_j ||s - h_j||_2 over non-members (holdout records) h_j
 *   share  = #{s : d_T(s) < d_H(s)} / #{s : d_T(s) != d_H(s)}            (exact ties are left out)
 *
 * Input: `synthetic` [k, d]; `members` [n, d] and `nonMembers` [n, d] from the same distribution, the
 * same size n (the audit subsamples the larger split), same space (pixels or features). A generator that
 * learned the distribution without copying gives share ≈ 1/2; above 1/2, samples sit closer to training
 * images than fresh images do.
 *
 * Two uncertainty statements:
 * - the two-sided Clopper-Pearson interval and exact binomial test of share = 1/2, which treat the k
 *   samples as independent trials;
 * - a permutation test that does not: d_T(s) < d_H(s) exactly when the nearest of all 2n records is a
 *   member, so with c_r = #samples whose nearest record is r, share = sum_{r in members} c_r / k'.
 *   Under "no leakage" the member/non-member labels of the 2n records are exchangeable (a random split),
 *   so relabelling n of them at random, B times (seeded), gives the null distribution of the share. When
 *   many samples share a nearest record (a blurry generator's samples all land on a few smooth "hub"
 *   images), that null is much wider than the binomial, and the binomial p-value is far too small.
 *   p = (1 + #{b : |share_b - 1/2| >= |share - 1/2|}) / (1 + B)  (Phipson & Smyth, SAGMB 9(1), 2010: never 0).
 */
import { assert } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { binomialTestHalf, clopperPearson, DEFAULT_CONFIDENCE, quantileSorted } from './metrics.js';
import { nearestInTwoParts, type FeatureMatrix } from './nearest.js';

export interface DcrResult {
  /** Synthetic samples strictly closer to a member than to any non-member. */
  closerToMembers: number;
  /** Samples at exactly equal distance (left out of the share). */
  ties: number;
  synthetic: number;
  share: number;
  /** Clopper-Pearson interval (samples as independent trials). */
  lower: number;
  upper: number;
  confidence: number;
  /** Exact binomial test of share = 1/2 (samples as independent trials). */
  pValue: number;
  /** Permutation test of share = 1/2 over the records' member labels. */
  permutation: { pValue: number; nullLower: number; nullUpper: number; permutations: number; seed: number };
  /** Records that are some sample's nearest record, and the largest share of samples on one record. */
  distinctNearestRecords: number;
  largestShareOnOneRecord: number;
  /** Median over synthetic samples of d_T and d_H. */
  medianDistanceToMembers: number;
  medianDistanceToNonMembers: number;
}

function median(x: Float64Array): number {
  const s = Float64Array.from(x).sort();
  const h = (s.length - 1) / 2;
  return 0.5 * (s[Math.floor(h)]! + s[Math.ceil(h)]!);
}

export async function dcrShare(
  synthetic: FeatureMatrix,
  members: FeatureMatrix,
  nonMembers: FeatureMatrix,
  opts: { seed: number; confidence?: number; permutations?: number; blockElements?: number },
): Promise<DcrResult> {
  assert(members.n === nonMembers.n, () => `dcrShare: members (${members.n}) and non-members (${nonMembers.n}) must be the same size`);
  assert(members.d === nonMembers.d, () => 'dcrShare: members and non-members differ in dimension');
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const permutations = opts.permutations ?? 2000;
  const n = members.n;
  // Members then non-members as one matrix: a view when they already lie so in one buffer (the audit's
  // queries), else a copy.
  const m = members.data;
  const h = nonMembers.data;
  const adjacent = m.buffer === h.buffer && h.byteOffset === m.byteOffset + m.byteLength;
  let pooled: Float32Array;
  if (adjacent) {
    pooled = new Float32Array(m.buffer, m.byteOffset, m.length + h.length);
  } else {
    pooled = new Float32Array(m.length + h.length);
    pooled.set(m);
    pooled.set(h, m.length);
  }
  const { first: dT, second: dH, nearest } = await nearestInTwoParts(synthetic, { data: pooled, n: 2 * n, d: members.d }, n, opts);

  let closer = 0;
  let ties = 0;
  const perRecord = new Float64Array(2 * n);
  for (let i = 0; i < synthetic.n; i++) {
    if (dT[i] === dH[i]) {
      ties++;
      continue;
    }
    if (dT[i]! < dH[i]!) closer++;
    perRecord[nearest[i]!]!++;
  }
  const k = synthetic.n - ties;
  const share = k > 0 ? closer / k : NaN;
  const ci = k > 0 ? clopperPearson(closer, k, confidence) : { lower: 0, upper: 1 };

  // Permutation null: a random half of the 2n records are "members".
  const rng = new Rng(opts.seed).derive('dcr-permutation');
  const labels = Array.from({ length: 2 * n }, (_, r) => r);
  const nullShares = new Float64Array(permutations);
  let extreme = 0;
  for (let b = 0; b < permutations; b++) {
    rng.shuffle(labels);
    let s = 0;
    for (let j = 0; j < n; j++) s += perRecord[labels[j]!]!;
    const sb = k > 0 ? s / k : 0.5;
    nullShares[b] = sb;
    if (Math.abs(sb - 0.5) >= Math.abs(share - 0.5) - 1e-12) extreme++;
  }
  nullShares.sort();
  let distinct = 0;
  let largest = 0;
  for (const c of perRecord) {
    if (c > 0) distinct++;
    largest = Math.max(largest, c);
  }
  return {
    closerToMembers: closer,
    ties,
    synthetic: synthetic.n,
    share,
    lower: ci.lower,
    upper: ci.upper,
    confidence,
    pValue: k > 0 ? binomialTestHalf(closer, k) : 1,
    permutation: {
      pValue: (1 + extreme) / (1 + permutations),
      nullLower: quantileSorted(nullShares, (1 - confidence) / 2),
      nullUpper: quantileSorted(nullShares, (1 + confidence) / 2),
      permutations,
      seed: opts.seed,
    },
    distinctNearestRecords: distinct,
    largestShareOnOneRecord: k > 0 ? largest / k : 0,
    medianDistanceToMembers: median(dT),
    medianDistanceToNonMembers: median(dH),
  };
}
