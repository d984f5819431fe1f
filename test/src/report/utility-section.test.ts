/**
 * The report's utility section from an evaluation JSON: (c) against (d) with intervals, the plain
 * "oversampling is better here" where it is, and an evaluation written before (d) and classifier seeds.
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown, sections } from '../../../src/report/render.js';
import { evaluationVerdicts } from '../../../src/report/report.js';
import { reportDataFor } from '../../helpers/report-data.js';

const stat = (mean: number, lo: number, hi: number) => ({ mean, lo, hi, sd: 0.01, n: 3, values: [mean, mean, mean] });
const report = (ba: number) => ({ accuracy: ba, balancedAccuracy: ba, recall: [ba, ba], worstGroupAccuracy: ba - 0.1, demographicParityDifference: 0.05, equalizedOddsDifference: 0.1, groupAccuracy: [{ group: 0, n: 10, accuracy: ba }] });
const way = (key: string, label: string, ba: number) => ({
  key,
  label,
  trainImages: 100,
  report: report(ba),
  reports: [report(ba - 0.01), report(ba), report(ba + 0.01)],
  summary: { accuracy: stat(ba, ba - 0.02, ba + 0.02), balancedAccuracy: stat(ba, ba - 0.02, ba + 0.02), recall: [stat(ba, 0.5, 0.9), stat(ba, 0.4, 1)], worstGroupAccuracy: stat(ba - 0.1, 0.5, 0.9) },
  skipped: null,
});

function evaluation(cMinusD: number): Record<string, unknown> {
  const verdict = cMinusD > 0.01 ? 'augmentation better' : cMinusD >= -0.01 ? 'within 1 point' : 'oversampling is better here';
  return {
    classes: ['healthy', 'disease'],
    groups: ['female', 'male'],
    utility: {
      testImages: 50,
      positiveName: 'disease',
      classifier: { seeds: [1, 2, 3] },
      ways: [way('a', 'real train', 0.8), way('b', 'synthetic only (TSTR)', 0.6), way('c', 'real + synthetic', 0.82), way('d', 'real + oversampled real', 0.82 - cMinusD)],
      oversampling: { seed: 7, matchedOn: 'class x sex', replaced: 40, filled: 38, leftOut: 2, notes: ['cell disease | female: no real train image, so its 2 synthetic rows are left out of (d)'] },
      augmentedVsOversampling: { deltaBalancedAccuracy: cMinusD, ci: { lo: cMinusD - 0.01, hi: cMinusD + 0.01 }, verdict, perSeed: [cMinusD, cMinusD, cMinusD] },
      augmentedVsReal: { deltaBalancedAccuracy: 0.02, ci: { lo: 0.01, hi: 0.03 }, verdict: 'augmentation better', perSeed: [0.02, 0.02, 0.02] },
    },
  };
}


const utility = (ev: Record<string, unknown>) => sections(reportDataFor(ev)).find((s) => s.id === 'utility')!;

describe('report: utility section', () => {
  it('shows the four ways with mean [CI] and (c) against (d), and says plainly when oversampling is better', () => {
    const u = utility(evaluation(-0.023));
    const main = u.tables[0]!;
    expect(main.table.header).toEqual(['metric', '(a) real train', '(b) synthetic only (TSTR)', '(c) real + synthetic', '(d) real + oversampled real']);
    expect(main.table.rows.find((r) => r[0] === 'balanced accuracy')).toEqual(['balanced accuracy', '0.800 [0.780, 0.820]', '0.600 [0.580, 0.620]', '0.820 [0.800, 0.840]', '0.843 [0.823, 0.863]']);
    const cmp = u.tables[1]!;
    expect(cmp.table.rows[0]).toEqual(['(c) vs (d) oversampling', '-2.3', '[-3.3, -1.3]', 'oversampling is better here']);
    expect(cmp.table.rows[1]).toEqual(['(c) vs (a) real only', '+2.0', '[+1.0, +3.0]', 'augmentation better']);
    const text = u.paragraphs.join('\n');
    expect(text).toContain('<b>Oversampling is better here:</b> duplicating real training images gave a balanced accuracy 2.3 points above');
    expect(text).toMatch(/mean \[95% Student-t interval\] over 3 classifier seeds/);
    expect(text).toMatch(/each of its 40 synthetic rows replaced by a real training image of the same class x sex cell/);
    expect(text).toMatch(/2 rows whose cell has no real training image are left out/);
    expect(renderMarkdown(reportDataFor(evaluation(-0.023)))).toMatch(/\| \(c\) vs \(d\) oversampling \| -2\.3 \| \[-3\.3, -1\.3\] \| oversampling is better here \|/);
  });

  it('does not say it when augmentation is within 1 point or better', () => {
    for (const delta of [0.005, 0.03]) {
      const text = utility(evaluation(delta)).paragraphs.join('\n');
      expect(text).not.toMatch(/oversampling is better here/i);
      expect(text).toMatch(delta > 0.01 ? /<b>better than oversampling<\/b> \(\+3\.0 points/ : /<b>within 1 point of oversampling<\/b> \(\+0\.5 points/);
      // The fixture's intervals are delta -/+ 0.01: around 0 for +0.5 points, clear of it for +3.
      if (delta > 0.01) expect(text).not.toMatch(/interval includes 0/);
      else expect(text).toMatch(/The interval includes 0: over 3 classifier seeds/);
    }
  });

  it('verdicts read the mean over classifier seeds', () => {
    const v = evaluationVerdicts(evaluation(0));
    expect(v.utility.text).toMatch(/balanced accuracy 0\.600 vs 0\.800/);
  });

  it('still renders an evaluation written before (d) and classifier seeds', () => {
    const old = { classes: ['healthy', 'disease'], groups: ['female'], utility: { testImages: 50, ways: [{ key: 'a', label: 'real train', trainImages: 9, report: report(0.8) }, { key: 'c', label: 'real + synthetic', trainImages: 12, report: report(0.7) }] } };
    const u = utility(old);
    expect(u.tables).toHaveLength(1);
    expect(u.tables[0]!.table.rows.find((r) => r[0] === 'balanced accuracy')).toEqual(['balanced accuracy', '0.800', '0.700']);
    expect(u.paragraphs.join('\n')).toMatch(/one classifier seed, so no interval/);
  });
});
