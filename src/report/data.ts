/**
 * What a report is made of: the verdict thresholds, a verdict, and the data every renderer reads
 * (report.ts builds it; render.ts turns it into HTML and Markdown). Its own module so that the renderer
 * and the builder do not import each other.
 */
import type { ReviewSummary } from '../review/log.js';
import type { ChecklistItem, SignOff } from './checklist.js';
import type { AuditParts, EvaluationParts } from './inputs.js';

/** Verdict thresholds, printed in the report itself. */
export const THRESHOLDS = {
  lowLeakage: { auc: 0.55, epsilon: 10 },
  moderateLeakage: { auc: 0.6 },
  fidelityRatio: { close: 2, fair: 5 },
  utilityGap: { good: 0.05, fair: 0.15 },
  /** Gate of every verdict (the same numbers as src/evaluate/learned.ts LEARNED_THRESHOLDS, which decides). */
  learned: { distinctRatio: 0.25, modeCoverageRatio: 0.3, conditionalMargin: 0.25 },
  /** Diversity: "good" at or above both ratios; "poor" when collapsed (below `learned`); "fair" between. */
  diversity: { distinctRatio: 0.75, modeCoverageRatio: 0.8 },
  /**
   * Fairness: groups with fewer real test images are excluded (evaluate --min-group; this is its default);
   * "unchanged" needs both intervals of (c) - (a) inside ±unchangedWithin.
   */
  fairness: { minGroup: 20, unchangedWithin: 0.05 },
};

export type Verdict = { level: 'good' | 'fair' | 'poor' | 'unknown' | 'not informative'; text: string };

export interface ReportData {
  title: string;
  generatedBy: string;
  run: { name: string; kind: string; seed: number; steps: number; seconds: number };
  privacy: Record<string, unknown> & { differentialPrivacy: boolean };
  /** ε after each epoch (DP runs: the model card's privacy.epsilonPerEpoch) and per-epoch losses. */
  curves: { epoch: number; step: number; epsilon?: number; losses: Record<string, number> }[];
  modelCard: Record<string, unknown>;
  runConfig: Record<string, unknown>;
  /** `medsynth evaluate`'s and `medsynth audit`'s JSON (inputs.ts: checked when read). */
  evaluation: EvaluationParts | null;
  audit: AuditParts | null;
  verdicts: { privacy: Verdict; fidelity: Verdict; utility: Verdict; fairness: Verdict; diversity: Verdict };
  samples: { cells: string[]; perRow: number; seed: number; png: string; realPng: string | null };
  thresholds: typeof THRESHOLDS;
  /** The human review of the samples (--review), or null. */
  review?: ReviewSummary | null;
  signOff?: SignOff | null;
  /** The ethics checklist (#24), each item linked to its evidence section. */
  checklist?: ChecklistItem[];
}
