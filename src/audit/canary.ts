/**
 * The canary audit of an audit run (`train --audit-canaries`): score every canary from the run's output,
 * THEN read the secret key, count correct guesses, and lower-bound ε with the one-run theorem
 * (eval/privacy/canary-bound.ts). The order is the guarantee: the guesses depend on the scores alone.
 */
import { canaryAuditBound, DEFAULT_CANARY_CONFIDENCE } from '../../eval/privacy/canary-bound.js';
import { canaryAuditGdpBound } from '../../eval/privacy/canary-bound-fdp.js';
import { claimCurveTest, claimTradeOff } from '../../eval/privacy/canary-claim.js';
import { prvEpsilon } from '../privacy/accountants/prv.js';
import { gradientCanaryScores } from '../../eval/privacy/canary-score.js';
import { DatasetError, PrivacyAssumptionError } from '../core/errors.js';
import type { ConditionSpec } from '../../models/generator.js';
import { canaryInputs, readCanaryKey, readCanaryObservations, readCanaryPlan } from '../train/canaries.js';

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
  /**
   * The guesses tested against the trade-off curve the run's accounting claims (eval/privacy/canary-claim.ts:
   * the PRV accountant's privacy profile at the run's q, σ and steps, as an f-DP curve): rejected at the
   * stated confidence means the run is not as private as its accounting says, whatever the shape of its
   * curve — the implementation is broken. null when the curve could not be computed (the reason says why).
   */
  claimTest: { rejected: boolean; pValue: number; guesses: number; correct: number; curve: string } | { rejected: null; reason: string };
  /**
   * The same guesses read with the f-DP one-run analysis in the Gaussian family
   * (eval/privacy/canary-bound-fdp.ts): the run is not μ-GDP for μ < muLowerBound, and epsilonAtDelta is
   * that μ's ε at δ. Tighter than epsilonLowerBound, but it holds only if each canary's trade-off curve is
   * Gaussian (DP-SGD is close to it, not exactly), so it never decides "broken".
   */
  gdp: { muLowerBound: number; epsilonAtDelta: number; guesses: number; correct: number; assumption: string };
  /** Input canaries: the same audit from synthetic samples only (a weaker adversary), bounded on its own. */
  blackBox?: { guesses: number; correct: number; epsilonLowerBound: number; k: { positive: number; negative: number }; score: string; threatModel: string };
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

export const INPUT_WHITE_BOX_THREAT_MODEL =
  'white-box, final model: the adversary plants input canaries (noise images with random labels) in the training data and reads the final model\'s loss on each; a weaker adversary than the accounting assumes, so a bound well below epsilon is expected';
export const INPUT_BLACK_BOX_THREAT_MODEL =
  'black-box: the adversary plants input canaries and sees only synthetic samples (distance from each canary to its nearest sample); the weakest adversary here';

/**
 * Scores of input canaries, computed where the model lives (src/audit/audit.ts): higher = more likely
 * included. `whiteBox` is null when the generator exposes no per-image score.
 */
export type InputCanaryScorer = (inputs: { images: Float32Array; cond: Float32Array; n: number; width: number }) => Promise<{ whiteBox: { scores: Float64Array; score: string } | null; blackBox: { scores: Float64Array; score: string } }>;

export const GDP_ASSUMPTION =
  'f-DP one-run analysis (Mahloujifar, Melis & Chaudhuri 2025) in the Gaussian family: valid only if each canary\'s trade-off curve is mu-GDP; DP-SGD with many steps is close to that (Dong, Roth & Su 2022, CLT) but not exactly, so this figure informs and never decides "broken"';

export const GRADIENT_THREAT_MODEL =
  'white-box, all iterates: the adversary inserts Dirac gradient canaries and sees every released noisy gradient (the strongest adversary DP-SGD\'s accounting allows); the bound holds for any implementation, a correct one keeps it at or below the accountant\'s epsilon';

