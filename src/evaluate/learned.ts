/**
 * Did the generator learn the data at all? The evidence `medsynth evaluate` puts under `learned`, and the
 * gate the report's verdicts pass through (issue #19 item 8): membership attacks cannot find leakage of
 * what a model never learned, and a collapsed generator's precision is 1.
 *
 * All three figures are measured in the evaluation's feature space, on M = min(|synthetic|, |real test|)
 * rows of each side (seeded subsets of the larger), against the real train split, each beside what an
 * equal-size real held-out sample (the real test split) scores (pure arithmetic in eval/diversity/learned.ts):
 *   distinct nearest records  D_s = #distinct nn_train(s) over the M synthetic rows; D_r the same for real
 *                             test rows; ratio = D_s / D_r                                      maximize; ~1
 *   mode coverage             share of the K k-means modes of the real train features (the evaluation's
 *                             own modes) hit by the M synthetic rows, over the same share for real test
 *   conditional accuracy      1-NN judge: the class of a row's nearest real train record, compared with
 *                             the row's class; balanced (mean over classes) for synthetic (A_s) and for
 *                             real test (A_r); chance = 1/K; margin = (A_s - 1/K) / (A_r - 1/K), used only
 *                             when the judge itself works (A_r - 1/K >= 0.1)
 * Gate (LEARNED_THRESHOLDS):
 *   collapsed           D_s / D_r < 0.25  or  coverage ratio < 0.3     -> the model did not learn the data:
 *                       privacy, fidelity, utility and fairness verdicts are "not informative"
 *   not conditional     margin < 0.25                                  -> the samples do not follow their
 *                       class: utility and fairness verdicts are "not informative"
 * The demo's DP cVAE of issue #18 (7 distinct nearest records of 303, 10% of the modes) fails both
 * collapse tests by a wide margin; a real held-out sample scores ~1 on each ratio.
 */
import { distinctNearest, modeCoverageRatio } from '../../eval/diversity/learned.js';
import { occupancy, selectRows, type Features, type ModeAnalysis } from '../../eval/diversity/modes.js';
import { nearestInTwoParts } from '../../eval/privacy/nearest.js';
import { Rng } from '../core/rng.js';

export const LEARNED_THRESHOLDS = {
  /** Distinct nearest records of the samples, as a share of the real reference's. */
  distinctRatio: 0.25,
  /** Mode coverage of the samples over that of real test. */
  modeCoverageRatio: 0.3,
  /** Share of the real judge's above-chance balanced accuracy the samples keep. */
  conditionalMargin: 0.25,
  /** The 1-NN judge is used only when real test beats chance by this much. */
  judgeMinMargin: 0.1,
} as const;

export interface LearnedEvidence {
  space: string;
  /** Rows on each side. */
  m: number;
  seed: number;
  distinctNearest: { synthetic: number; reference: number; ratio: number | null };
  modeCoverage: { k: number; synthetic: number; reference: number; ratio: number | null };
  conditionalAccuracy: { judge: string; synthetic: number | null; reference: number | null; chance: number; margin: number | null } | null;
  thresholds: typeof LEARNED_THRESHOLDS;
  /** Distinct nearest records or mode coverage below its threshold. */
  collapsed: boolean;
  /** false when the samples do not follow their class; null when the judge is not usable. */
  conditional: boolean | null;
  /** Not collapsed and not failing the conditional test. */
  learned: boolean;
  /** One line per failed test. */
  reasons: string[];
  /**
   * The tests above pool the classes. Classes the samples do not teach (eval/utility untaughtClasses): a
   * classifier trained on the samples alone (way (b)) finds none of their real test images with any
   * classifier seed, while one trained on real images does (`realRecall`, its mean recall). Not part of the
   * gate: utility's own verdict reads the same classifiers. Set by evaluate after the utility step.
   */
  untaught?: { name: string; realRecall: number }[];
}

/** Balanced share of rows whose nearest train record has their own class (null: no class present). */
export function nearestClassAgreement(nearest: ArrayLike<number>, trainLabels: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number | null {
  const hit = new Array<number>(classes).fill(0);
  const tot = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) {
    tot[labels[i]!]!++;
    if (trainLabels[nearest[i]!] === labels[i]) hit[labels[i]!]!++;
  }
  const r = tot.map((t, c) => (t > 0 ? hit[c]! / t : null)).filter((x): x is number => x !== null);
  return r.length ? r.reduce((a, b) => a + b, 0) / r.length : null;
}

