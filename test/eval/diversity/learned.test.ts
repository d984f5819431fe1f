/**
 * The "learned at all" figures (eval/diversity/learned.ts) on tiny arrays whose values are worked out by
 * hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import {
  distinctNearest,
  groupMeanImages,
  maxAbsDifference,
  meanColour,
  modeCoverage,
  modeCoverageRatio,
  rmsDifference,
  spread,
  weightedMeanImage,
} from '../../../eval/diversity/learned.js';

describe('distinctNearest', () => {
  it('counts distinct nearest records and their share of the queries', () => {
    // nearest records 3, 3, 0, 7, 0 -> {0, 3, 7}: 3 distinct of 5 queries = 0.6
    expect(distinctNearest([3, 3, 0, 7, 0])).toEqual({ n: 5, distinct: 3, share: 0.6 });
  });
  it('gives 1 / M for a collapsed generator and 1 when every query has its own record', () => {
    expect(distinctNearest(new Int32Array([4, 4, 4, 4])).share).toBe(0.25);
    expect(distinctNearest(Int32Array.from([9, 2, 5, 1])).share).toBe(1);
  });
  it('refuses an empty query set', () => {
    expect(() => distinctNearest([])).toThrow(/at least one/);
  });
});

describe('mode coverage', () => {
  it('is the share of bins with at least one row', () => {
    // bins 0..4 hold 2, 0, 1, 0, 5 rows: 3 of 5 occupied
    expect(modeCoverage([2, 0, 1, 0, 5])).toBe(0.6);
  });
  it('ratio = synthetic coverage / reference coverage', () => {
    // synthetic occupies 1 of 4 bins (0.25), reference 2 of 4 (0.5): ratio 0.5
    expect(modeCoverageRatio([6, 0, 0, 0], [3, 3, 0, 0])).toEqual({ synthetic: 0.25, reference: 0.5, ratio: 0.5 });
    // the ratio exceeds 1 when the synthetic set spreads over more bins than the real sample
    expect(modeCoverageRatio([1, 1, 1, 1], [4, 0, 0, 0]).ratio).toBe(4);
  });
  it('has no ratio when the reference covers nothing, and refuses mismatched bins', () => {
    expect(modeCoverageRatio([1, 0], [0, 0]).ratio).toBeNull();
    expect(() => modeCoverageRatio([1, 0], [1, 0, 0])).toThrow(/bins/);
  });
});

describe('mean images', () => {
  // Four 2-value images: groups 0, 1, 0, -1 (left out).
  const images = Float32Array.from([0, 1, 0.5, 0.5, 1, 0, 9, 9]);
  it('averages each group and skips group -1', () => {
    const { means, counts } = groupMeanImages(images, 2, [0, 1, 0, -1], 3);
    expect(counts).toEqual([2, 1, 0]);
    // group 0: ([0, 1] + [1, 0]) / 2 = [0.5, 0.5]; group 1: [0.5, 0.5]; group 2: empty
    expect(Array.from(means[0]!)).toEqual([0.5, 0.5]);
    expect(Array.from(means[1]!)).toEqual([0.5, 0.5]);
    expect(means[2]).toBeNull();
  });
  it('refuses a group index out of range or a length mismatch', () => {
    expect(() => groupMeanImages(images, 2, [0, 3, 0, 0], 3)).toThrow(/group 3/);
    expect(() => groupMeanImages(images, 3, [0, 0, 0, 0], 1)).toThrow(/values/);
  });
  it('weights cell means by their weights, skipping null means and zero weights', () => {
    // (3 * [0, 0] + 1 * [1, 2]) / 4 = [0.25, 0.5]; the null mean and the zero weight drop out
    const m = weightedMeanImage([Float64Array.from([0, 0]), null, Float64Array.from([1, 2]), Float64Array.from([7, 7])], [3, 5, 1, 0]);
    expect(Array.from(m!)).toEqual([0.25, 0.5]);
    expect(weightedMeanImage([null, Float64Array.from([1])], [1, 0])).toBeNull();
  });
});

describe('rmsDifference', () => {
  it('is sqrt of the mean squared difference', () => {
    // differences 0.3, -0.4, 0, 0 -> sqrt((0.09 + 0.16) / 4) = sqrt(0.0625) = 0.25
    expect(rmsDifference([0.5, 0.1, 0.2, 0.2], [0.2, 0.5, 0.2, 0.2])).toBeCloseTo(0.25, 12);
    expect(rmsDifference([0.3, 0.7], [0.3, 0.7])).toBe(0);
  });
  it('refuses different lengths', () => {
    expect(() => rmsDifference([1, 2], [1])).toThrow(/lengths/);
  });
});

describe('meanColour', () => {
  it('averages each channel over the pixels of an NHWC image', () => {
    // two RGB pixels (0.2, 0.4, 0.6) and (0.4, 0.4, 0.0): R (0.2+0.4)/2 = 0.3, G 0.4, B 0.3
    const c = meanColour([0.2, 0.4, 0.6, 0.4, 0.4, 0.0], 3);
    expect(c[0]).toBeCloseTo(0.3, 12);
    expect(c[1]).toBeCloseTo(0.4, 12);
    expect(c[2]).toBeCloseTo(0.3, 12);
    expect(meanColour([0.25, 0.75], 1)).toEqual([0.5]);
  });
  it('refuses a length that is not whole pixels', () => {
    expect(() => meanColour([1, 2, 3, 4], 3)).toThrow(/whole pixels/);
  });
  it('maxAbsDifference is the largest per-channel gap', () => {
    // |0.3-0.31| = 0.01, |0.4-0.37| = 0.03, |0.3-0.3| = 0
    expect(maxAbsDifference([0.3, 0.4, 0.3], [0.31, 0.37, 0.3])).toBeCloseTo(0.03, 12);
  });
});

describe('spread', () => {
  it('gives mean, min and max of the values present', () => {
    // (0.8 + 0.6 + 0.7) / 3 = 0.7
    const s = spread([0.8, null, 0.6, 0.7]);
    expect(s!.mean).toBeCloseTo(0.7, 12);
    expect(s).toMatchObject({ min: 0.6, max: 0.8, n: 3 });
    expect(spread([null])).toBeNull();
  });
});
