/**
 * Privacy-random-variable (PRV) accountant for DP-SGD: the (ε, δ) of a composition of Poisson-subsampled
 * Gaussian steps, computed numerically with certified error bounds.
 *
 * METHOD. Gopi, Lee & Wutschitz, "Numerical Composition of Differential Privacy", NeurIPS 2021
 * (arXiv:2106.02848): a privacy curve is δ(ε) = E[(1 − e^{ε−Y})₊] for its privacy random variable Y, and the
 * PRV of a composition is the sum of the independent PRVs of its parts (the paper's PRV definition and
 * composition theorem); the sum is computed numerically by the paper's Algorithm 1 (discretise each PRV on a
 * uniform grid with a mean-preserving shift, truncate, add by FFT), and bounded by the paper's error analysis
 * (couple the true and the discretised sums, bound their gap with Hoeffding's inequality, charge the failure
 * probability to δ). Section and theorem numbers of the paper are not quoted here because they could not be
 * checked against the text when this was written; instead the whole bound is derived below, so it can be
 * checked without the paper.
 *
 * MECHANISM. Each step adds N(0, σ²C²) to a sum of per-unit contributions clipped to norm C, over a batch that
 * contains each privacy unit independently with probability q (sample rate), σ = noise multiplier. In units of
 * C the worst-case pair of output distributions for one unit is
 *   P = (1 − q)·N(0, σ²) + q·N(1, σ²)    (the unit present),     Q = N(0, σ²)    (the unit absent).
 *
 * PRIVACY LOSS. L(ω) = log(P(ω)/Q(ω)) = log(1 − q + q·exp((2ω − 1)/(2σ²))), increasing in ω, with inverse
 *   t(y) = σ²·log((e^y − (1 − q))/q) + 1/2      for y > log(1 − q)   (t(y) = σ²y + 1/2 when q = 1).
 *
 * BOTH DIRECTIONS (add/remove neighbours). (ε, δ)-DP for add/remove neighbours needs both
 * δ_{P^T‖Q^T}(ε) ≤ δ and δ_{Q^T‖P^T}(ε) ≤ δ for the T composed steps (one neighbouring pair of datasets for the
 * whole run: the unit is in the dataset at every step or at none, so each direction is composed with itself,
 * never mixed). Their PRVs:
 *   remove: Y  = L(ω),  ω ~ P;  CDF F(y)  = (1 − q)·Φ(t(y)/σ) + q·Φ((t(y) − 1)/σ)     (y > log(1 − q); else 0)
 *   add:    Y' = −L(ω), ω ~ Q;  CDF F'(y) = Φ̄(t(−y)/σ)                              (y < −log(1 − q); else 1)
 * with Φ the standard normal CDF and Φ̄ = 1 − Φ. DECISION: both composed curves are computed and lower,
 * estimate and upper are each the MAXIMUM over the two directions, so the add/remove claim does not rest on
 * one direction dominating the other. Numerically (test/fixtures/prv.json, "directions" and "single_step",
 * checked against exact and characteristic-function references) the remove direction was the larger in every
 * case tried, often by far (σ 0.6, q 0.01, 1000 steps, δ 1e-5: remove 7.43, add 3.18); the RDP accountant
 * (rdp.ts) likewise accounts the remove pair (its A_α is E_Q[(P/Q)^α]), which Mironov, Talwar & Zhang 2019
 * argue is the worse one. The add direction costs one more CDF table and one more power per segment (it shares
 * the FFTs), so it is kept. prv_accountant and Opacus compute the remove direction only; where removal
 * dominates, as in every case tried, their ε and ours agree up to discretisation.
 * For q = 1 both PRVs are N(μ²/2, μ²), μ = 1/σ; T steps are the Gaussian mechanism with μ = √T/σ, whose curve
 * is δ(ε) = Φ(−ε/μ + μ/2) − e^ε·Φ(−ε/μ − μ/2) (Balle & Wang, ICML 2018, Thm. 8).
 *
 * ALGORITHM (k = Σ steps over the history; δ slack η = δ·10⁻⁴, ten times smaller than prv_accountant's
 * δ/1000, so that the δ part of the bracket stays small next to epsError even for ε of tens).
 * 1. Window. Per direction, Chernoff bounds on the composed PRV: P[Y ≥ b] ≤ exp(K(λ) − λb) and
 *    P[Y ≤ a] ≤ exp(K(−λ) + λa), λ on the grid 2^(i/2), i = −8..16, K = Σ_s T_s·K_s. The per-step log-MGFs are
 *    J(c) = log E_{ω~N(0,σ²)}[exp(c·L(ω))] (trapezoid rule in ω, spectrally accurate for this analytic,
 *    Gaussian-weighted integrand): remove K(λ) = J(1 + λ) (change of measure E_P[g] = E_Q[e^L·g]), add
 *    K(λ) = J(−λ). Each tail gets η_W/2, so the composed PRV lies in [a, b] but for η_W.
 * 2. Mesh. Hoeffding: k independent zero-mean errors, each in an interval of width h, sum to t or more in
 *    absolute value with probability ≤ 2·exp(−2t²/(k·h²)); so t = h·m with m = min(k, √(k/2 · log(2/η_H)))
 *    (m = k is the deterministic bound, used when smaller; then η_H = 0). The target is t = epsError/2, so
 *    upper − lower = 2t + (ε̃(δ − η) − ε̃(δ + η)) ≈ epsError (prv_accountant's eps_error is this t, half the
 *    width). The grid has N = 2^n ≥ (b − a)/h + 2m + 4 points, 2^16 ≤ N ≤ 2^22; h is then shrunk to fill N,
 *    which only tightens t (with the 2^16 floor, short histories get brackets far narrower than epsError). If
 *    the cap binds (ε in the hundreds, or very many steps), h and t grow and the bracket is wider than
 *    epsError, still valid.
 * 3. Discretise each step's PRV (the cell-centred rounding of Algorithm 1): clamp Y to [y_lo, y_hi] with each
 *    tail ≤ τ = η_C/(2k) (via Mills' Φ̄(u) ≤ φ(u)/u), round to the nearest grid point jh: bin j gets
 *    F((j + ½)h) − F((j − ½)h), the clamped tails go to the end bins. Below a switch point near the median F
 *    is differenced, above it 1 − F, each evaluated in relative precision, so far-tail masses are accurate. Mean-preserving
 *    shift s = E[Y] − Σ_j jh·p_j (E[Y] is the KL divergence, by the same quadrature); Ỹ = Ŷ + s, so
 *    Z = Y − Ỹ has mean 0 (up to the clamped tails' ≤ τ-sized share) and lies in an interval of width h.
 * 4. Compose by FFT: the circular convolution of the per-step PMFs modulo N is the inverse transform of
 *    Π_s (FFT p_s)^{T_s}, the powers taken in polar form; both directions share one complex FFT (remove PMF in
 *    the real part, add PMF in the imaginary part, separated by Hermitian symmetry). The result is the exact
 *    law of ΣŶ_i modulo Nh, read in the window [a − Σs − t, b − Σs + t] and offset by Σs.
 * 5. δ and ε: δ̃(ε) = Σ_j p̃_j·(1 − e^{ε − y_j})₊ from suffix sums A_r = Σ_{j>r} p̃_j and
 *    E_r = Σ_{j>r} p̃_j·e^{−(y_j − y_r)}: δ̃(y_r) = A_r − E_r on the grid, and exactly A_r − e^{ε−y_r}·E_r
 *    between y_r and y_{r+1}. ε̃(δ') = inf{ε ≥ 0 : δ̃(ε) ≤ δ'} by bisection on the grid index (δ̃ is
 *    non-increasing), then in closed form inside the cell.
 *
 * THE BOUND. Let G be the event: no clamping, |ΣZ_i| < t, and ΣŶ_i inside the window. On G, |Y − Ỹ| < t and
 * the composed PMF places Ỹ correctly; P[not G] ≤ η_C + η_H + η_W, and the arithmetic moves δ̃ by at most η_fp
 * (below); η = η_C + η_H + η_W + η_fp. For f_ε(y) = (1 − e^{ε−y})₊, which lies in [0, 1] and increases in y:
 *   δ_Y(ε) ≤ δ̃(ε − t) + η        and        δ_Y(ε) ≥ δ̃(ε + t) − η
 * (the mass the circular convolution aliases off G enters δ̃ with a non-negative weight and is at most
 * P[not G]). Hence, per direction,
 *   upper = ε̃(δ − η) + t,   estimate = ε̃(δ),   lower = max(0, ε̃(δ + η) − t),
 * and lower ≤ true ε(δ) ≤ upper. Budget: η_H = 0.75η, η_W = 0.1η, η_C = 0.05η, η_fp = 0.1η or more.
 * η_fp covers the arithmetic: (a) the normal CDF is evaluated with absolute error ≤ 1.2e-16 (budgeted 1e-15;
 * Chebyshev interpolants of erfcx on [0, 16) fitted at load time to its Taylor series and continued fraction,
 * asymptotic series beyond); an error ΔF in one step's law moves δ̃ by |∫ g d(μ̂ − μ)| = |∫ ΔF dg| ≤ sup|ΔF|,
 * g ∈ [0, 1] being the monotone δ test function convolved with the other steps, so k·1e-15 in all (and the
 * mean shifts by ≤ k·1e-15·support width, added to t); (b) FFT round-off, estimated a posteriori (forward
 * error ~u·log2 N·‖p‖₂ per frequency propagated through the powers, plus the inverse transform's, times 10,
 * plus any negative values in the result) — an estimate, not a bound, ~1e-12 or less in ordinary use. If
 * η_fp exceeds its share, the δ slack grows with it. Outside the proof: the trapezoid quadratures for E[Y]
 * and J (spectrally accurate, errors far below 1e-12 here).
 *
 * INPUT CONTRACT. history: segments {noiseMultiplier σ finite > 0, sampleRate q ∈ [0, 1], steps T whole ≥ 0};
 * segments with q = 0 or T = 0 add nothing (ε = 0 if all do); segments with equal (σ, q) are merged.
 * delta ∈ (0, 1). opts.epsError > 0 (default 0.01, as prv_accountant and Opacus). Impossible inputs throw
 * PrivacyAssumptionError with a one-line message naming the option (--sample-rate, --noise-multiplier,
 * --steps, --delta). Pure functions on plain numbers, no I/O (the FFT tables and work arrays of the last grid
 * size are cached).
 *
 * OUTPUT. estimate: the numerical ε at δ, without error correction; lower / upper: certified bounds on the
 * true ε at δ; each the maximum over the remove and add directions. The accountant registry
 * (accountants/index.ts) reports upper as the ε of record, as Opacus's PRVAccountant.get_epsilon does.
 * Cost: σ 1.1, q 256/60000, 14062 steps (N = 2^20) takes about 0.2–0.3 s. Reference values:
 * test/fixtures/prv.json (generator test/fixtures/generators/prv_oracle.py).
 */
