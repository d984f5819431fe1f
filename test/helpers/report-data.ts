import { THRESHOLDS, evaluationVerdicts, type ReportData } from '../../src/report/report.js';

/** The ReportData a report section renders from: a minimal non-private run with this evaluation JSON. */
export function reportDataFor(ev: Record<string, unknown>, kind = 'cvae'): ReportData {
  return {
    title: 't',
    generatedBy: 'test',
    run: { name: 'r', kind, seed: 1, steps: 1, seconds: 1 },
    privacy: { differentialPrivacy: false },
    curves: [],
    modelCard: { dataset: { preprocessing: {} }, splits: { sizes: {} }, conditioning: [], training: { config: {} }, environment: { versions: {} } },
    runConfig: {},
    evaluation: ev,
    audit: null,
    verdicts: { privacy: { level: 'unknown', text: '' }, ...evaluationVerdicts(ev) },
    samples: { cells: [], perRow: 1, seed: 1, png: '', realPng: null },
    thresholds: THRESHOLDS,
  };
}
