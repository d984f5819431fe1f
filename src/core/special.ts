/**
 * The complementary error function, in one place for the accountants (rdp.ts: log erfc; prv.ts: its
 * reference erfcx) and the diversity tests (eval/diversity/modes.ts: erfc).
 *
 *   erf(x) = 2/√π Σ_{n≥0} (−1)^n x^(2n+1) / (n! (2n+1))                    (Maclaurin series)
 *   erfc(x) = e^{−x²}/√π · 1/K(x),  K(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))   (x > 0;
 *             Laplace's continued fraction, Abramowitz & Stegun 7.1.14)
 *   erfc(−x) = 2 − erfc(x)
 * K is evaluated forwards with the modified Lentz method (Press et al., Numerical Recipes 3rd ed.,
 * Sec. 5.2). The series is used where 1 − erf cannot cancel badly (callers pick the switch point: the
 * fraction converges slowly near 0, the series loses digits once erf is close to 1).
 */

/** erf(x) by its Maclaurin series (use for |x| ≲ 2). */
export function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-18 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** K(x) of erfc(x) = e^{−x²}/(√π K(x)), x > 0, by the modified Lentz method (use for x ≳ 1). */
export function erfcFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f;
}

/** erfc(x) to ~1e-15 relative: the series for |x| < 1, else the continued fraction. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) return 1 - erfSeries(x);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / erfcFraction(x);
}

/**
 * log erfc(x) across the real line without underflow: the series for 0 ≤ x < 2 (log1p(−erf)), the
 * continued fraction in log form for x ≥ 2, the reflection for x < 0.
 */
export function logErfc(x: number): number {
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 2) return Math.log1p(-erfSeries(x));
  return -x * x - 0.5 * Math.log(Math.PI) - Math.log(erfcFraction(x));
}
