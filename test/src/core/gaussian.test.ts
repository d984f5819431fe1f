/**
 * fillNormal (the ziggurat sampler): moments, tail frequencies and a Kolmogorov–Smirnov test against the
 * normal CDF on 2·10^6 draws, the tail branch on its own, sd scaling, and determinism (same seed, same bytes).
 * The statistical bounds are ≥ 5 standard errors (or α = 0.001 for KS), so a correct sampler fails them
 * with negligible probability while a wrong table, tail or wedge fails them.
 */
import { describe, expect, it } from 'vitest';
import { fillNormal } from '../../../src/core/gaussian.js';
import { erfc } from '../../../src/core/special.js';

/** P(|X| > t) for X ~ N(0, 1). */
const twoSidedTail = (t: number): number => erfc(t / Math.SQRT2);
/** Φ(x). */
const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

const N = 2_000_000;
const draws = fillNormal(new Float32Array(N), 20261205);

describe('fillNormal', () => {
  it('has mean 0, sd 1, skewness 0 and excess kurtosis 0 (2e6 draws, bounds of 5 standard errors)', () => {
    let s1 = 0;
    for (const v of draws) s1 += v;
    const mean = s1 / N;
    let m2 = 0, m3 = 0, m4 = 0;
    for (const v of draws) {
      const d = v - mean;
      const d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
    }
    m2 /= N;
    m3 /= N;
    m4 /= N;
    const sd = Math.sqrt(m2);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N)); // 0.0035
    expect(Math.abs(sd - 1)).toBeLessThan(5 / Math.sqrt(2 * N)); // 0.0025
    expect(Math.abs(m3 / sd ** 3)).toBeLessThan(5 * Math.sqrt(6 / N)); // 0.0087
    expect(Math.abs(m4 / sd ** 4 - 3)).toBeLessThan(5 * Math.sqrt(24 / N)); // 0.017 (a uniform: -1.2)
  });

  it('puts the right share of draws past 1, 2, 3, 3.4426 (the ziggurat tail) and 4, on both sides', () => {
    for (const t of [1, 2, 3, 3.442619855899, 4]) {
      const p = twoSidedTail(t);
      let hits = 0, neg = 0;
      for (const v of draws) {
        if (Math.abs(v) > t) {
          hits++;
          if (v < 0) neg++;
        }
      }
      const se = Math.sqrt(N * p * (1 - p));
      expect(Math.abs(hits - N * p), `P(|x| > ${t}) = ${hits / N}, want ${p}`).toBeLessThan(5 * se + 1);
      // Symmetry: half of them negative.
      expect(Math.abs(neg - hits / 2)).toBeLessThan(5 * Math.sqrt(hits / 4) + 1);
    }
    // P(|x| > 3) = 0.0027: 5400 ± 73 of 2e6.
    let over3 = 0;
    for (const v of draws) if (Math.abs(v) > 3) over3++;
    expect(over3 / N).toBeGreaterThan(0.0027 - 5 * Math.sqrt(0.0027 / N));
    expect(over3 / N).toBeLessThan(0.0027 + 5 * Math.sqrt(0.0027 / N));
  });

  it('passes a Kolmogorov–Smirnov test against the normal CDF (2e6 draws; D < 1.949/√n, α = 0.001)', () => {
    const sorted = Float64Array.from(draws).sort();
    let d = 0;
    for (let i = 0; i < N; i++) {
      const f = normalCdf(sorted[i]!);
      d = Math.max(d, Math.abs(f - i / N), Math.abs((i + 1) / N - f));
    }
    // Asymptotic critical value of √n·D at α = 0.001: 1.9495. 24-bit abscissae do not matter at this n.
    expect(d).toBeLessThan(1.9495 / Math.sqrt(N)); // 0.00138
  });

  it('fills 1000 equiprobable bins evenly (χ² with 999 df < 999 + 5·√1998)', () => {
    const bins = 1000;
    const counts = new Float64Array(bins);
    for (const v of draws) counts[Math.min(bins - 1, Math.floor(normalCdf(v) * bins))]!++;
    const e = N / bins;
    let chi2 = 0;
    for (const c of counts) chi2 += (c - e) ** 2 / e;
    expect(chi2).toBeLessThan(bins - 1 + 5 * Math.sqrt(2 * (bins - 1))); // ≈ 1222
  });

  it('draws the tail past r = 3.4426 with the normal tail shape (KS on the conditional distribution)', () => {
    const r = 3.442619855899;
    const tail = Array.from(draws, Math.abs).filter((v) => v > r).sort((a, b) => a - b);
    expect(tail.length).toBeGreaterThan(900); // ≈ 1152 expected
    const qr = twoSidedTail(r);
    let d = 0;
    tail.forEach((v, i) => {
      const f = 1 - twoSidedTail(v) / qr; // P(|X| ≤ v | |X| > r)
      d = Math.max(d, Math.abs(f - i / tail.length), Math.abs((i + 1) / tail.length - f));
    });
    expect(d).toBeLessThan(1.9495 / Math.sqrt(tail.length));
  });

  it('scales by sd and keeps the stream: sd · (the sd = 1 draws)', () => {
    const a = fillNormal(new Float32Array(10_000), 7);
    const b = fillNormal(new Float32Array(10_000), 7, 0.35);
    for (let i = 0; i < a.length; i++) expect(Math.abs(b[i]! - 0.35 * a[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(b[i]!) + 1e-12);
    expect(fillNormal(new Float32Array(5), 7, 0).every((v) => v === 0)).toBe(true); // ±0
  });

  it('is a deterministic function of the seed: same seed, same bytes; other seeds, other draws', () => {
    const a = fillNormal(new Float32Array(100_000), 12345, 1.3);
    const b = fillNormal(new Float32Array(100_000), 12345, 1.3);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    // A prefix of a longer fill is the shorter fill (one stream per seed).
    expect(Array.from(fillNormal(new Float32Array(1000), 12345, 1.3))).toEqual(Array.from(a.subarray(0, 1000)));
    // Seeds are taken modulo 2^32.
    expect(Array.from(fillNormal(new Float32Array(100), 12345 + 2 ** 32, 1.3))).toEqual(Array.from(a.subarray(0, 100)));
    for (const other of [12346, 0, 0xffffffff, (12345 + 0x9e3779b1) >>> 0]) {
      const c = fillNormal(new Float32Array(100_000), other, 1.3);
      let same = 0;
      for (let i = 0; i < c.length; i++) if (c[i] === a[i]) same++;
      expect(same).toBeLessThan(10);
      // Two independent streams are uncorrelated: |corr| < 5/√n.
      let sab = 0, saa = 0, sbb = 0;
      for (let i = 0; i < c.length; i++) {
        sab += a[i]! * c[i]!;
        saa += a[i]! * a[i]!;
        sbb += c[i]! * c[i]!;
      }
      expect(Math.abs(sab / Math.sqrt(saa * sbb))).toBeLessThan(5 / Math.sqrt(c.length));
    }
    // Consecutive draws of one stream are uncorrelated too.
    let lag = 0, sq = 0;
    for (let i = 1; i < a.length; i++) {
      lag += a[i]! * a[i - 1]!;
      sq += a[i]! * a[i]!;
    }
    expect(Math.abs(lag / sq)).toBeLessThan(5 / Math.sqrt(a.length));
  });

  it('gives the same first draws as when this test was written (the bytes of a DP run depend on them)', () => {
    expect(Array.from(fillNormal(new Float32Array(6), 1))).toEqual(PINNED_SEED_1);
  });

  it('refuses a non-integer seed and a negative or non-finite sd', () => {
    expect(() => fillNormal(new Float32Array(1), 1.5)).toThrow(/seed/);
    expect(() => fillNormal(new Float32Array(1), 1, -1)).toThrow(/sd/);
    expect(() => fillNormal(new Float32Array(1), 1, Number.NaN)).toThrow(/sd/);
  });
});

const PINNED_SEED_1 = [-1.1729103326797485, 1.433591604232788, 1.5785269737243652, 1.418287754058838, -0.7086824774742126, 3.7451157569885254];
