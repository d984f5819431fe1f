/**
 * evaluate's comparison lines (src/evaluate/render.ts): the verdict reads the mean over classifier seeds,
 * and when the 95% interval includes 0 the line says the seeds do not tell the difference apart, so no
 * line states a verdict without the caveat its evidence needs. The HAM10000 case that prompted it:
 * (c) − (d) = −3.2 points with the interval [−16.0, +9.7] over 3 seeds (eval/results/private-generators.md).
 */
import { describe, expect, it } from 'vitest';
import { absentClasses, intervalIncludesZero, type WayComparison } from '../../../eval/utility/index.js';
import type { EvaluateResult } from '../../../src/evaluate/evaluate.js';
import { absentNote, comparisonLine } from '../../../src/evaluate/render.js';

const cmp = (delta: number, ci: { lo: number; hi: number } | null, verdict: WayComparison['verdict']): WayComparison => ({
  deltaBalancedAccuracy: delta,
  ci,
  verdict,
  perSeed: [],
});

describe('intervalIncludesZero', () => {
  it('is true when lo <= 0 <= hi, ends included, and false without an interval', () => {
    expect(intervalIncludesZero(cmp(-0.032, { lo: -0.16, hi: 0.097 }, 'oversampling is better here'))).toBe(true);
    expect(intervalIncludesZero(cmp(-0.01, { lo: -0.02, hi: 0 }, 'within 1 point'))).toBe(true);
    expect(intervalIncludesZero(cmp(-0.023, { lo: -0.033, hi: -0.013 }, 'oversampling is better here'))).toBe(false);
    expect(intervalIncludesZero(cmp(0.03, { lo: 0.002, hi: 0.05 }, 'augmentation better'))).toBe(false);
    expect(intervalIncludesZero(cmp(-0.05, null, 'oversampling is better here'))).toBe(false);
  });
});

describe('comparisonLine', () => {
  it('adds the caveat to a verdict whose interval includes 0, naming the number of seeds', () => {
    const line = comparisonLine('(d) oversampling', cmp(-0.032, { lo: -0.16, hi: 0.097 }, 'oversampling is better here'), 3);
    expect(line).toBe(
      '  (c) vs (d) oversampling: balanced accuracy -3.2 points [-16.0, +9.7] -> oversampling is better here' +
        ' (the interval includes 0: over 3 classifier seeds the difference is not told apart from seed-to-seed variation)',
    );
  });

  it('states the verdict alone when the interval excludes 0, or when one seed gives no interval', () => {
    expect(comparisonLine('(d) oversampling', cmp(-0.023, { lo: -0.033, hi: -0.013 }, 'oversampling is better here'), 3)).toBe(
      '  (c) vs (d) oversampling: balanced accuracy -2.3 points [-3.3, -1.3] -> oversampling is better here',
    );
    expect(comparisonLine('(a) real only', cmp(0.02, null, 'augmentation better'), 1)).toBe('  (c) vs (a) real only: balanced accuracy +2.0 points -> augmentation better');
  });

  it('says when a way was skipped', () => {
    expect(comparisonLine('(d) oversampling', null, 3)).toBe('  (c) vs (d) oversampling: not compared (a way was skipped)');
  });
});

describe('absentClasses and absentNote', () => {
  it('names the classes with test images and no training images, in class order', () => {
    expect(absentClasses([2280, 0], [234, 390])).toEqual([1]);
    expect(absentClasses([0, 5, 0, 3], [10, 0, 7, 2])).toEqual([0, 2]); // class 1 has no test images: not absent
    expect(absentClasses([1, 1], [234, 390])).toEqual([]);
    expect(absentClasses(undefined, [234, 390])).toEqual([]);
  });

  it('prints one note under the header when the synthetic set lacks a class, and none otherwise', () => {
    const utility = (b: number[]) => ({ testImages: 624, testPerClass: [234, 390], ways: [{ key: 'a', trainPerClass: [1214, 3494] }, { key: 'b', trainPerClass: b }] }) as unknown as EvaluateResult['utility'];
    expect(absentNote({ classes: ['normal', 'pneumonia'], utility: utility([2280, 0]) })).toEqual([
      'note: the synthetic set holds no images of pneumonia (390 of the 624 test images): 1 of 2 classes, so synthetic-only accuracy, the overall FID and the diversity figures measure its class mix, not the generator; give --synthetic samples of every class (medsynth sample)',
    ]);
    expect(absentNote({ classes: ['normal', 'pneumonia'], utility: utility([300, 324]) })).toEqual([]);
  });
});
