/**
 * A small in-place complex FFT on Float64Array, for the PRV accountant (accountants/prv.ts).
 *
 * Layout: one interleaved array x of length 2N, x[2j] = Re z_j, x[2j+1] = Im z_j; N a power of two.
 *
 *   forward:  Z_k = Σ_j z_j · exp(−2πi·jk/N)
 *   inverse:  z_j = Σ_k Z_k · exp(+2πi·jk/N)      (unnormalised: the caller divides by N)
 *
 * The accountant transforms, works pointwise, and transforms back, so the bit-reversal permutation is skipped:
 * `fftForward` is a decimation-in-frequency (Gentleman–Sande) transform from natural order to bit-reversed
 * order, `fftInverse` a decimation-in-time (Cooley–Tukey) transform from bit-reversed order back to natural
 * order. In bit-reversed order the frequency at position p is rev(p); positions 0 and 1 hold frequencies 0
 * and N/2, and for p in [2^b, 2^(b+1)) the frequency N − rev(p) sits at 3·2^b − 1 − p (`bitReversedPartner`).
 * `fft` gives natural order both ways (with an explicit permutation), for tests.
 *
 * Both transforms fuse pairs of radix-2 passes into radix-4 passes (one radix-2 pass when log2 N is odd).
 * For a block of length 4m, j < m, w = exp(∓2πi/4m), s = ∓i (the sign of the exponent):
 *   DIF: u = x0 − x2, v = s·(x1 − x3):  x0' = (x0 + x2) + (x1 + x3),  x1' = ((x0 + x2) − (x1 + x3))·w^{2j},
 *        x2' = (u + v)·w^j,  x3' = (u − v)·w^{3j};
 *   DIT: a = x0 + w^{2j}x1, b = x0 − w^{2j}x1, c = w^j·(x2 + w^{2j}x3), d = w^j·(x2 − w^{2j}x3):
 *        x0' = a + c,  x2' = a − c,  x1' = b + s·d,  x3' = b − s·d.
 * Every twiddle factor cos(2πk/N), sin(2πk/N) is computed directly with Math.cos/Math.sin for k ≤ N/8 and
 * mapped to the other octants by exact symmetries (no recurrence), so round-off stays at the textbook
 * O(u·log2 N) relative size in the 2-norm (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
 * §24.1). The tables for the last size used are cached; the transforms are otherwise pure functions of their
 * input.
 */

interface Tables {
  n: number;
  /** w[2k] = cos(2πk/N), w[2k+1] = sin(2πk/N), k < N. */
  w: Float64Array;
}

let cached: Tables | null = null;

