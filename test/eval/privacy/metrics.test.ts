import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  betaQuantile,
  binomialTestHalf,
  bootstrapRoc,
  clopperPearson,
  clopperPearsonLower,
  clopperPearsonUpper,
  empiricalEpsilon,
  epsilonFromRates,
  epsilonLowerBoundFromCounts,
  quantileSorted,
  regularizedIncompleteBeta,
  rocAuc,
  rocSummary,
} from '../../../eval/privacy/metrics.js';
import { attackMetrics, groupMetrics } from '../../../eval/privacy/summary.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Fixture {
  fprs: number[];
  roc: { name: string; members: number[]; nonMembers: number[]; auc: number; tprAtFpr: number[]; advantage: number }[];
  incompleteBeta: { x: number; a: number; b: number; value: number }[];
  clopperPearson: { k: number; n: number; confidence: number; upper: number; lower: number }[];
  binomialTest: { k: number; n: number; pValue: number }[];
  epsilonFromCounts: { fp: number; n0: number; fn: number; n1: number; delta: number; confidence: number; epsilon: number; form: string; fprUpper: number; fnrUpper: number }[];
  percentile: { values: number[]; q: number[]; quantiles: number[] }[];
}
const fx = loadFixture<Fixture>('privacy');

const normals = (n: number, mean: number, rng: Rng) => Float64Array.from({ length: n }, () => mean + rng.normal());

describe('ROC metrics', () => {
  it('AUC of a hand-checked case: members {3,2,2} vs non-members {2,1} = (4 wins + 2 ties/2) / 6', () => {
    expect(rocAuc([3, 2, 2], [2, 1])).toBeCloseTo(5 / 6, 15);
  });

  it.each(fx.roc.map((c) => [c.name, c] as const))('matches the brute-force numpy oracle (%s, with ties)', (_name, c) => {
    const s = rocSummary(c.members, c.nonMembers, fx.fprs);
    expect(s.auc).toBeCloseTo(c.auc, 12);
    expect(s.advantage).toBeCloseTo(c.advantage, 12);
    s.tprAtFpr.forEach((v, k) => expect(v).toBeCloseTo(c.tprAtFpr[k]!, 12));
  });

  it('AUC is symmetric: swapping members and non-members gives 1 - AUC; it ignores monotone transforms', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 30 }), (m, u) => {
        expect(rocAuc(m, u) + rocAuc(u, m)).toBeCloseTo(1, 12);
        expect(rocAuc(m.map((x) => Math.exp(x)), u.map((x) => Math.exp(x)))).toBeCloseTo(rocAuc(m, u), 12);
      }),
    );
  });
});

describe('quantiles, incomplete beta, Clopper-Pearson', () => {
  it('quantileSorted equals numpy.percentile (linear)', () => {
    for (const c of fx.percentile) c.q.forEach((q, k) => expect(quantileSorted(c.values, q)).toBeCloseTo(c.quantiles[k]!, 12));
  });

  it('regularized incomplete beta matches mpmath', () => {
    for (const c of fx.incompleteBeta) {
      const got = regularizedIncompleteBeta(c.x, c.a, c.b);
      expect(Math.abs(got - c.value)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(c.value)) + 1e-300);
      if (c.value > 1e-250) expect(Math.abs(got - c.value) / c.value).toBeLessThan(1e-9);
    }
  });

  it('Clopper-Pearson bounds match mpmath beta quantiles, and the k = 0 closed form', () => {
    for (const c of fx.clopperPearson) {
      expect(clopperPearsonUpper(c.k, c.n, c.confidence)).toBeCloseTo(c.upper, 12);
      expect(clopperPearsonLower(c.k, c.n, c.confidence)).toBeCloseTo(c.lower, 12);
    }
    // k = 0: upper = 1 - (1 - c)^(1/n) by hand.
    expect(clopperPearsonUpper(0, 37, 0.9)).toBeCloseTo(1 - 0.1 ** (1 / 37), 13);
    const two = clopperPearson(3, 10, 0.9);
    expect(two.upper).toBeCloseTo(clopperPearsonUpper(3, 10, 0.95), 14);
    expect(two.lower).toBeCloseTo(clopperPearsonLower(3, 10, 0.95), 14);
    expect(betaQuantile(0.5, 2, 2)).toBeCloseTo(0.5, 14);
  });

  it('exact binomial test of p = 1/2 matches mpmath sums', () => {
    for (const c of fx.binomialTest) expect(binomialTestHalf(c.k, c.n)).toBeCloseTo(c.pValue, 12);
  });
});

