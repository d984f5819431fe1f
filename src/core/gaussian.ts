/**
 * Fast seeded Gaussian samples into a Float32Array: a pure function of (seed, length, sd), so the same seed
 * gives the same bytes on every machine (only IEEE double arithmetic and Math.exp/Math.log on the rare slow
 * path; see below).
 *
 * Method: the ziggurat of Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables", Journal of
 * Statistical Software 5(8), 2000, with 128 layers of equal area v under the half density f(x) = exp(-x²/2).
 * One 32-bit draw per sample on the fast path (~98.8 % of samples): its low 7 bits pick the layer, bit 7 the
 * sign and the high 24 bits the abscissa, so the layer index and the abscissa use disjoint bits (the
 * correlation Leong, Zhang, Lee, Luk & Villasenor point out in "A Comment on the Implementation of the
 * Ziggurat Method", JSS 12(7), 2005, does not arise). The abscissa x = j · e_i / 2^24 (j < 2^24) of layer i
 * is accepted at once when x < e_{i+1} (under the layer above, so under the curve); otherwise the wedge is
 * tested against exp(-x²/2), and layer 0 past r draws from the tail by Marsaglia's method ("Generating a
 * variable from the tail of the normal distribution", Technometrics 6(1), 1964).
 * The abscissa has 24 bits of resolution per layer (steps of at most r/2^24 ≈ 2e-7), i.e. about float32's.
 *
 * Uniform bits: xoshiro128** seeded by SplitMix32, the same stream as `new Rng(seed).nextUint32()`
 * (src/core/rng.ts), inlined here for speed (a few ns per sample instead of tf.randomNormal's ~40).
 */
import { getNormalFill } from './accelerators.js';
import { xoshiroSeedState } from './rng.js';

const LAYERS = 128;
/** Start of the tail (r) and area of each layer (v) for 128 layers, from Marsaglia & Tsang (2000). */
const R = 3.442619855899;
const V = 9.91256303526217e-3;

/**
 * e[i] = right edge of layer i's rectangle; layer i spans heights f(e[i])..f(e[i+1]). e[0] = v / f(r) is
 * the base layer's virtual width (rectangle [0, r] × [0, f(r)] plus the tail), e[1] = r, e[128] = 0.
 */
const EDGE = new Float64Array(LAYERS + 1);
/** f(e[i]). */
const FE = new Float64Array(LAYERS + 1);
/** e[i] / 2^24: abscissa of layer i per unit of the 24-bit integer. */
const SCALE = new Float64Array(LAYERS);
/**
 * Fast-path bound, indexed by the low 8 bits (layer and sign): the 24-bit integer j is accepted at once
 * when j < 2^24 · e[i+1] / e[i], i.e. when its abscissa lies under the layer above.
 */
const BOUND = new Float64Array(2 * LAYERS);
{
  const f = (x: number): number => Math.exp(-0.5 * x * x);
  EDGE[0] = V / f(R);
  EDGE[1] = R;
  for (let i = 1; i < LAYERS - 1; i++) EDGE[i + 1] = Math.sqrt(-2 * Math.log(f(EDGE[i]!) + V / EDGE[i]!));
  EDGE[LAYERS] = 0;
  for (let i = 0; i <= LAYERS; i++) FE[i] = f(EDGE[i]!);
  FE[0] = 0; // the base layer's wedge is never used (past r it draws from the tail)
  for (let i = 0; i < LAYERS; i++) SCALE[i] = EDGE[i]! / 16777216;
  for (let b = 0; b < 2 * LAYERS; b++) BOUND[b] = (16777216 * EDGE[(b & 127) + 1]!) / EDGE[b & 127]!;
}

/**
 * Fills `out` with independent N(0, sd²) samples determined by `seed` (an unsigned 32-bit integer; other
 * integers are taken modulo 2^32) and returns it.
 */
export function fillNormal(out: Float32Array, seed: number, sd = 1): Float32Array {
  if (!Number.isInteger(seed)) throw new Error(`internal error: seed must be an integer, got ${seed}`);
  if (!(sd >= 0) || !Number.isFinite(sd)) throw new Error(`internal error: sd must be finite and >= 0, got ${sd}`);
  const seeded = xoshiroSeedState(seed);
  // Signed abscissa scale times sd, by the low 8 bits: no branch on the sign on the fast path.
  const w = new Float64Array(2 * LAYERS);
  for (let b = 0; b < 2 * LAYERS; b++) w[b] = (b & 128 ? -sd : sd) * SCALE[b & 127]!;
  // The same loop in the native addon when it is loaded (src/core/accelerators.ts): the same samples.
  const fast = getNormalFill();
  if (fast && fast(out, seeded, { w, bound: BOUND, scale: SCALE, fe: FE, r: R }, sd)) return out;
  const st = Int32Array.from(seeded);
  // The state lives in locals on the fast path and in `st` while the slow path runs.
  let s0 = st[0]!;
  let s1 = st[1]!;
  let s2 = st[2]!;
  let s3 = st[3]!;
  const n = out.length;
  for (let k = 0; k < n; k++) {
    // xoshiro128** (Blackman & Vigna 2021), inlined: u = the next 32-bit output (as a signed int32; only
    // its bits are used).
    const m = Math.imul(s1, 5);
    const u = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    const b = u & 255;
    const j = u >>> 8;
    if (j < BOUND[b]!) {
      out[k] = j * w[b]!;
      continue;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
    out[k] = slowPath(st, u) * sd;
    s0 = st[0]!;
    s1 = st[1]!;
    s2 = st[2]!;
    s3 = st[3]!;
  }
  return out;
}

/** The next unsigned 32-bit output of the xoshiro128** state `st`. */
function nextUint32(st: Int32Array): number {
  const s1 = st[1]!;
  const m = Math.imul(s1, 5);
  const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
  const t = s1 << 9;
  st[2] ^= st[0]!;
  st[3] ^= s1;
  st[1] = s1 ^ st[2]!;
  st[0] ^= st[3]!;
  st[2] ^= t;
  st[3] = (st[3]! << 11) | (st[3]! >>> 21);
  return result;
}

/** Uniform in (0, 1), never 0 (it is passed to log). */
function open01(st: Int32Array): number {
  return (nextUint32(st) + 0.5) / 4294967296;
}

/**
 * A sample whose first 32-bit draw `u` missed the fast path: the tail (layer 0), or the wedge test of
 * layer u & 127, drawing again from the start on rejection. Advances `st`.
 */
function slowPath(st: Int32Array, u: number): number {
  for (;;) {
    const i = u & 127;
    const x = (u >>> 8) * SCALE[i]!;
    if (u >>> 8 < BOUND[i]!) return u & 128 ? -x : x;
    if (i === 0) {
      // Tail past r: x = r + a with density ∝ exp(-(r+a)²/2), by Marsaglia (1964).
      let a: number;
      let b: number;
      do {
        a = -Math.log(open01(st)) / R;
        b = -Math.log(open01(st));
      } while (b + b < a * a);
      return u & 128 ? -(R + a) : R + a;
    }
    // Wedge of layer i: a uniform height between f(e[i]) and f(e[i+1]); accept when under the curve.
    const y = FE[i]! + open01(st) * (FE[i + 1]! - FE[i]!);
    if (y < Math.exp(-0.5 * x * x)) return u & 128 ? -x : x;
    u = nextUint32(st);
  }
}