/** The gate, from the figures (pure). */
export function judgeLearned(f: Pick<LearnedEvidence, 'm' | 'distinctNearest' | 'modeCoverage' | 'conditionalAccuracy'>): Pick<LearnedEvidence, 'collapsed' | 'conditional' | 'learned' | 'reasons'> {
  const t = LEARNED_THRESHOLDS;
  const reasons: string[] = [];
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  const dn = f.distinctNearest;
  if (dn.ratio !== null && dn.ratio < t.distinctRatio) {
    reasons.push(`${f.m} samples have ${dn.synthetic} distinct nearest real training images, ${pct(dn.ratio)} of the ${dn.reference} of as many real held-out images (threshold ${pct(t.distinctRatio)})`);
  }
  const mc = f.modeCoverage;
  if (mc.ratio !== null && mc.ratio < t.modeCoverageRatio) {
    reasons.push(`the samples cover ${pct(mc.synthetic)} of the ${mc.k} k-means modes of the real data, ${mc.ratio.toFixed(2)}x what real held-out images cover (threshold ${t.modeCoverageRatio})`);
  }
  const collapsed = reasons.length > 0;
  let conditional: boolean | null = null;
  const ca = f.conditionalAccuracy;
  if (ca && ca.margin !== null) {
    conditional = ca.margin >= t.conditionalMargin;
    if (!conditional) {
      reasons.push(`the samples do not follow their class: nearest-record class agreement ${ca.synthetic!.toFixed(2)} against ${ca.reference!.toFixed(2)} for real held-out images (chance ${ca.chance.toFixed(2)}; keeps ${pct(Math.max(0, ca.margin))} of the real margin over chance, threshold ${pct(t.conditionalMargin)})`);
    }
  }
  return { collapsed, conditional, learned: !collapsed && conditional !== false, reasons };
}

/** Seeded subset of `m` of `n` indices, in increasing order (all when m >= n). */
function subsetIndices(n: number, m: number, rng: Rng): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (m >= n) return all;
  return rng.shuffle(all).slice(0, m).sort((a, b) => a - b);
}

export async function learnedEvidence(input: {
  space: string;
  train: Features;
  trainLabels: ArrayLike<number>;
  test: Features;
  testLabels: ArrayLike<number>;
  synthetic: Features;
  syntheticLabels: ArrayLike<number>;
  classes: number;
  modes: ModeAnalysis;
  seed: number;
}): Promise<LearnedEvidence> {
  const rng = new Rng(input.seed);
  const m = Math.min(input.synthetic.n, input.test.n);
  const synRows = subsetIndices(input.synthetic.n, m, rng.derive('synthetic'));
  const testRows = subsetIndices(input.test.n, m, rng.derive('test'));
  const syn = selectRows(input.synthetic, synRows);
  const test = selectRows(input.test, testRows);
  // nearestInTwoParts needs a split inside the reference; only its overall nearest index is used.
  const nearest = async (q: Features) => (await nearestInTwoParts(q, input.train, Math.max(1, input.train.n - 1))).nearest;
  const nnSyn = await nearest(syn);
  const nnTest = await nearest(test);
  const ds = distinctNearest(nnSyn);
  const dr = distinctNearest(nnTest);
  const cov = modeCoverageRatio(occupancy(input.modes, syn).counts, occupancy(input.modes, test).counts);
  const synLabels = synRows.map((i) => input.syntheticLabels[i]!);
  const testLabels = testRows.map((i) => input.testLabels[i]!);
  const aS = nearestClassAgreement(nnSyn, input.trainLabels, synLabels, input.classes);
  const aR = nearestClassAgreement(nnTest, input.trainLabels, testLabels, input.classes);
  const chance = 1 / input.classes;
  const usable = aS !== null && aR !== null && aR - chance >= LEARNED_THRESHOLDS.judgeMinMargin;
  const figures = {
    space: input.space,
    m,
    seed: input.seed,
    distinctNearest: { synthetic: ds.distinct, reference: dr.distinct, ratio: dr.distinct > 0 ? ds.distinct / dr.distinct : null },
    modeCoverage: { k: input.modes.k, synthetic: cov.synthetic, reference: cov.reference, ratio: cov.ratio },
    conditionalAccuracy:
      input.classes >= 2
        ? { judge: '1-NN on the real train split features, balanced over classes', synthetic: aS, reference: aR, chance, margin: usable ? (aS! - chance) / (aR! - chance) : null }
        : null,
    thresholds: LEARNED_THRESHOLDS,
  };
  return { ...figures, ...judgeLearned(figures) };
}
