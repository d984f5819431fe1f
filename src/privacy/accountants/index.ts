/**
 * The accountant interface and registry. An accountant turns the history of a DP-SGD training — segments
 * of identical Poisson-subsampled Gaussian steps (noise multiplier σ, sample rate q, number of steps) —
 * into an ε at a given δ. Histories are plain JSON: a run's model card records its history
 * (`privacy.history`, src/train/records.ts), so any reader can recompute the claim with `epsilon(history,
 * delta)`. Checkpoints do not hold one: a resumed run rebuilds its ledger from the plan in run.json.
 *
 *   rdp  Rényi DP (accountants/rdp.ts): Mironov, Talwar & Zhang 2019 + Balle et al. 2020 Thm. 21.
 *   prv  privacy random variables (accountants/prv.ts): Gopi, Lee & Wutschitz, NeurIPS 2021.
 */
import { DEFAULT_ORDERS, rdpSubsampledGaussian, rdpToEpsilon } from './rdp.js';
import { prvEpsilon } from './prv.js';

export interface MechanismSegment {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
}

export interface AccountantResult {
  epsilon: number;
  /** RDP: the optimal order; null for accountants without orders. */
  order: number | null;
  /** RDP: the optimum lies at the first or last order of the grid (the bound may be loose). */
  atGridEdge: boolean;
  /** PRV: the numerical estimate and its certified lower bound (epsilon is the certified upper bound). */
  estimate?: number;
  lower?: number;
}

export type AccountantName = 'rdp' | 'prv';
export const ACCOUNTANTS: readonly AccountantName[] = ['rdp', 'prv'];

export interface Accountant {
  readonly name: AccountantName;
  /** A human description with the citation, for model cards and reports. */
  readonly description: string;
  epsilon(history: readonly MechanismSegment[], delta: number): AccountantResult;
}

const rdp: Accountant = {
  name: 'rdp',
  description: 'Renyi DP of the Poisson-subsampled Gaussian (Mironov, Talwar & Zhang 2019), converted with Balle et al. 2020 Thm. 21, orders 1.1..10.9, 12..63',
  epsilon(history, delta) {
    const total = new Array<number>(DEFAULT_ORDERS.length).fill(0);
    for (const s of history) {
      if (s.steps === 0) continue;
      rdpSubsampledGaussian(s).forEach((v, i) => (total[i]! += v));
    }
    const r = rdpToEpsilon(total, DEFAULT_ORDERS, delta);
    return { epsilon: r.epsilon, order: r.order, atGridEdge: r.atGridEdge };
  },
};

const prv: Accountant = {
  name: 'prv',
  description: 'privacy random variables of the Poisson-subsampled Gaussian, composed numerically by FFT (Gopi, Lee & Wutschitz 2021); epsilon is the certified upper bound',
  epsilon(history, delta) {
    const r = prvEpsilon(history, delta);
    return { epsilon: r.upper, order: null, atGridEdge: false, estimate: r.estimate, lower: r.lower };
  },
};

const registry = new Map<AccountantName, Accountant>([
  ['rdp', rdp],
  ['prv', prv],
]);

export function accountant(name: string): Accountant {
  const a = registry.get(name as AccountantName);
  if (!a) throw new Error(`internal error: unknown accountant ${name}`);
  return a;
}
