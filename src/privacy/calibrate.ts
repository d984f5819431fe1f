/**
 * Noise calibration: the smallest noise multiplier σ whose (ε, δ) over the planned training stays within
 * a target ε. ε(σ) decreases monotonically in σ, so a bisection brackets the answer; the value returned
 * is always the upper (conservative) end of the bracket, so the achieved ε never exceeds the target.
 */
import { PrivacyAssumptionError } from '../core/errors.js';
import { accountant, type AccountantName, type AccountantResult } from './accountants/index.js';

export interface PlannedTraining {
  sampleRate: number;
  steps: number;
  delta: number;
  /** Default 'rdp'. */
  accountant?: AccountantName;
}

/** ε after `steps` steps at noise multiplier σ. */
export function epsilonFor(plan: PlannedTraining & { noiseMultiplier: number }): AccountantResult {
  checkPlan(plan);
  return accountant(plan.accountant ?? 'rdp').epsilon([{ sampleRate: plan.sampleRate, noiseMultiplier: plan.noiseMultiplier, steps: plan.steps }], plan.delta);
}

export function calibrateNoise(plan: PlannedTraining & { targetEpsilon: number; tolerance?: number }): { noiseMultiplier: number; epsilon: number } {
  checkPlan(plan);
  if (!(plan.targetEpsilon > 0)) {
    throw new PrivacyAssumptionError(`--target-epsilon ${plan.targetEpsilon}: a privacy budget must be > 0`);
  }
  const eps = (sigma: number) => epsilonFor({ ...plan, noiseMultiplier: sigma }).epsilon;
  let lo = 1e-2;
  let hi = 1;
  while (eps(hi) > plan.targetEpsilon) {
    lo = hi;
    hi *= 2;
    if (hi > 1e5) {
      throw new PrivacyAssumptionError(
        `--target-epsilon ${plan.targetEpsilon}: not reachable for sample rate ${plan.sampleRate}, ${plan.steps} steps and delta ${plan.delta} even with noise multiplier 1e5; allow a larger epsilon, fewer steps or a smaller sample rate`,
      );
    }
  }
  if (eps(lo) <= plan.targetEpsilon) return { noiseMultiplier: lo, epsilon: eps(lo) };
  const tol = plan.tolerance ?? 1e-4;
  while ((hi - lo) / hi > tol) {
    const mid = (lo + hi) / 2;
    if (eps(mid) > plan.targetEpsilon) lo = mid;
    else hi = mid;
  }
  return { noiseMultiplier: hi, epsilon: eps(hi) };
}

function checkPlan(p: PlannedTraining & { noiseMultiplier?: number }): void {
  if (!(p.sampleRate > 0 && p.sampleRate <= 1)) throw new PrivacyAssumptionError(`--sample-rate ${p.sampleRate}: must be in (0, 1]`);
  if (!(Number.isInteger(p.steps) && p.steps >= 1)) throw new PrivacyAssumptionError(`--steps ${p.steps}: must be a whole number >= 1`);
  if (!(p.delta > 0 && p.delta < 1)) throw new PrivacyAssumptionError(`--delta ${p.delta}: must be in (0, 1)`);
  if (p.noiseMultiplier !== undefined && !(p.noiseMultiplier > 0)) {
    throw new PrivacyAssumptionError(`--noise-multiplier ${p.noiseMultiplier}: must be > 0 (0 is no privacy)`);
  }
}