describe('empirical epsilon', () => {
  it('count form matches the mpmath oracle', () => {
    for (const c of fx.epsilonFromCounts) {
      const got = epsilonLowerBoundFromCounts({ fp: c.fp, n0: c.n0, fn: c.fn, n1: c.n1 }, c.delta, c.confidence);
      expect(got.epsilon).toBeCloseTo(c.epsilon, 10);
      if (c.epsilon > 0) expect(got.form).toBe(c.form);
      expect(got.fprUpper).toBeCloseTo(c.fprUpper, 12);
      expect(got.fnrUpper).toBeCloseTo(c.fnrUpper, 12);
    }
  });

  it('rate form by hand: FPR 0.1, FNR 0.2, delta 0 -> max(log(0.9/0.2), log(0.8/0.1)) = log 8', () => {
    expect(epsilonFromRates(0.1, 0.2, 0)).toBeCloseTo(Math.log(8), 14);
    expect(epsilonFromRates(0.5, 0.5, 0)).toBe(0);
    expect(epsilonFromRates(0, 0.3, 0)).toBe(Infinity);
  });

  it('perfectly separated scores reach, but never pass, the ceiling log(n / 3.69) of n per half', () => {
    const m = Array.from({ length: 400 }, (_, i) => 1000 + i);
    const u = Array.from({ length: 400 }, (_, i) => i);
    const e = empiricalEpsilon(m, u, { delta: 1e-5, seed: 1 });
    const ceiling = Math.log((1 - 1e-5 - clopperPearsonUpper(0, 200, 0.975)) / clopperPearsonUpper(0, 200, 0.975));
    expect(e.epsilon).toBeCloseTo(ceiling, 10);
    expect(e.evaluation).toMatchObject({ members: 200, nonMembers: 200, falsePositives: 0, falseNegatives: 0 });
    expect(e.pointEstimate).toBeNull(); // infinite at zero errors
  });

  it('random scores give a bound near 0, below 1 in 95%+ of seeded trials (it is a 95% bound on eps = 0)', () => {
    let above = 0;
    for (let t = 0; t < 40; t++) {
      const rng = new Rng(100 + t);
      const e = empiricalEpsilon(normals(200, 0, rng), normals(200, 0, rng), { delta: 1e-5, seed: t });
      if (e.epsilon > 0.5) above++;
    }
    expect(above).toBeLessThanOrEqual(2);
  });

  it('is reproducible with a seed', () => {
    const rng = new Rng(4);
    const m = normals(100, 1, rng);
    const u = normals(100, 0, rng);
    expect(empiricalEpsilon(m, u, { delta: 0, seed: 9 })).toEqual(empiricalEpsilon(m, u, { delta: 0, seed: 9 }));
  });
});

