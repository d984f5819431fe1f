/**
 * The canary audit of an audit run (`train --audit-canaries`): score every canary from the run's output,
 * THEN read the secret key, count correct guesses, and lower-bound ε with the one-run theorem
 * (eval/privacy/canary-bound.ts). The order is the guarantee: the guesses depend on the scores alone.
 */
import { canaryAuditBound, DEFAULT_CANARY_CONFIDENCE } from '../../eval/privacy/canary-bound.js';
import { gradientCanaryScores } from '../../eval/privacy/canary-score.js';
import { DatasetError } from '../core/errors.js';
import { readCanaryKey, readCanaryObservations, readCanaryPlan } from '../train/canaries.js';

export interface CanaryAuditResult {
  kind: 'gradient' | 'input';
  canaries: number;
  /** r = k₊ + k₋ at the reported k. */
  guesses: number;
  correct: number;
  epsilonLowerBound: number;
  confidence: number;
  delta: number;
  accountantEpsilon: number;
  accountant: string;
  /** The (k₊, k₋) that gave the bound, and how many were searched (Bonferroni). */
  k: { positive: number; negative: number };
  tests: number;
  steps: number;
  score: string;
  threatModel: string;
  /** Test builds only: the deliberate DP bug this run was trained with. */
  break?: string;
  /** One line for the report and the checklist. */
  summary: string;
}

interface CardPrivacy {
  differentialPrivacy: boolean;
  epsilon?: number;
  delta?: number;
  accountant?: string;
  sampleRate?: number;
  noiseMultiplier?: number;
  steps?: number;
}

export const GRADIENT_THREAT_MODEL =
  'white-box, all iterates: the adversary inserts Dirac gradient canaries and sees every released noisy gradient (the strongest adversary DP-SGD\'s accounting allows); the bound holds for any implementation, a correct one keeps it at or below the accountant\'s epsilon';

/** null when the run is not an audit run. */
export function canaryAudit(runDir: string, privacy: CardPrivacy, confidence = DEFAULT_CANARY_CONFIDENCE): CanaryAuditResult | null {
  const plan = readCanaryPlan(runDir);
  if (!plan) return null;
  const { sampleRate, noiseMultiplier, steps, delta, epsilon } = privacy;
  if (!privacy.differentialPrivacy || sampleRate === undefined || noiseMultiplier === undefined || steps === undefined || delta === undefined || epsilon === undefined) {
    throw new DatasetError(`${runDir}: an audit run without its DP plan in model-card.json (sampleRate, noiseMultiplier, steps, delta, epsilon)`);
  }
  const m = plan.canaries;
  const scores = gradientCanaryScores(readCanaryObservations(runDir, m, steps), { canaries: m, sampleRate, noiseMultiplier }).likelihoodRatio;
  // Only now, with every score fixed, the key.
  const included = readCanaryKey(runDir, m);
  const b = canaryAuditBound(scores, included, { delta, confidence });
  const accountant = privacy.accountant ?? 'rdp';
  return {
    kind: plan.kind,
    canaries: m,
    guesses: b.guesses,
    correct: b.correct,
    epsilonLowerBound: b.epsilonLowerBound,
    confidence,
    delta,
    accountantEpsilon: epsilon,
    accountant,
    k: b.k,
    tests: b.tests,
    steps,
    score: 'likelihood ratio of the observed noisy gradients at each canary coordinate over all steps (eval/privacy/canary-score.ts)',
    threatModel: GRADIENT_THREAT_MODEL,
    ...(plan.break ? { break: plan.break } : {}),
    summary: `${m} gradient canaries, ${b.correct}/${b.guesses} guesses correct: epsilon >= ${b.epsilonLowerBound.toFixed(2)} at ${Math.round(confidence * 100)}% confidence (delta ${delta}), against the ${accountant.toUpperCase()} accountant's ${epsilon.toFixed(2)}${b.epsilonLowerBound > epsilon ? ' — ABOVE the claim: the DP implementation is broken' : ''}`,
  };
}
