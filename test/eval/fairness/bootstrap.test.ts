/**
 * Fairness with a minimum group size and bootstrap intervals (eval/fairness/bootstrap.ts), on confusion
 * counts worked out by hand: a 2-image group never decides the worst group, the figures agree with
 * eval/fairness/metrics.ts on the eligible groups, and the intervals are seeded and shrink with n.
 */
import { describe, expect, it } from 'vitest';
import { equalizedOddsOf, fairnessBootstrap, worstGroupAccuracyOf } from '../../../eval/fairness/bootstrap.js';
import { fairnessReport } from '../../../eval/fairness/metrics.js';

/** Rows (true, pred, group) repeated `times` times. */
function rows(spec: [number, number, number, number][]): { yTrue: number[]; yPred: number[]; group: number[] } {
  const out = { yTrue: [] as number[], yPred: [] as number[], group: [] as number[] };
  for (const [t, p, g, times] of spec) for (let i = 0; i < times; i++) (out.yTrue.push(t), out.yPred.push(p), out.group.push(g));
  return out;
}

// Group 0: 2 images, both wrong (accuracy 0). Groups 1 and 2: 40 images each.
// g1: 15 TP, 5 FN, 18 TN, 2 FP -> acc 33/40 = 0.825, TPR 0.75, FPR 0.1
// g2: 10 TP, 10 FN, 20 TN, 0 FP -> acc 30/40 = 0.75, TPR 0.5, FPR 0
const base: [number, number, number, number][] = [
  [1, 0, 0, 1], [0, 1, 0, 1],
  [1, 1, 1, 15], [1, 0, 1, 5], [0, 0, 1, 18], [0, 1, 1, 2],
  [1, 1, 2, 10], [1, 0, 2, 10], [0, 0, 2, 20],
];

const report = (spec: [number, number, number, number][]) => {
  const r = rows(spec);
  return fairnessReport(r.yTrue, r.yPred, r.group, { classes: 2, groups: 3, positive: 1 });
};

describe('fairness with a minimum group size', () => {
  it('records the per-group confusion counts in every fairness report', () => {
    const r = report(base);
    expect(r.confusion).toEqual([
      [[0, 1], [1, 0]],
      [[18, 2], [5, 15]],
      [[20, 0], [10, 10]],
    ]);
  });

  it('excludes and lists groups below the minimum, and agrees with metrics.ts on the rest', () => {
    const r = report(base);
    expect(r.worstGroupAccuracy).toBe(0); // the 2-image group decides it without a minimum
    expect(worstGroupAccuracyOf(r.confusion, [0, 1, 2])).toBe(0);
    expect(worstGroupAccuracyOf(r.confusion, [1, 2])).toBeCloseTo(0.75, 12);
    // max(TPR spread 0.75 - 0.5, FPR spread 0.1 - 0) = 0.25
    expect(equalizedOddsOf(r.confusion, [1, 2], [1])).toBeCloseTo(0.25, 12);
    expect(equalizedOddsOf(r.confusion, [0, 1, 2], [1])).toBeCloseTo(r.equalizedOddsDifference!, 12);

    const fb = fairnessBootstrap([{ key: 'a', seeds: [r.confusion] }], [], { minGroup: 20, replicates: 200, seed: 3, positives: [1] });
    expect(fb.groupSizes).toEqual([2, 40, 40]);
    expect(fb.eligible).toEqual([1, 2]);
    expect(fb.excluded).toEqual([{ group: 0, n: 2 }]);
    const w = fb.ways[0]!.worstGroupAccuracy;
    expect(w.estimate).toBeCloseTo(0.75, 12);
    expect(w.lo!).toBeLessThanOrEqual(0.75);
    expect(w.hi!).toBeGreaterThanOrEqual(0.75);
    expect(w.lo!).toBeGreaterThan(0.4);
  });

  it('gives no figure with fewer than two eligible groups', () => {
    const r = report(base);
    const fb = fairnessBootstrap([{ key: 'a', seeds: [r.confusion] }], [], { minGroup: 41, replicates: 50, seed: 3, positives: [1] });
    expect(fb.eligible).toEqual([]);
    expect(fb.ways[0]!.worstGroupAccuracy.lo).toBeNull();
  });

  it('is seeded, narrows with more test images, and gives the interval of a difference between ways', () => {
    const a = report(base).confusion;
    const c = report(base.map(([t, p, g, k]) => [t, g === 2 && t === 1 ? 1 : p, g, k] as [number, number, number, number])).confusion; // g2 all TP: acc 1
    const opts = { minGroup: 20, replicates: 300, seed: 9, positives: [1] };
    const one = fairnessBootstrap([{ key: 'a', seeds: [a] }, { key: 'c', seeds: [c] }], [['c', 'a']], opts);
    expect(fairnessBootstrap([{ key: 'a', seeds: [a] }, { key: 'c', seeds: [c] }], [['c', 'a']], opts)).toEqual(one);
    const d = one.differences[0]!;
    expect(d.of).toEqual(['c', 'a']);
    // c: g1 0.825, g2 1.0 -> worst 0.825; a: 0.75; change +0.075
    expect(d.worstGroupAccuracy.estimate).toBeCloseTo(0.075, 12);
    const big = (m: number[][][]) => m.map((g) => g.map((row) => row.map((v) => v * 25)));
    const many = fairnessBootstrap([{ key: 'a', seeds: [big(a)] }], [], opts);
    const width = (x: { lo: number | null; hi: number | null }) => x.hi! - x.lo!;
    expect(width(many.ways[0]!.worstGroupAccuracy)).toBeLessThan(width(one.ways[0]!.worstGroupAccuracy) / 2);
  });

  it('gives no interval when the replicates all lie past the estimate (a spread over small groups)', () => {
    // Two groups with the same confusion over 5 classes (3 test images per class and group, 2 of them
    // correct): every TPR and FPR is equal across groups, so the equalized-odds difference is exactly 0.
    // A resampled group's rates move, and a spread can only grow, so nearly every replicate is > 0 and the
    // 2.5% quantile lies above the estimate: a percentile "interval" that excludes the figure it is for.
    const K = 5;
    const group = Array.from({ length: K }, (_, t) => Array.from({ length: K }, (_, p) => (p === t ? 2 : p === (t + 1) % K ? 1 : 0)));
    const c = [group, group];
    const opts = { minGroup: 10, replicates: 400, seed: 5, positives: [...Array(K).keys()] };
    const fb = fairnessBootstrap([{ key: 'a', seeds: [c] }], [], opts);
    const eo = fb.ways[0]!.equalizedOddsDifference;
    expect(eo.estimate).toBe(0);
    expect(eo.lo).toBeNull();
    expect(eo.hi).toBeNull();
    // Worst-group accuracy of the same data is 2/3 in both groups; its interval holds the estimate and stays.
    const w = fb.ways[0]!.worstGroupAccuracy;
    expect(w.estimate).toBeCloseTo(2 / 3, 12);
    expect(w.lo).not.toBeNull();
    expect(w.lo!).toBeLessThanOrEqual(w.estimate!);
    expect(w.hi!).toBeGreaterThanOrEqual(w.estimate!);
  });
});