/** null when the run is not an audit run. `input` scores input canaries (required for that kind). */
export async function canaryAudit(runDir: string, privacy: CardPrivacy, confidence = DEFAULT_CANARY_CONFIDENCE, input?: { spec: ConditionSpec; scorer: InputCanaryScorer }): Promise<CanaryAuditResult | null> {
  const plan = readCanaryPlan(runDir);
  if (!plan) return null;
  const { sampleRate, noiseMultiplier, steps, delta, epsilon } = privacy;
  if (!privacy.differentialPrivacy || sampleRate === undefined || noiseMultiplier === undefined || steps === undefined || delta === undefined || epsilon === undefined) {
    throw new DatasetError(`${runDir}: an audit run without its DP plan in model-card.json (sampleRate, noiseMultiplier, steps, delta, epsilon)`);
  }
  const m = plan.canaries;
  // Every score first; the key only after.
  let primary: { scores: Float64Array; score: string; threatModel: string };
  let black: { scores: Float64Array; score: string } | null = null;
  if (plan.kind === 'gradient') {
    primary = {
      scores: gradientCanaryScores(readCanaryObservations(runDir, m, steps), { canaries: m, sampleRate, noiseMultiplier }).likelihoodRatio,
      score: 'likelihood ratio of the observed noisy gradients at each canary coordinate over all steps (eval/privacy/canary-score.ts)',
      threatModel: GRADIENT_THREAT_MODEL,
    };
  } else {
    if (!input) throw new Error('internal error: input canaries need a scorer');
    const s = await input.scorer(canaryInputs(plan, input.spec));
    black = s.blackBox;
    primary = s.whiteBox ? { ...s.whiteBox, threatModel: INPUT_WHITE_BOX_THREAT_MODEL } : { ...s.blackBox, threatModel: INPUT_BLACK_BOX_THREAT_MODEL };
    if (!s.whiteBox) black = null;
  }
  const included = readCanaryKey(runDir, m);
  const b = canaryAuditBound(primary.scores, included, { delta, confidence });
  const bb = black ? canaryAuditBound(black.scores, included, { delta, confidence }) : null;
  const g = canaryAuditGdpBound(primary.scores, included, { delta, confidence });
  const claim = testClaim(primary.scores, included, { sampleRate, noiseMultiplier, steps }, confidence);
  const above = b.epsilonLowerBound > epsilon || (bb?.epsilonLowerBound ?? 0) > epsilon;
  const broken = above || claim.rejected === true;
  const accountant = privacy.accountant ?? 'rdp';
  const kindText = plan.kind === 'gradient' ? 'gradient canaries' : `input canaries (${primary.threatModel.split(':')[0]})`;
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
    score: primary.score,
    threatModel: primary.threatModel,
    claimTest: claim,
    gdp: { muLowerBound: g.muLowerBound, epsilonAtDelta: g.epsilonAtDelta, guesses: g.guesses, correct: g.correct, assumption: GDP_ASSUMPTION },
    ...(plan.break ? { break: plan.break } : {}),
    ...(bb && black ? { blackBox: { guesses: bb.guesses, correct: bb.correct, epsilonLowerBound: bb.epsilonLowerBound, k: bb.k, score: black.score, threatModel: INPUT_BLACK_BOX_THREAT_MODEL } } : {}),
    summary: `${m} ${kindText}, ${b.correct}/${b.guesses} guesses correct: epsilon >= ${b.epsilonLowerBound.toFixed(2)} at ${Math.round(confidence * 100)}% confidence (delta ${delta}; if each canary's trade-off curve is Gaussian, mu >= ${g.muLowerBound.toFixed(3)}, i.e. epsilon >= ${g.epsilonAtDelta.toFixed(2)})${bb ? `; from samples only: epsilon >= ${bb.epsilonLowerBound.toFixed(2)}` : ''}; the ${accountant.toUpperCase()} accountant's epsilon is ${epsilon.toFixed(2)}; ${claim.rejected === null ? `the claimed trade-off curve was not tested (${claim.reason})` : claim.rejected ? `the guesses REJECT the trade-off curve the accounting claims (p = ${claim.pValue.toExponential(2)})` : `the guesses are consistent with the trade-off curve the accounting claims (p = ${claim.pValue.toFixed(2)})`}${broken ? ` — ${above ? 'the bound is ABOVE the claim: ' : ''}the DP implementation is broken` : g.epsilonAtDelta > epsilon ? ' — the Gaussian-family reading is above the claim: investigate (not proof of a bug, as it assumes a Gaussian trade-off curve)' : ''}`,
  };
}

/**
 * The canary guesses against the run's claimed trade-off curve: the PRV accountant's ε upper bounds over
 * canary-claim.ts's δ grid at the run's plan (one unit's pair: every canary is a unit of sensitivity C).
 * An accountant that cannot answer for this plan (e.g. too many steps for PRV's grid) leaves it untested.
 */
function testClaim(scores: Float64Array, included: ArrayLike<boolean | number>, plan: { sampleRate: number; noiseMultiplier: number; steps: number }, confidence: number): CanaryAuditResult['claimTest'] {
  let curve;
  try {
    curve = claimTradeOff((d) => prvEpsilon([plan], d).upper);
  } catch (e) {
    if (e instanceof PrivacyAssumptionError) return { rejected: null, reason: e.message };
    throw e;
  }
  const t = claimCurveTest(scores, included, { curve, confidence });
  return {
    rejected: t.rejected,
    pValue: t.pValue,
    guesses: t.guesses,
    correct: t.correct,
    curve: `PRV accountant's privacy profile at q ${plan.sampleRate}, sigma ${plan.noiseMultiplier}, ${plan.steps} steps, as an f-DP curve (max of f_{eps,delta} over ${curve.points.length} delta values)`,
  };
}
