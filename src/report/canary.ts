import type { AuditParts } from './inputs.js';

/**
 * What a canary audit found, for the report and the checklist: `broken` when the (ε, δ) lower bound is
 * above the accountant's ε or the guesses reject the trade-off curve the accounting claims (both hold for
 * any implementation, src/audit/canary.ts); `investigate` when only the Gaussian-family f-DP reading is
 * above the claim (it assumes a Gaussian curve); `consistent` otherwise; null without a canary audit.
 */
export function canaryFinding(canary: NonNullable<AuditParts>['canaryAudit'] | undefined | null): { finding: 'broken' | 'investigate' | 'consistent'; why: string } | null {
  if (!canary) return null;
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const lb = num(canary.epsilonLowerBound);
  const eps = num(canary.accountantEpsilon);
  if (lb !== null && eps !== null && lb > eps) return { finding: 'broken', why: `its lower bound ${lb.toFixed(2)} is ABOVE the accountant's ε ${eps.toFixed(2)}` };
  if (canary.claimTest?.rejected === true) {
    const p = num(canary.claimTest.pValue);
    return { finding: 'broken', why: `its guesses REJECT the trade-off curve the accounting claims${p !== null ? ` (p = ${p.toExponential(2)})` : ''}` };
  }
  const gdp = num(canary.gdp?.epsilonAtDelta);
  if (gdp !== null && eps !== null && gdp > eps) return { finding: 'investigate', why: `its Gaussian-family f-DP reading ${gdp.toFixed(2)} is above the accountant's ε ${eps.toFixed(2)} (not proof of a bug: it assumes a Gaussian trade-off curve)` };
  return { finding: 'consistent', why: 'consistent with the claim' };
}