import { PrivacyAssumptionError } from '../../core/errors.js';
import { fftForward, fftInverse } from './fft.js';
import { erfSeries } from '../../core/special.js';

export interface PrvSegment {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
}

export interface PrvEpsilon {
  estimate: number;
  lower: number;
  upper: number;
}

export interface PrvReport {
  /** The claim for add/remove neighbours: the maximum of the two directions, entry by entry. */
  epsilon: PrvEpsilon;
  /** δ(P^T‖Q^T): the unit's data is removed (P = with the unit). */
  remove: PrvEpsilon;
  /** δ(Q^T‖P^T): the unit's data is added. */
  add: PrvEpsilon;
  /** Grid spacing h, FFT size N, ε slack t and the δ slack η used in each direction. */
  mesh: number;
  gridSize: number;
  epsilonSlack: number;
  deltaSlack: { remove: number; add: number };
}

const DEFAULT_EPS_ERROR = 0.01;
const MIN_LOG2_N = 16;
const MAX_LOG2_N = 22;
const U = 2 ** -53;
/**
 * Budgeted absolute error of the normal CDF at the bin edges (measured ≤ 1.2e-16 against 50-digit values on
 * [−9, 9], see the tests). Errors in t(y) only move the bin edges by ~1e-15·|y|, far below the mesh.
 */
