import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accuracy, balancedAccuracy, fairnessReport, groupRates, rarestClass } from '../../../eval/fairness/metrics.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface PerPositive {
  selectionRate: number[];
  tpr: (number | null)[];
  fpr: (number | null)[];
  demographicParityDifference: number | null;
  equalizedOddsDifference: number | null;
}
interface Case {
  name: string;
  classes: number;
  groups: number;
  positive: number | null;
  yTrue: number[];
  yPred: number[];
  group: number[];
  expected: {
    mode: string;
    positives: number[];
    accuracy: number;
    balancedAccuracy: number;
    recall: (number | null)[];
    groupAccuracy: number[];
    worstGroupAccuracy: number;
    perPositive: PerPositive[];
    demographicParityDifference: number;
    equalizedOddsDifference: number;
  };
}
const fixture = loadFixture<{ cases: Case[] }>('fairness');

const close = (got: number | null, want: number | null) => {
  if (want === null) expect(got).toBeNull();
  else expect(got).toBeCloseTo(want, 12);
};

describe('fairness metrics against hand-calculated values', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const r = fairnessReport(c.yTrue, c.yPred, c.group, { classes: c.classes, groups: c.groups, positive: c.positive ?? undefined });
      const e = c.expected;
      expect(r.mode).toBe(e.mode);
      expect(r.perPositive.map((p) => p.positive)).toEqual(e.positives);
      close(r.accuracy, e.accuracy);
      close(r.balancedAccuracy, e.balancedAccuracy);
      r.recall.forEach((v, k) => close(v, e.recall[k]!));
      expect(r.groupAccuracy.map((g) => g.accuracy)).toEqual(e.groupAccuracy.map((x) => expect.closeTo(x, 12)));
      close(r.worstGroupAccuracy, e.worstGroupAccuracy);
      r.perPositive.forEach((p, k) => {
        const w = e.perPositive[k]!;
        p.groups.forEach((g, j) => {
          close(g.selectionRate, w.selectionRate[j]!);
          close(g.tpr, w.tpr[j]!);
          close(g.fpr, w.fpr[j]!);
        });
        close(p.demographicParityDifference, w.demographicParityDifference);
        close(p.equalizedOddsDifference, w.equalizedOddsDifference);
      });
      close(r.demographicParityDifference, e.demographicParityDifference);
      close(r.equalizedOddsDifference, e.equalizedOddsDifference);
    });
  }

  it('defaults the binary positive class to the rarest class, ties to the lower label', () => {
    expect(rarestClass([0, 1, 1, 0, 0], 2)).toBe(1);
    expect(rarestClass([1, 0], 2)).toBe(0);
    expect(rarestClass([2, 2, 0], 3)).toBe(0); // class 1 absent: not a candidate
  });
});

/** A random labelled sample: classes K, groups G, n rows. */
const sample = fc
  .record({ K: fc.integer({ min: 2, max: 4 }), G: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 60 }) })
  .chain(({ K, G, n }) =>
    fc.record({
      K: fc.constant(K),
      G: fc.constant(G),
      yTrue: fc.array(fc.integer({ min: 0, max: K - 1 }), { minLength: n, maxLength: n }),
      yPred: fc.array(fc.integer({ min: 0, max: K - 1 }), { minLength: n, maxLength: n }),
      group: fc.array(fc.integer({ min: 0, max: G - 1 }), { minLength: n, maxLength: n }),
    }),
  );

describe('fairness metric properties', () => {
  it('a perfect predictor: DP difference = the base-rate difference between groups, EO difference = 0', () => {
    fc.assert(
      fc.property(sample, ({ K, G, yTrue, group }) => {
        const r = fairnessReport(yTrue, yTrue, group, { classes: K, groups: G });
        expect(r.accuracy).toBe(1);
        expect(r.worstGroupAccuracy).toBe(1);
        for (const p of r.perPositive) {
          const base = p.groups.map((g) => g.positives / g.n);
          const want = base.length >= 2 ? Math.max(...base) - Math.min(...base) : null;
          close(p.demographicParityDifference, want);
          const eo = p.equalizedOddsDifference;
          expect(eo === null || eo === 0).toBe(true);
        }
      }),
    );
  });

  it('rates and differences lie in [0, 1]; accuracy is the n-weighted mean of group accuracies', () => {
    fc.assert(
      fc.property(sample, ({ K, G, yTrue, yPred, group }) => {
        const r = fairnessReport(yTrue, yPred, group, { classes: K, groups: G });
        const weighted = r.groupAccuracy.reduce((a, g) => a + g.n * g.accuracy, 0) / r.n;
        expect(r.accuracy!).toBeCloseTo(weighted, 12);
        expect(r.worstGroupAccuracy!).toBeLessThanOrEqual(r.accuracy! + 1e-12);
        for (const v of [r.demographicParityDifference, r.equalizedOddsDifference, r.balancedAccuracy]) {
          if (v !== null) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
        }
      }),
    );
  });

  it('does not depend on the order of the samples or on the names of the groups', () => {
    fc.assert(
      fc.property(sample, fc.integer(), ({ K, G, yTrue, yPred, group }, seed) => {
        const order = yTrue.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 97) - ((b * 7919 + seed) % 97) || a - b);
        const rename = (g: number) => G - 1 - g;
        const a = fairnessReport(yTrue, yPred, group, { classes: K, groups: G });
        const b = fairnessReport(order.map((i) => yTrue[i]!), order.map((i) => yPred[i]!), order.map((i) => rename(group[i]!)), { classes: K, groups: G });
        close(b.accuracy, a.accuracy);
        close(b.balancedAccuracy, a.balancedAccuracy);
        close(b.worstGroupAccuracy, a.worstGroupAccuracy);
        close(b.demographicParityDifference, a.demographicParityDifference);
        close(b.equalizedOddsDifference, a.equalizedOddsDifference);
      }),
    );
  });

  it('agrees with the single-purpose functions', () => {
    const t = [0, 1, 1, 0, 1];
    const p = [0, 1, 0, 0, 0];
    expect(accuracy(t, p)).toBeCloseTo(0.6, 12);
    expect(balancedAccuracy(t, p, 2)).toBeCloseTo((1 + 1 / 3) / 2, 12);
    expect(groupRates(t, p, [0, 0, 0, 0, 0], { groups: 1, positive: 1 })[0]!.tpr).toBeCloseTo(1 / 3, 12);
    expect(accuracy([], [])).toBeNull();
    expect(fairnessReport([], [], [], { classes: 2, groups: 2 }).equalizedOddsDifference).toBeNull();
  });
});
