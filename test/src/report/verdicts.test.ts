/**
 * Verdicts a privacy officer can trust (issue #19 items 8-11), from hand-made evaluation and audit JSON:
 * no "privacy: good" for a model that learned nothing, a diversity verdict, fairness only where the
 * bootstrap interval supports it and never from a tiny group, unreliable TPRs marked in HTML and Markdown,
 * the collapsed-precision warning, KID's unit and sign explained, the DCR paragraph with its distinct
 * records, and no absolute path in what the report writes.
 */
import { describe, expect, it } from 'vitest';
import { renderHtml, renderMarkdown, sections } from '../../../src/report/render.js';
import { THRESHOLDS, evaluationVerdicts, privacyVerdict, relativePaths, type ReportData } from '../../../src/report/report.js';

const dp = { differentialPrivacy: true, epsilon: 8, delta: 1e-5, unit: 'patient', accountant: 'rdp' };
const audit = (auc: number, nonMembers = 25) => ({
  sizes: { members: 25, nonMembers, synthetic: 303 },
  settings: { confidence: 0.95 },
  best: { attack: 'dcr', auc, epsilonLowerBound: 0 },
  attacks: [
    {
      name: 'dcr',
      access: 'black-box',
      overall: {
        members: 25,
        nonMembers,
        auc: { estimate: auc, lower: auc - 0.1, upper: auc + 0.1 },
        tprAtFpr: [
          { fpr: 0.01, estimate: 0.417, lower: 0.2, upper: 0.6, resolvable: 0.01 * nonMembers >= 1 },
          { fpr: 0.001, estimate: 0.3, lower: 0.1, upper: 0.5, resolvable: 0.001 * nonMembers >= 1 },
        ],
        advantage: { estimate: 0.1, lower: 0, upper: 0.2 },
        epsilon: { epsilon: 0 },
      },
      groups: [],
    },
  ],
  dcr: [{ space: 'pixel', share: 0.62, lower: 0.56, upper: 0.67, synthetic: 303, distinctNearestRecords: 7, largestShareOnOneRecord: 0.4, permutation: { pValue: 0.79, nullLower: 0.2, nullUpper: 0.8 } }],
  caveats: [],
});

const learned = (distinct: number, coverage: number) => {
  const collapsed = distinct / 210 < 0.25 || coverage < 0.3;
  return {
    space: 'pixel-pca features',
    m: 303,
    distinctNearest: { synthetic: distinct, reference: 210, ratio: distinct / 210 },
    modeCoverage: { k: 20, synthetic: coverage * 0.9, reference: 0.9, ratio: coverage },
    conditionalAccuracy: { judge: '1-NN', synthetic: 0.9, reference: 0.92, chance: 0.5, margin: 0.95 },
    thresholds: { distinctRatio: 0.25, modeCoverageRatio: 0.3, conditionalMargin: 0.25 },
    collapsed,
    conditional: true,
    learned: !collapsed,
    reasons: collapsed ? ['303 samples have 7 distinct nearest real training images, 3% of the 210 of as many real held-out images (threshold 25%)'] : [],
  };
};

const interval = (estimate: number, lo: number, hi: number) => ({ estimate, lo, hi });
const fairness = (opts: { eligible?: number[]; dw?: [number, number, number]; de?: [number, number, number] } = {}) => ({
  minGroup: 20,
  replicates: 1000,
  seed: 1,
  confidence: 0.95,
  groups: ['female', 'male', 'unknown'],
  groupSizes: [120, 110, 2],
  eligible: opts.eligible ?? [0, 1],
  excluded: [{ group: 2, n: 2 }],
  ways: [
    { key: 'a', worstGroupAccuracy: interval(0.8, 0.74, 0.86), equalizedOddsDifference: interval(0.1, 0.02, 0.2) },
    { key: 'c', worstGroupAccuracy: interval(0.81, 0.75, 0.87), equalizedOddsDifference: interval(0.12, 0.03, 0.22) },
  ],
  differences: [{ of: ['c', 'a'], worstGroupAccuracy: interval(...(opts.dw ?? [0.01, -0.08, 0.1])), equalizedOddsDifference: interval(...(opts.de ?? [0.02, -0.1, 0.14])) }],
  compared: '(c) real + synthetic minus (a) real train',
});