const CDF_ABS_ERR = 1e-15;

/**
 * ε at δ for the history under add/remove neighbours: { estimate, lower, upper } with lower ≤ true ε ≤ upper
 * and upper − lower ≈ opts.epsError (default 0.01). See the file header.
 */
export function prvEpsilon(history: readonly PrvSegment[], delta: number, opts?: { epsError?: number }): PrvEpsilon {
  try {
    return prvReport(history, delta, opts).epsilon;
  } catch (err) {
    // So little noise that the privacy loss's moment generating function overflows for every λ of the
    // window search: no finite bound from this accountant. ε = ∞ is the honest upper bound (and lets a
    // noise calibration move on to larger σ); 0 is a valid lower bound.
    if (err instanceof NoChernoffBound) return { estimate: Infinity, lower: 0, upper: Infinity };
    throw err;
  }
}

class NoChernoffBound extends Error {}

// ---------------------------------------------------------------------------------------------------------
// The normal distribution, in relative precision in both tails.

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * erfcx(x) = e^{x²}·erfc(x), x ≥ 0, slowly and accurately (to a few units in the last place): below 0.5 the
 * Taylor series of erf (1 − erf ≥ 0.47 there, no cancellation); above, the continued fraction
 * erfc(x) = e^{−x²}/√π · 1/K, K = x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))), evaluated backwards from
 * depth 100 + 400/x² (the backward recurrence damps round-off; at x = 0.5 it has converged to double
 * precision by depth 800, at x = 1 by 200).
 */
function erfcxReference(x: number): number {
  if (x < 0.5) return Math.exp(x * x) * (1 - erfSeries(x));
  let t = x;
  for (let k = Math.ceil(100 + 400 / (x * x)); k >= 1; k--) t = x + k / 2 / t;
  return 1 / (SQRT_PI * t);
}

/** a·b as an unevaluated sum hi + lo (Dekker's product, Veltkamp's split). */
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  const split = (v: number): [number, number] => {
    const c = 134217729 * v;
    const hi = c - (c - v);
    return [hi, v - hi];
  };
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

const ERFCX_PIECE = 0.5;
const ERFCX_DEGREE = 16;
const ERFCX_CHEB_END = 16;

/**
 * Chebyshev coefficients of erfcx on [i/2, (i+1)/2), i < 32, from its values at the ERFCX_DEGREE Chebyshev
 * points: c_j = (2/n)·Σ_k f_k·cos(πj(2k+1)/(2n)), with the cosines reduced exactly to the first quadrant and
 * the sums accumulated in double-double, so the coefficients carry no more than the values' own round-off
 * (a plain double sum leaves ~3e-15 of noise at the interval ends).
 */
const ERFCX_COEFFS: Float64Array = (() => {
  const n = ERFCX_DEGREE;
  // cosTab[m] = cos(πm/(2n)), m < 4n.
  const cosTab = new Float64Array(4 * n);
  for (let m = 0; m <= n; m++) cosTab[m] = 2 * m <= n ? Math.cos((Math.PI * m) / (2 * n)) : Math.sin((Math.PI * (n - m)) / (2 * n));
  for (let m = n + 1; m < 4 * n; m++) {
    if (m <= 2 * n) cosTab[m] = -cosTab[2 * n - m]!;
    else if (m <= 3 * n) cosTab[m] = -cosTab[m - 2 * n]!;
    else cosTab[m] = cosTab[4 * n - m]!;
  }
  const pieces = ERFCX_CHEB_END / ERFCX_PIECE;
  const out = new Float64Array(pieces * n);
  const f = new Float64Array(n);
  for (let p = 0; p < pieces; p++) {
    const mid = (p + 0.5) * ERFCX_PIECE;
    for (let k = 0; k < n; k++) f[k] = erfcxReference(mid + (ERFCX_PIECE / 2) * cosTab[2 * k + 1]!);
    for (let j = 0; j < n; j++) {
      let hi = 0;
      let lo = 0;
      for (let k = 0; k < n; k++) {
        const [ph, pl] = twoProduct(f[k]!, cosTab[(j * (2 * k + 1)) % (4 * n)]!);
        const s = hi + ph;
        const bb = s - hi;
        lo += hi - (s - bb) + (ph - bb) + pl;
        hi = s;
      }
      out[p * n + j] = ((j === 0 ? 1 : 2) / n) * (hi + lo);
    }
  }
  return out;
})();

/** erfcx(x) = e^{x²}·erfc(x) for x ≥ 0 (relative error ~1e-14). */
function erfcx(x: number): number {
  if (x < ERFCX_CHEB_END) {
    const p = Math.floor(x / ERFCX_PIECE);
    const s = 2 * (x / ERFCX_PIECE - p) - 1;
    const base = p * ERFCX_DEGREE;
    let b1 = 0;
    let b2 = 0;
    for (let j = ERFCX_DEGREE - 1; j >= 1; j--) {
      const b = 2 * s * b1 - b2 + ERFCX_COEFFS[base + j]!;
      b2 = b1;
      b1 = b;
    }
    return s * b1 - b2 + ERFCX_COEFFS[base]!;
  }
  if (x === Infinity) return 0;
  // erfcx(x) ~ 1/(x√π) · Σ_n (−1)^n (2n − 1)!! / (2x²)^n; at x ≥ 16 the terms fall below 1e-17 by n = 8.
  const r = 1 / (2 * x * x);
  let term = 1;
  let sum = 1;
  for (let n = 1; n < 30; n++) {
    term *= -(2 * n - 1) * r;
    sum += term;
    if (Math.abs(term) < 1e-17) break;
  }
  return sum / (x * SQRT_PI);
}

