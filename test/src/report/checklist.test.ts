/**
 * The report's ethics checklist (#24): items filled from what the pipeline knows, each linking to its
 * evidence section; the items only a person can answer stay "open" until --sign-off fills them; the
 * human-review item reads a review.jsonl or release's review-summary.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildChecklist, readSignOff, type ChecklistInput } from '../../../src/report/checklist.js';
import { renderHtml, renderMarkdown } from '../../../src/report/render.js';
import { THRESHOLDS, type ReportData } from '../../../src/report/report.js';
import { appendDecision, loadReviewSummary, REVIEW_LOG } from '../../../src/review/log.js';
import { releaseReviewed } from '../../../src/review/release.js';
import { makeSamples } from '../review/fixture.js';

const dp = {
  differentialPrivacy: true,
  epsilon: 7.98,
  delta: 1e-5,
  unit: 'patient',
  accountant: 'rdp',
  units: 1400,
  doesNotCover: ['training logs', 'hyperparameter tuning on private data, which spends privacy this accounting does not count'],
};
const card = { dataset: { name: 'phantom', source: 'folder-csv', fingerprint: 'sha256:abc' } };
const verdicts = {
  privacy: { level: 'good' as const, text: 'low leakage' },
  fidelity: { level: 'fair' as const, text: 'fair' },
  utility: { level: 'good' as const, text: 'good' },
  fairness: { level: 'not informative' as const, text: 'not informative: CI too wide' },
  diversity: { level: 'good' as const, text: 'as varied as real data' },
};
const evaluation = { fairness: { groups: ['female', 'male', 'unknown'], minGroup: 20, excluded: [{ group: 2, n: 4 }] } };
const audit = { attacks: [{ name: 'distance' }, { name: 'domias' }], best: { attack: 'domias', auc: 0.53, epsilonLowerBound: 0.1 } };

const input = (over: Partial<ChecklistInput> = {}): ChecklistInput => ({ privacy: dp, modelCard: card, evaluation, audit, verdicts, review: null, signOff: null, ...over });
const byId = (items: ReturnType<typeof buildChecklist>) => Object.fromEntries(items.map((i) => [i.id, i]));

describe('ethics checklist', () => {
  it('fills what the pipeline knows and leaves what only a person knows open', () => {
    const c = byId(buildChecklist(input()));
    expect(Object.keys(c)).toEqual(['dp', 'delta', 'tuning', 'canary', 'attacks', 'small-groups', 'fairness', 'diversity', 'review', 'source', 'licence', 'intended-use', 'clinical-sign-off']);
    expect(c.dp).toMatchObject({ status: 'done', evidence: '#privacy' });
    expect(c.dp!.answer).toBe('yes: (ε = 7.98, δ = 0.00001)-DP per patient, rdp accountant');
    expect(c.delta).toMatchObject({ status: 'done' });
    expect(c.delta!.answer).toMatch(/^yes: δ = 0\.00001 vs 1\/N = 1\/1400 = 0\.000714/);
    expect(c.tuning).toMatchObject({ status: 'open', signOffField: 'tuningOnPrivateData' });
    expect(c.tuning!.answer).toMatch(/hyperparameter tuning on private data/);
    expect(c.canary).toMatchObject({ status: 'not run' });
    expect(c.attacks).toMatchObject({ status: 'done', evidence: '#attacks' });
    expect(c.attacks!.answer).toMatch(/^distance, domias; best AUC 0\.530 \(domias\)/);
    expect(c['small-groups']).toMatchObject({ status: 'attention', evidence: '#utility' });
    expect(c['small-groups']!.answer).toMatch(/^unknown \(4\): fewer than 20 real test images/);
    expect(c.fairness).toMatchObject({ status: 'attention' }); // not informative needs a person's look
    expect(c.diversity).toMatchObject({ status: 'done', evidence: '#diversity' });
    expect(c.review).toMatchObject({ status: 'not run' });
    expect(c.source!.answer).toBe('phantom (folder-csv adapter), fingerprint sha256:abc');
    for (const id of ['licence', 'intended-use', 'clinical-sign-off']) expect(c[id]!.status, id).toBe('open');
  });

  it('flags no DP, δ >= 1/N, and missing evaluation and audit', () => {
    const noDp = byId(buildChecklist(input({ privacy: { differentialPrivacy: false }, evaluation: null, audit: null })));
    expect(noDp.dp).toMatchObject({ status: 'attention' });
    expect(noDp.delta).toMatchObject({ status: 'not run' });
    expect(noDp.attacks).toMatchObject({ status: 'not run' });
    expect(noDp['small-groups']).toMatchObject({ status: 'not run' });
    expect(noDp.fairness!.answer).toMatch(/run medsynth evaluate/);
    const bigDelta = byId(buildChecklist(input({ privacy: { ...dp, delta: 1e-2, units: 200 } })));
    expect(bigDelta.delta).toMatchObject({ status: 'attention' });
    expect(bigDelta.delta!.answer).toMatch(/^NO: δ = 0\.01 vs 1\/N = 1\/200/);
    const canary = byId(buildChecklist(input({ audit: { ...audit, canaryAudit: { epsilonLowerBound: 0.42 } } })));
    expect(canary.canary).toMatchObject({ status: 'done', answer: 'yes: empirical ε lower bound 0.42' });
    const broken = byId(buildChecklist(input({ audit: { ...audit, canaryAudit: { epsilonLowerBound: 4.2, accountantEpsilon: 2 } } })));
    expect(broken.canary).toMatchObject({ status: 'attention' });
    expect(broken.canary!.answer).toMatch(/ABOVE the accountant's ε 2.00/);
    // The claimed curve rejected: broken although the bound is below the claim.
    const rejected = byId(buildChecklist(input({ audit: { ...audit, canaryAudit: { epsilonLowerBound: 1.1, accountantEpsilon: 2, claimTest: { rejected: true, pValue: 0.004 } } } })));
    expect(rejected.canary).toMatchObject({ status: 'attention' });
    expect(rejected.canary!.answer).toMatch(/REJECT the trade-off curve the accounting claims \(p = 4\.00e-3\): the DP implementation is broken/);
    // Only the Gaussian-family reading above the claim: no alarm in the checklist.
    const gaussian = byId(buildChecklist(input({ audit: { ...audit, canaryAudit: { epsilonLowerBound: 1.1, accountantEpsilon: 2, claimTest: { rejected: false, pValue: 1 }, gdp: { epsilonAtDelta: 2.3 } } } })));
    expect(gaussian.canary!.status).toBe('done');
  });

  it('answers the open items from --sign-off and refuses a malformed one', () => {
    const dir = makeSamples(1);
    const file = join(dir, 'sign-off.json');
    writeFileSync(file, JSON.stringify({ signedBy: 'Dr B. Gray', date: '2026-12-04', intendedUse: 'teaching radiographers', dataLicence: 'CC BY-NC 4.0', clinicalSignOff: 'approved for teaching only', tuningOnPrivateData: 'none: defaults only' }));
    const c = byId(buildChecklist(input({ signOff: readSignOff(file) })));
    for (const id of ['licence', 'intended-use', 'clinical-sign-off', 'tuning']) expect(c[id]!.status, id).toBe('answered');
    expect(c['intended-use']!.answer).toBe('teaching radiographers (Dr B. Gray, 2026-12-04)');
    writeFileSync(file, JSON.stringify({ intendedUse: 'x', licence: 'typo' }));
    expect(() => readSignOff(file)).toThrow(/--sign-off .*Unrecognized key.*licence.*the fields are signedBy, date, intendedUse, dataLicence/);
    writeFileSync(file, '{"intendedUse": ');
    expect(() => readSignOff(file)).toThrow(/not valid JSON/);
    writeFileSync(file, JSON.stringify({ intendedUse: '  ' }));
    expect(() => readSignOff(file)).toThrow(/intendedUse/);
  });

  it('reads the human review from review.jsonl or release\'s review-summary.json, and renders with links to real sections', async () => {
    const dir = makeSamples(2);
    const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s)).toISOString();
    appendDecision(dir, { reviewer: 'alice', time: t(1), image: 'images/syn_000001.png', decision: 'accept' });
    appendDecision(dir, { reviewer: 'alice', time: t(2), image: 'images/syn_000002.png', decision: 'reject', reason: 'artefact' });
    const fromLog = loadReviewSummary(join(dir, REVIEW_LOG));
    const rel = await releaseReviewed({ samples: dir, out: join(dir, 'released') });
    const fromSummary = loadReviewSummary(join(rel.out, 'review-summary.json'));
    expect(fromSummary).toEqual(fromLog);
    const c = byId(buildChecklist(input({ review: fromLog })));
    expect(c.review).toMatchObject({ status: 'attention', evidence: '#review' }); // 2 of 8 reviewed
    expect(c.review!.answer).toMatch(/^1 reviewer\(s\) \(alice\) decided on 2 of 8 images; 1 released, 1 rejected \(acceptance 50%\); per cell: healthy \| sex=female 50% of 2;/);

    const data: ReportData = {
      title: 't',
      generatedBy: 'test',
      run: { name: 'r', kind: 'cvae', seed: 1, steps: 1, seconds: 1 },
      privacy: dp,
      curves: [],
      modelCard: { dataset: { ...card.dataset, preprocessing: {} }, splits: { sizes: {} }, conditioning: [], training: { config: {} }, environment: { versions: {} } },
      runConfig: {},
      evaluation: null,
      audit,
      verdicts,
      samples: { cells: [], perRow: 1, seed: 1, png: '', realPng: null },
      thresholds: THRESHOLDS,
      review: fromLog,
      signOff: null,
      checklist: buildChecklist(input({ review: fromLog })),
    };
    const html = renderHtml(data);
    const ids = new Set([...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]));
    expect([...ids].slice(0, 3)).toEqual(['summary', 'checklist', 'privacy']);
    expect(ids.has('review')).toBe(true);
    const links = [...html.matchAll(/<a href="#([^"]+)">/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(9);
    for (const l of links) expect(ids.has(l), l).toBe(true);
    expect(html).toContain('<td class="open">open</td>');
    expect(html).toContain('<td class="done">done</td>');
    expect(html).not.toMatch(/<script|(src|href)="https?:/i);
    const md = renderMarkdown(data);
    expect(md).toMatch(/## Ethics checklist/);
    expect(md).toMatch(/\| Is the generator trained with differential privacy\? \| done \| yes: .* \| \[Privacy\]\(#privacy\) \|/);
    expect(md).toMatch(/## Human review/);
  });
});