function evaluation(l: ReturnType<typeof learned> | null, fb: ReturnType<typeof fairness> | null = fairness()): Record<string, any> {
  const way = (key: string, ba: number) => ({ key, label: key, trainImages: 100, reports: [{ accuracy: ba, balancedAccuracy: ba, recall: [ba, ba], worstGroupAccuracy: 0, groupAccuracy: [] }], skipped: null });
  const fid = (fid: number, precision: number, kid: number) => ({ n: 303, values: { fid, kid: { mean: kid, std: 0.002 }, precision, recall: 0.01, density: 0.5, coverage: 0.05 }, note: null });
  return {
    classes: ['healthy', 'disease'],
    groups: ['female', 'male', 'unknown'],
    features: { name: 'pixel-pca', fittedOn: 'real train split (1400 images)' },
    datasets: { real: { path: '/home/someone/data/phantom', n: 2000 }, synthetic: { path: '/home/someone/runs/demo/samples', n: 303 } },
    fidelity: { rows: [{ slice: 'overall', name: 'all', reference: 1400, synthetic: fid(350, 1, 0.03), baseline: fid(1, 0.7, -0.001) }] },
    utility: { testImages: 300, augmentedSource: '--augmented /home/someone/runs/demo/balanced', ways: [way('a', 0.93), way('b', 0.92), way('c', 0.93)] },
    ...(fb ? { fairness: fb } : {}),
    ...(l ? { learned: l } : {}),
    diversity: { cells: { realTrain: { counts: [[1, 1, 0], [1, 1, 0]], indices: { gini: 0, shannon: 1, pielou: 1, emptyCells: 0 } } } },
  };
}

function data(ev: Record<string, any> | null, au: Record<string, any> | null): ReportData {
  return {
    title: 't',
    generatedBy: 'test',
    run: { name: 'r', kind: 'cvae', seed: 1, steps: 1, seconds: 1 },
    privacy: dp,
    curves: [],
    modelCard: { dataset: { preprocessing: {} }, splits: { sizes: {} }, conditioning: [], training: { config: {} }, environment: { versions: {} } },
    runConfig: {},
    evaluation: ev,
    audit: au,
    verdicts: { privacy: privacyVerdict(dp, au, ev), ...evaluationVerdicts(ev) },
    samples: { cells: [], perRow: 1, seed: 1, png: '', realPng: null },
    thresholds: THRESHOLDS,
  };
}