/** Φ̄(u) = P[N(0, 1) > u], relative precision in the upper tail. */
export function normalSf(u: number): number {
  if (u >= 0) return 0.5 * erfcx(u / Math.SQRT2) * Math.exp(-0.5 * u * u);
  if (u === -Infinity) return 1;
  return 1 - 0.5 * erfcx(-u / Math.SQRT2) * Math.exp(-0.5 * u * u);
}

/** Φ(u) = P[N(0, 1) ≤ u], relative precision in the lower tail. */
function normalCdf(u: number): number {
  return normalSf(-u);
}

// ---------------------------------------------------------------------------------------------------------
// One step's privacy loss.

/** L(ω) = log(1 − q + q·e^z), z = (2ω − 1)/(2σ²). */
function loss(omega: number, q: number, sigma: number): number {
  const z = (2 * omega - 1) / (2 * sigma * sigma);
  if (q === 1) return z;
  if (z > 0) return z + Math.log(q) + Math.log1p(((1 - q) / q) * Math.exp(-z));
  return Math.log1p(q * Math.expm1(z));
}

/** t(y) = L⁻¹(y) = σ²·log((e^y − (1 − q))/q) + 1/2, written via d = y − log(1 − q) to avoid cancellation. */
function lossInverse(y: number, q: number, sigma: number, y0: number): number {
  if (q === 1) return sigma * sigma * y + 0.5;
  const d = y - y0;
  if (!(d > 0)) return -Infinity;
  if (d === Infinity) return Infinity;
  // e^y − (1 − q) = (1 − q)·expm1(d)
  const logExpm1 = d > 30 ? d + Math.log1p(-Math.exp(-d)) : Math.log(Math.expm1(d));
  return sigma * sigma * (y0 - Math.log(q) + logExpm1) + 0.5;
}

type Direction = 'remove' | 'add';

interface StepLaw {
  q: number;
  sigma: number;
  steps: number;
  /** E[Y] per direction (the KL divergences KL(P‖Q), KL(Q‖P)). */
  mean: Record<Direction, number>;
  /** log E[e^{λY}] at ±λ for λ in LAMBDAS (NaN where not computed). */
  logMgfPos: Record<Direction, Float64Array>;
  logMgfNeg: Record<Direction, Float64Array>;
}

/** λ grid for the Chernoff bounds: 2^(i/2), i = −8..16. */
const LAMBDAS: readonly number[] = Array.from({ length: 25 }, (_, i) => 2 ** ((i - 8) / 2));
/** Quadrature nodes per integral beyond which a λ is skipped (any subset of λ gives a valid bound). */
const MAX_QUAD_NODES = 40_000;

function quadStep(sigma: number): number {
  // The loss is analytic in a strip |Im ω| < πσ² (|Im x| < πσ in x = ω/σ); σ/4 keeps the trapezoid error
  // ~ exp(−2π·(πσ/2)/(σ/4)) = e^{−4π²}, and 1/4 resolves the Gaussian weight to e^{−2π²·16}.
  return Math.min(0.25, sigma / 4);
}

/** J(c) = log E_{ω~N(0,σ²)}[exp(c·L(ω))], trapezoid rule in x = ω/σ, in log space. NaN if too costly. */
function logMgfUnderQ(c: number, q: number, sigma: number): number {
  if (c === 0 || c === 1) return 0; // E_Q[1] = 1, E_Q[P/Q] = 1
  const dx = quadStep(sigma);
  const a = Math.min(0, c / sigma) - 12;
  const b = Math.max(0, c / sigma) + 12;
  const n = Math.ceil((b - a) / dx) + 1;
  if (n > MAX_QUAD_NODES) return NaN;
  const v = new Float64Array(n);
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = a + i * dx;
    const e = -0.5 * x * x + c * loss(sigma * x, q, sigma);
    v[i] = e;
    if (e > mx) mx = e;
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(v[i]! - mx);
  return mx + Math.log((s * dx) / Math.sqrt(2 * Math.PI));
}

/** E_{ω~N(m,σ²)}[L(ω)], trapezoid rule. */
function meanLoss(m: number, q: number, sigma: number): number {
  const dx = quadStep(sigma);
  const n = Math.ceil(24 / dx) + 1;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = -12 + i * dx;
    s += Math.exp(-0.5 * x * x) * loss(m + sigma * x, q, sigma);
  }
  return (s * dx) / Math.sqrt(2 * Math.PI);
}

function stepLaw(q: number, sigma: number, steps: number): StepLaw {
  const e0 = meanLoss(0, q, sigma);
  const e1 = q === 1 ? 1 / (2 * sigma * sigma) : meanLoss(1, q, sigma);
  const mean = { remove: (1 - q) * e0 + q * e1, add: -e0 };
  const mk = () => new Float64Array(LAMBDAS.length);
  const law: StepLaw = {
    q,
    sigma,
    steps,
    mean,
    logMgfPos: { remove: mk(), add: mk() },
    logMgfNeg: { remove: mk(), add: mk() },
  };
  LAMBDAS.forEach((lam, i) => {
    law.logMgfPos.remove[i] = logMgfUnderQ(1 + lam, q, sigma);
    law.logMgfNeg.remove[i] = logMgfUnderQ(1 - lam, q, sigma);
    law.logMgfPos.add[i] = logMgfUnderQ(-lam, q, sigma);
    law.logMgfNeg.add[i] = logMgfUnderQ(lam, q, sigma);
  });
  return law;
}

/** Chernoff window [a, b] with P[Y < a], P[Y > b] ≤ tailEach for the composed PRV of one direction. */
function chernoffWindow(laws: readonly StepLaw[], dir: Direction, tailEach: number): { lo: number; hi: number } {
  const logInv = Math.log(1 / tailEach);
  let hi = Infinity;
  let lo = -Infinity;
  LAMBDAS.forEach((lam, i) => {
    let kPos = 0;
    let kNeg = 0;
    for (const s of laws) {
      kPos += s.steps * s.logMgfPos[dir][i]!;
      kNeg += s.steps * s.logMgfNeg[dir][i]!;
    }
    // A little slack for the quadrature's round-off.
    if (Number.isFinite(kPos)) hi = Math.min(hi, (kPos + 1e-9 * (1 + Math.abs(kPos)) + logInv) / lam);
    if (Number.isFinite(kNeg)) lo = Math.max(lo, -(kNeg + 1e-9 * (1 + Math.abs(kNeg)) + logInv) / lam);
  });
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) throw new NoChernoffBound('PRV accountant found no Chernoff bound for the domain');
  return { lo, hi };
}