describe('bootstrap', () => {
  it('is reproducible with a seed and changes with it', () => {
    const rng = new Rng(5);
    const m = normals(150, 0.5, rng);
    const u = normals(150, 0, rng);
    const a = bootstrapRoc(m, u, { replicates: 300, seed: 1 });
    expect(bootstrapRoc(m, u, { replicates: 300, seed: 1 })).toEqual(a);
    const b = bootstrapRoc(m, u, { replicates: 300, seed: 2 });
    expect(b.auc.lower).not.toBe(a.auc.lower);
    expect(Math.abs(b.auc.lower - a.auc.lower)).toBeLessThan(0.02);
  });

  it('AUC interval width agrees with the Hanley-McNeil standard error', () => {
    const rng = new Rng(6);
    const m = normals(300, 0.6, rng);
    const u = normals(300, 0, rng);
    const r = bootstrapRoc(m, u, { replicates: 1000, seed: 3 });
    const A = r.auc.estimate;
    const q1 = A / (2 - A);
    const q2 = (2 * A * A) / (1 + A);
    const se = Math.sqrt((A * (1 - A) + 299 * (q1 - A * A) + 299 * (q2 - A * A)) / (300 * 300));
    expect((r.auc.upper - r.auc.lower) / (2 * 1.96 * se)).toBeGreaterThan(0.85);
    expect((r.auc.upper - r.auc.lower) / (2 * 1.96 * se)).toBeLessThan(1.15);
  });

  it('random scores: AUC ≈ 0.5, inside its 95% CI in ~95% of 200 seeded trials (measured 95.5% over 400)', () => {
    let covered = 0;
    for (let t = 0; t < 200; t++) {
      const rng = new Rng(1000 + t);
      const r = bootstrapRoc(normals(100, 0, rng), normals(100, 0, rng), { replicates: 200, seed: t });
      if (r.auc.lower <= 0.5 && 0.5 <= r.auc.upper) covered++;
      expect(Math.abs(r.auc.estimate - 0.5)).toBeLessThan(0.2);
    }
    expect(covered / 200).toBeGreaterThanOrEqual(0.9);
  });
});

describe('summaries', () => {
  it('flags TPR at an FPR the non-member count cannot resolve', () => {
    const rng = new Rng(7);
    const r = attackMetrics(normals(200, 1, rng), normals(200, 0, rng), { replicates: 100, seed: 1, delta: 1e-5 });
    expect(r.tprAtFpr.map((t) => t.resolvable)).toEqual([true, false]);
    expect(r.fprResolution).toBeCloseTo(1 / 200, 15);
  });

  it('per-group metrics see a leak confined to one group', () => {
    const rng = new Rng(8);
    // Group 1 members score high, group 0 members do not.
    const mCodes = Int32Array.from({ length: 200 }, (_, i) => i % 2);
    const uCodes = Int32Array.from({ length: 200 }, (_, i) => i % 2);
    const m = Float64Array.from(mCodes, (g) => (g === 1 ? 2 : 0) + rng.normal());
    const u = normals(200, 0, rng);
    const groups = groupMetrics(m, u, mCodes, uCodes, { name: 'sex', values: ['female', 'male', 'other'] }, { replicates: 200, seed: 2, delta: 1e-5, minPerSide: 10 });
    expect(groups.map((g) => g.value)).toEqual(['female', 'male']); // empty groups are dropped
    expect(groups[0]!.metrics!.auc.upper).toBeGreaterThan(0.5);
    expect(groups[0]!.metrics!.auc.estimate).toBeLessThan(0.65);
    expect(groups[1]!.metrics!.auc.estimate).toBeGreaterThan(0.85);
    const few = groupMetrics(m, u, mCodes, uCodes, { name: 'sex', values: ['female', 'male'] }, { replicates: 10, seed: 2, delta: 0, minPerSide: 150 });
    expect(few.every((g) => g.metrics === null)).toBe(true);
  });
});

describe('rocCurve (hand-worked)', () => {
  it('steps through every threshold, ties together, from (0,0) to (1,1)', async () => {
    const { rocCurve } = await import('../../../eval/privacy/metrics.js');
    // members 3, 2, 2; non-members 2, 1. Thresholds 3 → (0, 1/3); 2 → (1/2, 1) (tie moves both); 1 → (1, 1).
    expect(rocCurve([3, 2, 2], [2, 1])).toEqual({ fpr: [0, 0, 0.5, 1], tpr: [0, 1 / 3, 1, 1] });
    const thin = rocCurve(Array.from({ length: 500 }, (_, i) => i), Array.from({ length: 500 }, (_, i) => i + 0.5), 50);
    expect(thin.fpr).toHaveLength(50);
    expect([thin.fpr[0], thin.tpr[0], thin.fpr.at(-1), thin.tpr.at(-1)]).toEqual([0, 0, 1, 1]);
  });
});
