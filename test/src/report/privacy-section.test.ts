/**
 * The report's privacy section for a canary-audit run: the accountant, the (ε, δ) canary bound and its
 * f-DP reading (Gaussian family) in one table with their threat models; "broken" only from the (ε, δ)
 * bound, "investigate" when only the Gaussian-family reading is above the claim.
 */
import { describe, expect, it } from 'vitest';
import { sections } from '../../../src/report/render.js';
import { THRESHOLDS, type ReportData } from '../../../src/report/report.js';

const CLAIM = 2;

function data(lb: number, gdpEps: number | null, claimRejected: boolean | null = false): ReportData {
  const canaryAudit = {
    kind: 'gradient', canaries: 1000, guesses: 128, correct: 109, epsilonLowerBound: lb, accountantEpsilon: CLAIM, confidence: 0.95, delta: 1e-5,
    threatModel: 'white-box, all iterates', summary: 's',
    ...(gdpEps === null ? {} : { gdp: { muLowerBound: 0.5, epsilonAtDelta: gdpEps, assumption: 'Gaussian' } }),
    ...(claimRejected === null ? {} : { claimTest: { rejected: claimRejected, pValue: claimRejected ? 0.004 : 1 } }),
  };
  return {
    title: 't',
    generatedBy: 'test',
    run: { name: 'r', kind: 'cvae', seed: 1, steps: 1, seconds: 1 },
    privacy: { differentialPrivacy: true, epsilon: CLAIM, delta: 1e-5, accountant: 'rdp', unit: 'image', claim: 'c' },
    curves: [],
    modelCard: { dataset: { preprocessing: {} }, splits: { sizes: {} }, conditioning: [], training: { config: {} }, environment: { versions: {} } },
    runConfig: {},
    evaluation: null,
    audit: { command: 'audit', attacks: [], dcr: [], best: null, canaryAudit },
    verdicts: Object.fromEntries(['privacy', 'fidelity', 'utility', 'fairness', 'diversity'].map((k) => [k, { level: 'unknown', text: '' }])),
    samples: { cells: [], perRow: 1, seed: 1, png: '', realPng: null },
    thresholds: THRESHOLDS,
  } as unknown as ReportData;
}

const privacy = (lb: number, gdpEps: number | null, claim: boolean | null = false) => sections(data(lb, gdpEps, claim)).find((s) => s.id === 'privacy')!;
const text = (lb: number, gdpEps: number | null, claim: boolean | null = false) => privacy(lb, gdpEps, claim).paragraphs.join('\n');

describe('report: privacy section, canary audit', () => {
  it('shows the f-DP reading as its own row with its assumption, beside the (ε, δ) bound', () => {
    const rows = privacy(1.1, 2.3).tables.find((t) => t.caption.startsWith('ε: the claim'))!.table.rows;
    expect(rows.map((r) => r[0])).toEqual([
      'accountant (rdp)',
      'canary audit (1000 gradient canaries, one run)',
      'the same canaries against the claimed trade-off curve',
      'the same canaries, f-DP reading (Gaussian family)',
    ]);
    expect(rows[2]![1]).toBe('consistent (p = 1.00)');
    expect(rows[3]![1]).toBe('ε ≥ 2.300 (μ ≥ 0.500)');
    expect(rows[3]![3]).toMatch(/only if each canary's trade-off curve is Gaussian/);
  });

  it('says "investigate", not "broken", when only the Gaussian-family reading is above the claim', () => {
    expect(text(1.1, 2.3)).toMatch(/f-DP reading of the canaries \(Gaussian family\) is above the accountant's ε\. That is not proof of a bug/);
    expect(text(1.1, 2.3)).not.toMatch(/ABOVE the accountant's ε|is broken/);
    expect(text(1.1, 1.5)).not.toMatch(/f-DP reading of the canaries/);
    expect(text(2.5, 3.0)).toMatch(/lower bound 2\.50 is ABOVE the accountant's ε 2\.00\. The DP implementation or its accounting is broken/);
    expect(text(2.5, 3.0)).not.toMatch(/not proof of a bug/);
  });

  it('says "broken" when the guesses reject the claimed curve, even with the bound below the claim', () => {
    expect(text(1.1, 2.3, true)).toMatch(/REJECT the trade-off curve the accounting claims \(p = 4\.00e-3\)\. The DP implementation or its accounting is broken/);
    expect(text(1.1, 2.3, true)).not.toMatch(/not proof of a bug/);
    const rows = privacy(1.1, 2.3, true).tables.find((t) => t.caption.startsWith('ε: the claim'))!.table.rows;
    expect(rows[2]![1]).toBe('REJECTED (p = 4.00e-3)');
  });

  it('reads an audit written before the f-DP readings without their rows', () => {
    const rows = privacy(1.1, null, null).tables.find((t) => t.caption.startsWith('ε: the claim'))!.table.rows;
    expect(rows).toHaveLength(2);
  });
});