interface Discretised {
  /** Grid index of pmf[0]: pmf[i] is the mass at (jLo + i)·h. */
  jLo: number;
  pmf: Float64Array;
  /** Mean-preserving shift s = E[Y] − Σ jh·p_j. */
  shift: number;
}

/**
 * A u > 0 with Φ̄(u) ≤ tau (0 < tau < 1/2), from Mills' inequality Φ̄(u) ≤ φ(u)/u: the fixed point of
 * u = √(−2·log(tau·u·√(2π))), started from the Chernoff value √(2·log(1/(2·tau))) (where Φ̄ ≤ e^{−u²/2}/2 ≤ tau
 * already holds) and kept only where the inequality is checked to hold.
 */
function normalTailQuantile(tau: number): number {
  let u = Math.sqrt(2 * Math.log(1 / (2 * tau)));
  const mills = (v: number) => Math.exp(-0.5 * v * v) / (v * Math.sqrt(2 * Math.PI));
  for (let i = 0; i < 20; i++) {
    const arg = tau * u * Math.sqrt(2 * Math.PI);
    if (!(arg < 1)) break;
    const next = Math.sqrt(-2 * Math.log(arg)) * (1 + 1e-12);
    if (!(next < u) || !(mills(next) <= tau)) break;
    u = next;
  }
  return u;
}

/** Cell-centred discretisation of one step's PRV with tails ≤ tau clamped into the end bins. */
function discretise(law: StepLaw, dir: Direction, h: number, tau: number): Discretised {
  const { q, sigma } = law;
  const y0 = q === 1 ? -Infinity : Math.log1p(-q);
  // Tails beyond y_lo / y_hi have mass ≤ tau: Φ̄(u) ≤ tau at u = normalTailQuantile(tau).
  const u = normalTailQuantile(tau);
  let yLo: number;
  let yHi: number;
  if (dir === 'remove') {
    yLo = loss(-sigma * u, q, sigma); // F(y) ≤ Φ(t/σ)
    yHi = loss(1 + sigma * u, q, sigma); // 1 − F(y) ≤ Φ̄((t − 1)/σ)
  } else {
    yLo = -loss(sigma * u, q, sigma);
    yHi = -loss(-sigma * u, q, sigma);
  }
  const jLo = Math.floor(yLo / h + 0.5);
  const jHi = Math.max(jLo, Math.ceil(yHi / h - 0.5));
  const n = jHi - jLo + 1;
  const pmf = new Float64Array(n);
  if (n === 1) {
    pmf[0] = 1;
  } else {
    // Edge i sits between bins i and i + 1, at (jLo + i + ½)h. Below the switch we store F, above it 1 − F.
    const g = new Float64Array(n - 1);
    let sw = n - 1;
    for (let i = 0; i < n - 1; i++) {
      const y = (jLo + i + 0.5) * h;
      if (dir === 'remove') {
        const t = lossInverse(y, q, sigma, y0);
        const useLower = t < 0.5;
        if (!useLower && sw === n - 1) sw = i;
        if (useLower) g[i] = (1 - q) * normalCdf(t / sigma) + q * normalCdf((t - 1) / sigma);
        else g[i] = (1 - q) * normalSf(t / sigma) + q * normalSf((t - 1) / sigma);
      } else {
        const t = lossInverse(-y, q, sigma, y0);
        const useLower = t >= 0;
        if (!useLower && sw === n - 1) sw = i;
        g[i] = useLower ? normalSf(t / sigma) : normalCdf(t / sigma);
      }
    }
    const cdf = (i: number) => (i < sw ? g[i]! : 1 - g[i]!);
    pmf[0] = cdf(0);
    for (let i = 1; i < n - 1; i++) {
      let p: number;
      if (i - 1 >= sw) p = g[i - 1]! - g[i]!;
      else if (i < sw) p = g[i]! - g[i - 1]!;
      else p = 1 - g[i]! - g[i - 1]!;
      pmf[i] = p > 0 ? p : 0;
    }
    pmf[n - 1] = n - 2 >= sw ? g[n - 2]! : 1 - g[n - 2]!;
    if (pmf[0]! < 0) pmf[0] = 0;
    if (pmf[n - 1]! < 0) pmf[n - 1] = 0;
  }
  let mass = 0;
  let moment = 0;
  for (let i = 0; i < n; i++) {
    mass += pmf[i]!;
    moment += i * pmf[i]!;
  }
  const meanHat = h * (jLo * mass + moment);
  const shift = law.mean[dir] - meanHat;
  if (!(Math.abs(shift) <= h) || Math.abs(mass - 1) > 1e-9) {
    throw new Error(`internal error: PRV discretisation is off (shift ${shift}, mesh ${h}, mass ${mass})`);
  }
  return { jLo, pmf, shift };
}

/** Scratch: |z|^T·e^{iT·arg z} for z = (re, im) is written to POW[0], POW[1]; log|z| to POW[2]. */
const POW = new Float64Array(3);

/** z^T for complex z, in polar form (0 on underflow below e^−745, i.e. when |z|² < r2Min = e^{−1490/T}). */
function complexPow(re: number, im: number, T: number, r2Min: number): void {
  const r2 = re * re + im * im;
  if (r2 < r2Min) {
    POW[0] = 0;
    POW[1] = 0;
    POW[2] = -Infinity;
    return;
  }
  const logR = 0.5 * Math.log(r2);
  POW[2] = logR;
  const logMag = T * logR;
  if (!(logMag > -745)) {
    POW[0] = 0;
    POW[1] = 0;
    return;
  }
  const mag = Math.exp(logMag);
  const ang = T * Math.atan2(im, re);
  POW[0] = mag * Math.cos(ang);
  POW[1] = mag * Math.sin(ang);
}