function tables(n: number): Tables {
  if (cached && cached.n === n) return cached;
  const w = new Float64Array(2 * n);
  const set = (k: number, c: number, s: number) => {
    w[2 * k] = c;
    w[2 * k + 1] = s;
  };
  if (n < 8) {
    for (let k = 0; k < n; k++) set(k, Math.cos((2 * Math.PI * k) / n), Math.sin((2 * Math.PI * k) / n));
  } else {
    // One octant by Math.cos/Math.sin, the rest by the exact symmetries of the circle.
    const q = n / 4;
    for (let k = 0; k <= n / 8; k++) {
      const c = Math.cos((2 * Math.PI * k) / n);
      const s = Math.sin((2 * Math.PI * k) / n);
      set(k, c, s);
      set(q - k, s, c);
      set(q + k, -s, c);
      set(2 * q - k, -c, s);
      set(2 * q + k, -c, -s);
      set(3 * q - k, -s, -c);
      set(3 * q + k, s, -c);
      if (k > 0) set(n - k, c, -s);
    }
  }
  cached = { n, w };
  return cached;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function size(x: Float64Array): number {
  const n = x.length >> 1;
  if (x.length !== 2 * n || !isPowerOfTwo(n)) throw new Error(`internal error: fft needs an interleaved array of 2·2^m numbers, got ${x.length}`);
  return n;
}

/** Position of frequency N − rev(p) in bit-reversed order, for p ≥ 2 (positions 0 and 1 pair with themselves). */
export function bitReversedPartner(p: number): number {
  const b = 2 ** Math.floor(Math.log2(p));
  return 3 * b - 1 - p;
}

/** Forward transform (exponent −), natural order in, bit-reversed order out. */
export function fftForward(x: Float64Array): void {
  const n = size(x);
  if (n === 1) return;
  const { w } = tables(n);
  const odd = Math.round(Math.log2(n)) % 2 === 1;
  // Radix-4 passes on blocks of length 4m, m = N/4, N/16, ... (down to 2 when log2 N is odd, else 1).
  for (let m = n / 4; m >= (odd ? 2 : 1); m /= 4) {
    const stride = n / (4 * m);
    for (let s = 0; s < n; s += 4 * m) {
      for (let j = 0, k = 0; j < m; j++, k += stride) {
        const i0 = 2 * (s + j);
        const i1 = i0 + 2 * m;
        const i2 = i1 + 2 * m;
        const i3 = i2 + 2 * m;
        const x0r = x[i0]!;
        const x0i = x[i0 + 1]!;
        const x1r = x[i1]!;
        const x1i = x[i1 + 1]!;
        const x2r = x[i2]!;
        const x2i = x[i2 + 1]!;
        const x3r = x[i3]!;
        const x3i = x[i3 + 1]!;
        const pr = x0r + x2r;
        const pi = x0i + x2i;
        const qr = x1r + x3r;
        const qi = x1i + x3i;
        const ur = x0r - x2r;
        const ui = x0i - x2i;
        // v = −i·(x1 − x3)
        const vr = x1i - x3i;
        const vi = -(x1r - x3r);
        x[i0] = pr + qr;
        x[i0 + 1] = pi + qi;
        if (k === 0) {
          x[i1] = pr - qr;
          x[i1 + 1] = pi - qi;
          x[i2] = ur + vr;
          x[i2 + 1] = ui + vi;
          x[i3] = ur - vr;
          x[i3 + 1] = ui - vi;
          continue;
        }
        const w1r = w[2 * k]!;
        const w1i = -w[2 * k + 1]!;
        const w2r = w[4 * k]!;
        const w2i = -w[4 * k + 1]!;
        const w3r = w[6 * k]!;
        const w3i = -w[6 * k + 1]!;
        let ar = pr - qr;
        let ai = pi - qi;
        x[i1] = ar * w2r - ai * w2i;
        x[i1 + 1] = ar * w2i + ai * w2r;
        ar = ur + vr;
        ai = ui + vi;
        x[i2] = ar * w1r - ai * w1i;
        x[i2 + 1] = ar * w1i + ai * w1r;
        ar = ur - vr;
        ai = ui - vi;
        x[i3] = ar * w3r - ai * w3i;
        x[i3 + 1] = ar * w3i + ai * w3r;
      }
    }
  }
  if (odd) {
    for (let a = 0; a < 2 * n; a += 4) {
      const ar = x[a]!;
      const ai = x[a + 1]!;
      const br = x[a + 2]!;
      const bi = x[a + 3]!;
      x[a] = ar + br;
      x[a + 1] = ai + bi;
      x[a + 2] = ar - br;
      x[a + 3] = ai - bi;
    }
  }
}

/** Inverse transform (exponent +, no 1/N), bit-reversed order in, natural order out. */
export function fftInverse(x: Float64Array): void {
  const n = size(x);
  if (n === 1) return;
  const { w } = tables(n);
  let m = 1;
  if (Math.round(Math.log2(n)) % 2 === 1) {
    for (let a = 0; a < 2 * n; a += 4) {
      const ar = x[a]!;
      const ai = x[a + 1]!;
      const br = x[a + 2]!;
      const bi = x[a + 3]!;
      x[a] = ar + br;
      x[a + 1] = ai + bi;
      x[a + 2] = ar - br;
      x[a + 3] = ai - bi;
    }
    m = 2;
  }
  for (; m < n; m *= 4) {
    const stride = n / (4 * m);
    for (let s = 0; s < n; s += 4 * m) {
      for (let j = 0, k = 0; j < m; j++, k += stride) {
        const w1r = w[2 * k]!;
        const w1i = w[2 * k + 1]!;
        const w2r = w[4 * k]!;
        const w2i = w[4 * k + 1]!;
        const w3r = w[6 * k]!;
        const w3i = w[6 * k + 1]!;
        const i0 = 2 * (s + j);
        const i1 = i0 + 2 * m;
        const i2 = i1 + 2 * m;
        const i3 = i2 + 2 * m;
        const x0r = x[i0]!;
        const x0i = x[i0 + 1]!;
        let yr = x[i1]!;
        let yi = x[i1 + 1]!;
        const x1r = w2r * yr - w2i * yi;
        const x1i = w2r * yi + w2i * yr;
        yr = x[i2]!;
        yi = x[i2 + 1]!;
        const x2r = w1r * yr - w1i * yi;
        const x2i = w1r * yi + w1i * yr;
        yr = x[i3]!;
        yi = x[i3 + 1]!;
        const x3r = w3r * yr - w3i * yi;
        const x3i = w3r * yi + w3i * yr;
        const ar = x0r + x1r;
        const ai = x0i + x1i;
        const br = x0r - x1r;
        const bi = x0i - x1i;
        const cr = x2r + x3r;
        const ci = x2i + x3i;
        // +i·(x2 − x3)
        const tr = -(x2i - x3i);
        const ti = x2r - x3r;
        x[i0] = ar + cr;
        x[i0 + 1] = ai + ci;
        x[i2] = ar - cr;
        x[i2 + 1] = ai - ci;
        x[i1] = br + tr;
        x[i1 + 1] = bi + ti;
        x[i3] = br - tr;
        x[i3 + 1] = bi - ti;
      }
    }
  }
}

/** Permutes x (interleaved, length 2N) into bit-reversed order; its own inverse. */
export function bitReverse(x: Float64Array): void {
  const n = size(x);
  const bits = Math.round(Math.log2(n));
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    if (r > i) {
      let t = x[2 * i]!;
      x[2 * i] = x[2 * r]!;
      x[2 * r] = t;
      t = x[2 * i + 1]!;
      x[2 * i + 1] = x[2 * r + 1]!;
      x[2 * r + 1] = t;
    }
  }
}

/** Natural order in and out: the forward transform, or with `inverse` the unnormalised inverse. */
export function fft(x: Float64Array, inverse = false): void {
  if (inverse) {
    bitReverse(x);
    fftInverse(x);
  } else {
    fftForward(x);
    bitReverse(x);
  }
}
