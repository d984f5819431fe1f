/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism.
 *
 * Mechanism: each step adds N(0, σ²C²) to a sum of per-unit contributions clipped to norm C, over a batch
 * in which every privacy unit is included independently with probability q. Noise multiplier σ.
 *
 * RDP of one step at order α (Mironov, Talwar & Zhang, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism", 2019): ε(α) = log(A_α) / (α − 1), with
 *   integer α (Sec. 3.3, Eq. for A_α as a binomial sum):
 *     A_α = Σ_{k=0..α} C(α, k) (1 − q)^(α−k) q^k exp((k² − k) / (2σ²))
 *   fractional α (Sec. 3.3, the two-series form), z0 = σ² log(1/q − 1) + 1/2:
 *     A_α = Σ_{i≥0} C(α, i) q^i (1 − q)^(α−i) exp((i² − i)/(2σ²)) · ½ erfc((i − z0) / (√2 σ))
 *         + Σ_{i≥0} C(α, i) q^(α−i) (1 − q)^i exp(((α−i)² − (α−i))/(2σ²)) · ½ erfc((z0 − (α − i)) / (√2 σ))
 *     where C(α, i) is the generalised binomial coefficient (its sign alternates once i > α); the series
 *     are summed until both terms fall below e^−30 relative to nothing (absolute, in log space).
 *   q = 1 (no subsampling): ε(α) = α / (2σ²).
 * RDP composes additively over T steps: ε_T(α) = T · ε(α).
 *
 * Conversion to (ε, δ)-DP (Balle, Barthe, Gaboardi, Hsu & Sato, "Hypothesis Testing Interpretations and
 * Renyi Differential Privacy", AISTATS 2020, Thm. 21):
 *   ε = min_α [ ε_T(α) + log((α − 1)/α) − (log δ + log α) / (α − 1) ]
 * Orders: 1.1, 1.2, ..., 10.9, then 12, 13, ..., 63 (the grid the established Python libraries use).
 * Reference values: test/fixtures/rdp.json.
 */
import { logErfc } from '../../core/special.js';

export const DEFAULT_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, i) => Math.round((1.1 + i * 0.1) * 10) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
];

/** log(exp(a) + exp(b)) without overflow. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** log(exp(a) − exp(b)), a ≥ b. */
function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a < b) throw new Error('internal error: logSub of a smaller number');
  if (a === b) return -Infinity;
  return a + Math.log(-Math.expm1(b - a));
}

/** log Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; Press et al., Numerical Recipes 3rd ed. §6.1). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log |C(α, i)| and its sign, for real α > 0 and integer i ≥ 0 (generalised binomial coefficient). */
function logBinom(alpha: number, i: number): { log: number; sign: 1 | -1 } {
  if (Number.isInteger(alpha) && i > alpha) return { log: -Infinity, sign: 1 };
  // C(α, i) = Π_{j<i} (α − j) / i!; for non-integer α the factors α − j turn negative once j > α.
  let log = 0;
  let sign: 1 | -1 = 1;
  for (let j = 0; j < i; j++) {
    const f = alpha - j;
    log += Math.log(Math.abs(f));
    if (f < 0) sign = sign === 1 ? -1 : 1;
  }
  return { log: log - logGamma(i + 1), sign };
}

/** log erfc(x) (src/core/special.ts), re-exported for this module's tests. */
export { logErfc };

/** log A_α for one step (see the header). */
function logA(q: number, sigma: number, alpha: number): number {
  if (Number.isInteger(alpha)) {
    let acc = -Infinity;
    for (let k = 0; k <= alpha; k++) {
      const b = logBinom(alpha, k);
      const t = b.log + k * Math.log(q) + (alpha - k) * Math.log1p(-q) + (k * k - k) / (2 * sigma * sigma);
      acc = logAdd(acc, t);
    }
    return acc;
  }
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let a0 = -Infinity;
  let a1 = -Infinity;
  for (let i = 0; i < 10_000; i++) {
    const b = logBinom(alpha, i);
    const j = alpha - i;
    const s0 = b.log + i * Math.log(q) + j * Math.log1p(-q) + (i * i - i) / (2 * sigma * sigma) + Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const s1 = b.log + j * Math.log(q) + i * Math.log1p(-q) + (j * j - j) / (2 * sigma * sigma) + Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    if (b.sign > 0) {
      a0 = logAdd(a0, s0);
      a1 = logAdd(a1, s1);
    } else {
      a0 = logSub(a0, s0);
      a1 = logSub(a1, s1);
    }
    if (Math.max(s0, s1) < -30) break;
  }
  return logAdd(a0, a1);
}

/** RDP ε(α) of T steps of the subsampled Gaussian mechanism, for each order. */
export function rdpSubsampledGaussian(opts: { sampleRate: number; noiseMultiplier: number; steps: number; orders?: readonly number[] }): number[] {
  const { sampleRate: q, noiseMultiplier: sigma, steps } = opts;
  const orders = opts.orders ?? DEFAULT_ORDERS;
  return orders.map((alpha) => {
    if (q === 0) return 0;
    if (sigma === 0) return Infinity;
    const perStep = q === 1 ? alpha / (2 * sigma * sigma) : logA(q, sigma, alpha) / (alpha - 1);
    return perStep * steps;
  });
}

export interface EpsilonResult {
  epsilon: number;
  /** The order at which the minimum was attained. */
  order: number;
  /** True when that order is the first or last of the grid (the grid may be too narrow). */
  atGridEdge: boolean;
}

/** (ε, δ) from RDP values (Balle et al. 2020, Thm. 21), minimised over the orders. */
export function rdpToEpsilon(rdp: readonly number[], orders: readonly number[], delta: number): EpsilonResult {
  let best = { epsilon: Infinity, order: orders[0]!, index: 0 };
  orders.forEach((a, i) => {
    const eps = rdp[i]! + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: a, index: i };
  });
  return { epsilon: Math.max(0, best.epsilon), order: best.order, atGridEdge: best.index === 0 || best.index === orders.length - 1 };
}