/** Work arrays for the last grid size (the transform buffer and the suffix sums); reused across calls. */
interface WorkArrays {
  n: number;
  buf: Float64Array;
  A: Float64Array;
  E: Float64Array;
  /** Positions (p, partner) of each frequency pair {f, N − f} in bit-reversed order, see `pairPositions`. */
  pairTable: Int32Array;
}
let scratch: WorkArrays | null = null;

function workArrays(n: number): WorkArrays {
  if (!scratch || scratch.n !== n) {
    scratch = { n, buf: new Float64Array(2 * n), A: new Float64Array(n + 1), E: new Float64Array(n + 1), pairTable: pairPositions(n) };
  }
  return scratch;
}

/**
 * ε̃(δ') for each target δ' in one direction. The composed PMF is circular: buf[2j + part]·scale, j < n,
 * is the mass at m·h + shift for the m ≡ j (mod n) in [mLo, mLo + n). Suffix sums from the top of the window,
 * A_r = Σ_{j>r} p_j and E_r = Σ_{j>r} p_j·e^{−(y_j − y_r)}, give δ̃(y_r) = A_r − E_r (non-increasing in r);
 * the scan stops once δ̃ exceeds every target, then a bisection on r finds the cell of each target and
 * δ̃(ε) = A_{r−1} − e^{ε − y_{r−1}}·E_{r−1} is solved for ε inside it.
 */
function invertDirection(
  buf: Float64Array,
  part: 0 | 1,
  scale: number,
  mLo: number,
  h: number,
  shift: number,
  targets: readonly number[],
  A: Float64Array,
  E: Float64Array,
): number[] {
  const n = buf.length >> 1;
  const dMax = Math.max(...targets);
  const decay = Math.exp(-h);
  // Index r + 1 in A, E for r = −1..n−1.
  A[n] = 0;
  E[n] = 0;
  let pos = (((mLo + n - 1) % n) + n) % n; // circular position of r + 1 = n − 1
  let rStop = -1;
  for (let r = n - 2; r >= -1; r--) {
    const v = buf[2 * pos + part]! * scale;
    const p = v > 0 ? v : 0;
    A[r + 1] = A[r + 2]! + p;
    E[r + 1] = decay * (E[r + 2]! + p);
    pos = pos === 0 ? n - 1 : pos - 1;
    if (A[r + 1]! - E[r + 1]! > dMax) {
      rStop = r;
      break;
    }
  }
  const D = (r: number) => A[r + 1]! - E[r + 1]!;
  const y = (r: number) => (mLo + r) * h + shift;
  return targets.map((target) => {
    let lo = rStop;
    let hi = n - 1;
    if (D(lo) <= target) hi = lo; // only when the scan reached r = −1 without exceeding the targets
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (D(mid) <= target) hi = mid;
      else lo = mid;
    }
    const r = hi;
    const base = Math.max(r - 1, -1);
    const num = A[base + 1]! - target;
    const den = E[base + 1]!;
    if (!(num > 0) || !(den > 0)) return r === -1 ? 0 : Math.max(0, y(base));
    let eps = y(base) + Math.log(num / den);
    if (r >= 0) eps = Math.min(Math.max(eps, y(base)), y(r));
    return Math.max(0, eps);
  });
}

function validate(history: readonly PrvSegment[], delta: number, epsError: number): void {
  for (const s of history) {
    const q = s.sampleRate;
    if (!(q >= 0 && q <= 1)) {
      throw new PrivacyAssumptionError(`--sample-rate ${q}: must be a probability in [0, 1] (Poisson sampling: batch size / dataset size)`);
    }
    if (!(s.noiseMultiplier > 0 && Number.isFinite(s.noiseMultiplier))) {
      throw new PrivacyAssumptionError(`--noise-multiplier ${s.noiseMultiplier}: must be a finite number > 0 (0 is no privacy); raise it or calibrate it with --target-epsilon`);
    }
    if (!(Number.isInteger(s.steps) && s.steps >= 0)) {
      throw new PrivacyAssumptionError(`--steps ${s.steps}: must be a whole number >= 0`);
    }
  }
  if (!(delta > 0 && delta < 1)) {
    throw new PrivacyAssumptionError(`--delta ${delta}: must be in (0, 1); use a value below 1/N for N privacy units, e.g. 1e-5`);
  }
  if (!(epsError > 0 && Number.isFinite(epsError))) throw new Error(`internal error: PRV epsError must be a finite number > 0, got ${epsError}`);
}