describe('report verdicts need evidence that the model learned', () => {
  it('says "not informative" for privacy, fidelity, utility and fairness when the samples collapsed, and gives diversity its own verdict', () => {
    const ev = evaluation(learned(7, 0.11));
    const v = data(ev, audit(0.5)).verdicts;
    expect(privacyVerdict(dp, audit(0.5), null).level).not.toBe('good'); // no evidence either
    expect(v.privacy.level).toBe('not informative');
    expect(v.privacy.text).toMatch(/did not learn the data \(303 samples have 7 distinct nearest/);
    expect(v.privacy.text).toMatch(/\(8\.00, 0\.00001\)-DP claim holds/);
    for (const k of ['fidelity', 'utility', 'fairness'] as const) expect(v[k].level, k).toBe('not informative');
    expect(v.utility.text).toMatch(/measured: synthetic-only training reaches balanced accuracy 0\.920/);
    expect(v.diversity).toMatchObject({ level: 'poor' });
    expect(v.diversity.text).toMatch(/^collapsed: 7 distinct nearest training records for 303 samples vs 210/);
    // High leakage stays a finding.
    expect(privacyVerdict(dp, audit(0.9), ev).level).toBe('poor');
    const md = renderMarkdown(data(ev, audit(0.5)));
    expect(md).toMatch(/\| diversity \| poor \| collapsed/);
    expect(md).toMatch(/fewer than 25% of those of as many real held-out images, or their k-means mode coverage is below 0\.3×/);
    expect(renderHtml(data(ev, audit(0.5)))).toContain('<td class="not-informative">not informative</td>');
  });

  it('keeps the verdicts of a model that learned, and says "not informative" for low leakage without evidence', () => {
    const ev = evaluation(learned(200, 0.95));
    expect(privacyVerdict(dp, audit(0.5), ev).level).toBe('good');
    // Not audited: the verdict states the claim with its unit, ε, δ and accountant.
    expect(privacyVerdict(dp, null, ev).text).toBe('(8.00, 0.00001)-DP per patient, RDP accountant; not audited (run medsynth audit)');
    expect(evaluationVerdicts(ev).diversity.level).toBe('good');
    expect(evaluationVerdicts(ev).utility.level).toBe('good');
    const none = privacyVerdict(dp, audit(0.5), null);
    expect(none.level).toBe('not informative');
    expect(none.text).toMatch(/no evidence that the model learned the data \(pass --eval/);
  });
});

describe('samples that do not follow their class', () => {
  it('are "not informative" for utility and fairness, with the learned-at-all reason said once', () => {
    const l = { ...learned(200, 0.95), conditional: false, learned: false, reasons: ['the samples do not follow their class: nearest-record class agreement 0.14 against 0.35 for real held-out images'] };
    const v = evaluationVerdicts(evaluation(l));
    for (const k of ['utility', 'fairness'] as const) {
      expect(v[k].level, k).toBe('not informative');
      expect(v[k].text.match(/do not follow their class/g), k).toHaveLength(1);
    }
    expect(v.fidelity.level).toBe('poor'); // not collapsed: fidelity keeps its verdict
  });
});

describe('a synthetic set without some classes', () => {
  // A balance folder's synthetic rows top up the rare class only; passed as --synthetic, a classifier
  // trained on them alone never predicts the other class (balanced accuracy 0.500 by construction), and
  // the overall FID and mode coverage compare another class mix (PneumoniaMNIST, eleventh session).
  const topUps = (bPerClass: number[]) => {
    const ev = evaluation(learned(200, 0.95));
    ev.utility.testPerClass = [234, 390];
    ev.utility.testImages = 624;
    ev.utility.ways = ev.utility.ways.map((w: Record<string, any>) => ({ ...w, trainPerClass: w.key === 'b' ? bPerClass : [1214, 3494] }));
    ev.utility.ways[1].reports[0].balancedAccuracy = 0.5;
    return ev;
  };

  it('gives no fidelity, utility or diversity verdict, names the absent class and keeps the measured figure', () => {
    const v = evaluationVerdicts(topUps([2280, 0]));
    for (const k of ['fidelity', 'utility', 'diversity'] as const) {
      expect(v[k].level, k).toBe('not informative');
      expect(v[k].text, k).toMatch(/^not informative: the synthetic set holds no images of disease \(390 of the 624 test images\): 1 of 2 classes/);
    }
    expect(v.utility.text).toMatch(/give --synthetic samples of every class \(medsynth sample\) \(measured: synthetic-only training reaches balanced accuracy 0\.500 vs 0\.930/);
    expect(v.fidelity.text).toMatch(/\(measured: far: FID 350\.000 vs 1\.000/);
    // Fairness compares (c) with (a), which the synthetic set's class mix does not decide.
    expect(v.fairness.level).not.toBe('unknown');
    expect(v.fairness.text).not.toMatch(/holds no images/);
  });

  it('keeps the verdicts when every class with test images has synthetic images, or the counts are missing', () => {
    expect(evaluationVerdicts(topUps([150, 150])).utility.level).toBe('poor');
    expect(evaluationVerdicts(topUps([150, 150])).fidelity.level).toBe('poor');
    expect(evaluationVerdicts(evaluation(learned(200, 0.95))).utility.level).toBe('good');
  });

  it('says it once when the learned-at-all gate fails too', () => {
    const ev = topUps([2280, 0]);
    ev.learned = learned(7, 0.11);
    const v = evaluationVerdicts(ev);
    expect(v.utility.text.match(/not informative/g)).toHaveLength(1);
    expect(v.fidelity.text.match(/not informative/g)).toHaveLength(1);
    expect(v.fairness.text).toMatch(/did not learn the data/);
  });
});

describe('fairness verdict', () => {
  const level = (fb: ReturnType<typeof fairness>) => evaluationVerdicts(evaluation(learned(200, 0.95), fb)).fairness;

  it('lists groups below the minimum and gives no verdict from fewer than two large groups', () => {
    const v = level(fairness({ eligible: [0] }));
    expect(v.level).toBe('not informative');
    expect(v.text).toMatch(/fewer than 2 groups with at least 20 test images; excluded, fewer than 20 test images: unknown \(2\)/);
  });

  it('is "not informative: CI too wide" when the intervals include both a change and none', () => {
    const v = level(fairness());
    expect(v.level).toBe('not informative');
    expect(v.text).toMatch(/^not informative: CI too wide/);
    expect(v.text).toMatch(/excluded, fewer than 20 test images: unknown \(2\)/);
  });

  it('says worse when the equalized-odds difference grew beyond its interval, even with better worst-group accuracy', () => {
    // The case: EO 0.799 -> 0.930, once called "fair".
    const v = level(fairness({ dw: [0.02, 0.005, 0.04], de: [0.131, 0.05, 0.2] }));
    expect(v.level).toBe('poor');
    expect(v.text).toMatch(/^worse with augmentation/);
  });

  it('says better or unchanged only where the interval supports it', () => {
    expect(level(fairness({ dw: [0.05, 0.02, 0.08], de: [-0.01, -0.03, 0.02] })).level).toBe('good');
    expect(level(fairness({ dw: [0.0, -0.02, 0.03], de: [0.01, -0.04, 0.04] })).level).toBe('fair');
  });

  it('shows the fairness table with intervals and the excluded groups', () => {
    const u = sections(data(evaluation(learned(200, 0.95)), null)).find((s) => s.id === 'utility')!;
    const t = u.tables.find((x) => x.caption.startsWith('Fairness over groups with ≥ 20'))!;
    expect(t.table.rows[2]).toEqual(['(c) − (a)', '+0.010 [-0.080, +0.100]', '+0.020 [-0.100, +0.140]']);
    expect(u.paragraphs.join(' ')).toMatch(/Left out as too small: unknown \(2 test images\)/);
  });
});

describe('report numbers that mislead without a note', () => {
  it('marks a TPR at an FPR below 1/non-members in HTML and Markdown, as the CLI table does', () => {
    const d = data(evaluation(learned(200, 0.95)), audit(0.5, 25));
    const md = renderMarkdown(d);
    expect(md).toMatch(/\| dcr \| black-box \| [^|]+\| 0\.417 \[0\.200, 0\.600\]\* \| 0\.300 \[0\.100, 0\.500\]\* \|/);
    expect(md).toMatch(/\* FPR below 1\/25/);
    expect(renderHtml(d)).toContain('0.417 [0.200, 0.600]*');
    // With 500 non-members 1% is resolvable (no mark) and 0.1% is not.
    const big = renderMarkdown(data(evaluation(learned(200, 0.95)), audit(0.5, 500)));
    expect(big).toMatch(/0\.417 \[0\.200, 0\.600\] \| 0\.300 \[0\.100, 0\.500\]\* \|/);
  });

  it('puts the distinct nearest records in the DCR paragraph beside the interval and the permutation p', () => {
    const md = renderMarkdown(data(null, audit(0.5)));
    expect(md).toMatch(/0\.620 \[0\.560, 0\.670\] of synthetic samples .* the 303 samples have 7 distinct nearest records .*; permutation test p = 0\.790/);
  });

  it('warns beside a high precision of collapsed samples and explains KID\'s unit and negative values', () => {
    const fi = (ev: Record<string, any>) => sections(data(ev, null)).find((s) => s.id === 'fidelity')!;
    const col = fi(evaluation(learned(7, 0.11)));
    expect(col.tables[0]!.table.header).toContain('KID ×1000');
    expect(col.tables[0]!.table.rows[0]![5]).toBe('1.000 †');
    expect(col.tables[0]!.table.rows[1]![5]).toBe('0.700'); // the real baseline is not marked
    expect(col.paragraphs.join(' ')).toMatch(/† <b>High precision on collapsed samples:<\/b> .*7 distinct nearest training records for 303 samples/);
    expect(col.paragraphs.join(' ')).toMatch(/unbiased MMD² estimator.*\(the table has negative values\)/);
    expect(fi(evaluation(learned(200, 0.95))).tables[0]!.table.rows[0]![5]).toBe('1.000');
  });

  it('names files relative to the report, never by absolute path', () => {
    const ev = evaluation(learned(200, 0.95));
    const rel = relativePaths(ev, '/home/someone/runs/demo/report');
    expect(rel.datasets.real.path).toBe('../../../data/phantom');
    expect(rel.datasets.synthetic.path).toBe('../samples');
    expect(rel.utility.augmentedSource).toBe('--augmented ../balanced');
    expect(rel.fidelity).toEqual(ev.fidelity);
    expect(JSON.stringify(rel)).not.toMatch(/"\/home|\s\/home/);
    expect(relativePaths({ a: 'TPR at FPR below 1/25 and/or x', b: 'ε, δ', c: 3 }, '/x')).toEqual({ a: 'TPR at FPR below 1/25 and/or x', b: 'ε, δ', c: 3 });
  });
});
