/**
 * The privacy ledger of one DP-SGD training: a fixed (σ, q) per step, δ, and an accountant. It answers
 * "what is ε after t steps" cheaply enough to show in progress output, and "how many steps fit in a
 * budget" for stopping before the budget would be exceeded.
 *
 * RDP composes linearly (ε_t(α) = t · ε_1(α), Mironov 2017 Prop. 1), so the per-step RDP vector is computed
 * once and every ε(t) is one minimisation over the orders. PRV results are memoised per t.
 */
import { accountant, type AccountantName, type AccountantResult, type MechanismSegment } from './accountants/index.js';
import { DEFAULT_ORDERS, rdpSubsampledGaussian, rdpToEpsilon } from './accountants/rdp.js';

export class PrivacyLedger {
  private readonly perStepRdp: number[] | null;
  private readonly memo = new Map<number, AccountantResult>();

  constructor(
    readonly accountantName: AccountantName,
    readonly noiseMultiplier: number,
    readonly sampleRate: number,
    readonly delta: number,
  ) {
    this.perStepRdp = accountantName === 'rdp' ? rdpSubsampledGaussian({ sampleRate, noiseMultiplier, steps: 1 }) : null;
  }

  history(steps: number): MechanismSegment[] {
    return [{ noiseMultiplier: this.noiseMultiplier, sampleRate: this.sampleRate, steps }];
  }

  /** (ε, δ) after `steps` steps; ε = 0 before the first. */
  epsilon(steps: number): AccountantResult {
    if (steps <= 0) return { epsilon: 0, order: null, atGridEdge: false };
    const hit = this.memo.get(steps);
    if (hit) return hit;
    let r: AccountantResult;
    if (this.perStepRdp) {
      const e = rdpToEpsilon(this.perStepRdp.map((v) => v * steps), DEFAULT_ORDERS, this.delta);
      r = { epsilon: e.epsilon, order: e.order, atGridEdge: e.atGridEdge };
    } else {
      r = accountant(this.accountantName).epsilon(this.history(steps), this.delta);
    }
    if (this.memo.size > 4096) this.memo.clear();
    this.memo.set(steps, r);
    return r;
  }

  /** The largest t ≤ upTo with ε(t) ≤ target (ε grows with t, so a bisection finds it). */
  maxStepsWithin(target: number, upTo: number): number {
    if (this.epsilon(upTo).epsilon <= target) return upTo;
    let lo = 0; // ε(lo) ≤ target
    let hi = upTo; // ε(hi) > target
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.epsilon(mid).epsilon <= target) lo = mid;
      else hi = mid;
    }
    return lo;
  }
}