/** prvEpsilon with its workings: each direction's bracket, the grid used and the ε and δ slacks. */
export function prvReport(history: readonly PrvSegment[], delta: number, opts?: { epsError?: number }): PrvReport {
  const epsError = opts?.epsError ?? DEFAULT_EPS_ERROR;
  validate(history, delta, epsError);

  // Merge equal (σ, q) segments; drop the ones that touch nobody.
  const merged = new Map<string, { q: number; sigma: number; steps: number }>();
  for (const s of history) {
    if (s.sampleRate === 0 || s.steps === 0) continue;
    const key = `${s.noiseMultiplier}|${s.sampleRate}`;
    const m = merged.get(key);
    if (m) m.steps += s.steps;
    else merged.set(key, { q: s.sampleRate, sigma: s.noiseMultiplier, steps: s.steps });
  }
  const zero: PrvEpsilon = { estimate: 0, lower: 0, upper: 0 };
  if (merged.size === 0) {
    return { epsilon: zero, remove: zero, add: zero, mesh: 0, gridSize: 0, epsilonSlack: 0, deltaSlack: { remove: 0, add: 0 } };
  }
  const laws = [...merged.values()].map((s) => stepLaw(s.q, s.sigma, s.steps));
  const k = laws.reduce((a, s) => a + s.steps, 0);

  // δ budget (see the header).
  const eta = delta * 1e-4;
  const etaW = 0.1 * eta;
  const etaC = 0.05 * eta;
  const etaHBudget = 0.75 * eta;
  const etaFpShare = 0.1 * eta;

  // 1. Window per direction.
  const win = { remove: chernoffWindow(laws, 'remove', etaW / 2), add: chernoffWindow(laws, 'add', etaW / 2) };
  const span = Math.max(win.remove.hi - win.remove.lo, win.add.hi - win.add.lo);

  // 2. Mesh and grid size.
  const hoeffding = Math.sqrt((k / 2) * Math.log(2 / etaHBudget));
  const m = Math.min(k, hoeffding);
  const etaH = m === k ? 0 : etaHBudget;
  const h0 = epsError / 2 / m;
  const log2n = Math.min(MAX_LOG2_N, Math.max(MIN_LOG2_N, Math.ceil(Math.log2(span / h0 + 2 * m + 4))));
  const N = 2 ** log2n;
  if (!(N - 2 * m - 4 > N / 4)) {
    throw new PrivacyAssumptionError(`--steps ${k}: too many steps for the PRV accountant's grid; use --accountant rdp`);
  }
  const h = span / (N - 2 * m - 4);
  const tHoeffding = h * m;

  // 3–4. Discretise, transform, raise to the number of steps, multiply. Both directions share one complex
  // FFT: remove PMF in the real part, add PMF in the imaginary part; with Z = FFT(x + i·y) and
  // Z*_f = conj Z_{N−f}: X_f = (Z_f + Z*_f)/2, Y_f = (Z_f − Z*_f)/(2i); and W_f = X_f^T + i·Y_f^T, with
  // W_{N−f} = conj(X_f^T) + i·conj(Y_f^T) by Hermitian symmetry, is the transform of (remove + i·add) composed.
  // The spectrum stays in bit-reversed order between the two transforms (see fft.ts); `pairs` visits each
  // {f, N − f} once as positions (p, partner), with a compact index c < N/2 + 1 for the accumulators.
  const { buf, A, E, pairTable } = workArrays(N);
  const nPairs = N / 2 + 1;
  const single = laws.length === 1;
  const acc = single ? null : { x: new Float64Array(2 * nPairs), y: new Float64Array(2 * nPairs) };
  if (acc) for (let c = 0; c < nPairs; c++) acc.x[2 * c] = acc.y[2 * c] = 1;
  // Floating-point estimate: ‖ΔW‖₂² per direction; for several segments, Σ_s T_s·e_s/|X_s,f| per frequency.
  const fwdErr2 = { remove: 0, add: 0 };
  const rel = single ? null : { x: new Float64Array(nPairs), y: new Float64Array(nPairs) };
  const shift = { remove: 0, add: 0 };
  const tCdf = { remove: 0, add: 0 };
  for (const law of laws) {
    const T = law.steps;
    const dr = discretise(law, 'remove', h, tau(etaC, k));
    const da = discretise(law, 'add', h, tau(etaC, k));
    if (dr.pmf.length > 64 * N || da.pmf.length > 64 * N) throw new Error('internal error: PRV per-step support far wider than the grid');
    // CDF error moves each step's mean shift by ≤ sup|ΔF|·(support width): added to t below.
    tCdf.remove += T * CDF_ABS_ERR * dr.pmf.length * h;
    tCdf.add += T * CDF_ABS_ERR * da.pmf.length * h;
    shift.remove += T * dr.shift;
    shift.add += T * da.shift;
    buf.fill(0);
    const eR = 2 * U * (log2n + 4) * placeAndNorm(buf, 0, dr, N);
    const eA = 2 * U * (log2n + 4) * placeAndNorm(buf, 1, da, N);
    fftForward(buf);
    const r2Min = Math.exp(-1490 / T);
    for (let c = 0; c < nPairs; c++) {
      const p = pairTable[2 * c]!;
      const g = pairTable[2 * c + 1]!;
      const zr = buf[2 * p]!;
      const zi = buf[2 * p + 1]!;
      const cr = buf[2 * g]!;
      const ci = -buf[2 * g + 1]!;
      complexPow((zr + cr) / 2, (zi + ci) / 2, T, r2Min);
      const pxr = POW[0]!;
      const pxi = POW[1]!;
      const logRx = POW[2]!;
      complexPow((zi - ci) / 2, -(zr - cr) / 2, T, r2Min);
      const pyr = POW[0]!;
      const pyi = POW[1]!;
      const logRy = POW[2]!;
      if (acc && rel) {
        let ar = acc.x[2 * c]!;
        let ai = acc.x[2 * c + 1]!;
        acc.x[2 * c] = ar * pxr - ai * pxi;
        acc.x[2 * c + 1] = ar * pxi + ai * pxr;
        ar = acc.y[2 * c]!;
        ai = acc.y[2 * c + 1]!;
        acc.y[2 * c] = ar * pyr - ai * pyi;
        acc.y[2 * c + 1] = ar * pyi + ai * pyr;
        rel.x[c] = rel.x[c]! + T * eR * Math.exp(-Math.max(logRx, -700));
        rel.y[c] = rel.y[c]! + T * eA * Math.exp(-Math.max(logRy, -700));
      } else {
        writeW(buf, p, g, pxr, pxi, pyr, pyi);
        // |Δ(X^T)| ≈ T·|X|^{T−1}·|ΔX|
        const ex = (T - 1) * logRx > -745 ? T * eR * Math.exp((T - 1) * logRx) : 0;
        const ey = (T - 1) * logRy > -745 ? T * eA * Math.exp((T - 1) * logRy) : 0;
        const mult = p === g ? 1 : 2;
        fwdErr2.remove += mult * ex * ex;
        fwdErr2.add += mult * ey * ey;
      }
    }
  }
  if (acc && rel) {
    for (let c = 0; c < nPairs; c++) {
      const p = pairTable[2 * c]!;
      const g = pairTable[2 * c + 1]!;
      const xr = acc.x[2 * c]!;
      const xi = acc.x[2 * c + 1]!;
      const yr = acc.y[2 * c]!;
      const yi = acc.y[2 * c + 1]!;
      writeW(buf, p, g, xr, xi, yr, yi);
      const ex = Math.sqrt(xr * xr + xi * xi) * Math.min(rel.x[c]!, 2);
      const ey = Math.sqrt(yr * yr + yi * yi) * Math.min(rel.y[c]!, 2);
      const mult = p === g ? 1 : 2;
      fwdErr2.remove += mult * ex * ex;
      fwdErr2.add += mult * ey * ey;
    }
  }
  fftInverse(buf);
  const scale = 1 / N;
  // Round-off that went negative, and ‖p‖₂² for the inverse transform's own error.
  let negR = 0;
  let negA = 0;
  let sqR = 0;
  let sqA = 0;
  for (let j = 0; j < 2 * N; j += 2) {
    const a = buf[j]! * scale;
    const b = buf[j + 1]! * scale;
    if (a < 0) negR -= a;
    if (b < 0) negA -= b;
    sqR += a * a;
    sqA += b * b;
  }
  const neg = { remove: negR, add: negA };
  const sq = { remove: sqR, add: sqA };

  // ε slack: Hoeffding's t plus the CDF-error allowance on the mean shifts (≪ h; the window has 2h to spare).
  const t = tHoeffding + Math.max(tCdf.remove, tCdf.add);
  if (!(t - tHoeffding < h)) throw new Error('internal error: PRV CDF-error allowance exceeds the mesh');

  // 5. Invert per direction.
  const solve = (dir: Direction): { eps: PrvEpsilon; eta: number } => {
    // Round-off of random phase: an error vector e in the PMF moves δ̃ by Σ_j f_j e_j ≈ ‖f‖₂‖e‖₂/√N ≤ ‖e‖₂,
    // with ‖e‖₂ = ‖ΔW‖₂/√N from the forward transform and the powers, ≈ c·u·log2 N·‖p̃‖₂ from the inverse.
    // A CDF error ΔF in one step's law moves δ̃ by |∫ g d(μ̂ − μ)| = |∫ ΔF dg| ≤ sup|ΔF|, g ∈ [0, 1] monotone
    // (the δ test function convolved with the other steps): k·CDF_ABS_ERR in all.
    const etaFp = 10 * (Math.sqrt(fwdErr2[dir] / N) + 2 * U * (log2n + 4) * Math.sqrt(sq[dir])) + neg[dir] + k * CDF_ABS_ERR;
    // η_fp normally sits below its share (0.1η); past it the δ slack (and the bracket) widens.
    const etaAll = etaC + etaH + etaW + Math.max(etaFp, etaFpShare);
    if (!(etaAll < delta / 2)) {
      throw new PrivacyAssumptionError(
        `--delta ${delta}: too small for the PRV accountant's floating-point accuracy over ${k} steps; use a larger --delta or --accountant rdp`,
      );
    }
    const mLo = Math.floor((win[dir].lo - shift[dir] - t) / h) - 1;
    const [epsHi, epsMid, epsLo] = invertDirection(buf, dir === 'remove' ? 0 : 1, scale, mLo, h, shift[dir], [delta - etaAll, delta, delta + etaAll], A, E);
    return { eps: { estimate: epsMid!, lower: Math.max(0, epsLo! - t), upper: epsHi! + t }, eta: etaAll };
  };
  const rem = solve('remove');
  const add = solve('add');
  return {
    epsilon: {
      estimate: Math.max(rem.eps.estimate, add.eps.estimate),
      lower: Math.max(rem.eps.lower, add.eps.lower),
      upper: Math.max(rem.eps.upper, add.eps.upper),
    },
    remove: rem.eps,
    add: add.eps,
    mesh: h,
    gridSize: N,
    epsilonSlack: t,
    deltaSlack: { remove: rem.eta, add: add.eta },
  };
}

/** Per-step clamp probability per tail: k steps × 2 tails × τ = η_C. */
function tau(etaC: number, k: number): number {
  return etaC / (2 * k);
}

/** Adds a discretised PMF into the real (part 0) or imaginary (part 1) lane, modulo N; returns ‖p‖₂. */
function placeAndNorm(buf: Float64Array, part: 0 | 1, d: Discretised, N: number): number {
  let j = ((d.jLo % N) + N) % N;
  let s = 0;
  const { pmf } = d;
  for (let i = 0; i < pmf.length; i++) {
    const p = pmf[i]!;
    buf[2 * j + part] = buf[2 * j + part]! + p;
    s += p * p;
    j = j === N - 1 ? 0 : j + 1;
  }
  return Math.sqrt(s);
}

/**
 * The pairs {f, N − f} of frequencies in bit-reversed storage, each once, as (p, partner) at [2c, 2c + 1],
 * c = 0..N/2: positions 0 (f = 0) and 1 (f = N/2) pair with themselves; in each block [b, 2b), b = 2, 4, ...,
 * N/2, position p < b + b/2 pairs with 3b − 1 − p (fft.ts, `bitReversedPartner`).
 */
function pairPositions(N: number): Int32Array {
  const out = new Int32Array(2 * (N / 2 + 1));
  out[2] = out[3] = N > 1 ? 1 : 0;
  let c = 2;
  for (let b = 2; b < N; b *= 2) {
    for (let p = b; p < b + b / 2; p++, c++) {
      out[2 * c] = p;
      out[2 * c + 1] = 3 * b - 1 - p;
    }
  }
  return out;
}

/** W_f = X + i·Y at position p and W_{N−f} = conj X + i·conj Y at its partner g. */
function writeW(buf: Float64Array, p: number, g: number, xr: number, xi: number, yr: number, yi: number): void {
  buf[2 * p] = xr - yi;
  buf[2 * p + 1] = xi + yr;
  if (g !== p) {
    buf[2 * g] = xr + yi;
    buf[2 * g + 1] = -xi + yr;
  }
}
