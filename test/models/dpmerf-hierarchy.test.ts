/**
 * The two-level release's consistency step (models/dpmerf/hierarchy.ts): a hand calculation, the
 * one-level limit, and its variance formula against a seeded simulation of the release's noise.
 */
import { describe, expect, it } from 'vitest';
import { consistencyGain, consistentCellSums, consistentSumVariance } from '../../models/dpmerf/hierarchy.js';
import { Rng } from '../../src/core/rng.js';

describe('two-level release: consistent cell sums', () => {
  it('moves every cell of a class by the same share of the class residual, by hand', () => {
    // α² = β² = 0.5 (α = β = 0.70711); one class of two cells, dim 1.
    //   released cell blocks D = β·(1, 2), class block C = α·4  ->  y = (1, 2), z = 4.
    //   g = α² / (β² + 2α²) = 0.5 / 1.5 = 1/3;  residual z − Σy = 1;  Ŝ = (1 + 1/3, 2 + 1/3) = (4/3, 7/3).
    const a = Math.sqrt(0.5);
    const s = consistentCellSums(Float32Array.from([a * 1, a * 2, a * 4]), 1, [0, 0], 1, 0.5);
    expect(s[0]).toBeCloseTo(4 / 3, 6);
    expect(s[1]).toBeCloseTo(7 / 3, 6);
    expect(consistencyGain(0.5, 2)).toBeCloseTo(1 / 3, 12);
    // Var/σ² by hand: one cell (1 − g)²·2 + g²·2 + g²·2 = 8/9 + 2/9 + 2/9 = 4/3; the class, 1 / (α² + β²/2) = 4/3.
    expect(consistentSumVariance(0.5, 2, 1)).toBeCloseTo(4 / 3, 12);
    expect(consistentSumVariance(0.5, 2, 2)).toBeCloseTo(4 / 3, 12);
  });

  it('leaves consistent blocks as they are, and reconciles each class with its own block only', () => {
    // Two classes: cells 0, 1 of class 0 and cell 2 of class 1, dim 2; exact blocks (no noise).
    const beta = 0.8;
    const alpha = 0.6;
    const S = [[1, 5], [2, -1], [7, 3]];
    const stats = Float32Array.from([...S.flatMap((r) => r.map((x) => beta * x)), ...[3, 4].map((x) => alpha * x), ...[7, 3].map((x) => alpha * x)]);
    const out = consistentCellSums(stats, 2, [0, 0, 1], 2, 0.36);
    S.flat().forEach((x, k) => expect(out[k]).toBeCloseTo(x, 5));
    // A class block that disagrees moves only its own class's cells: class 1 (one cell) by g (z − y) = (0.36 / 1) · 1.
    stats[4 * 2] += alpha; // class 1's block, first coordinate: z = 8 instead of 7
    const moved = consistentCellSums(stats, 2, [0, 0, 1], 2, 0.36);
    expect(moved[4]).toBeCloseTo(7 + 0.36, 5);
    [0, 1, 2, 3, 5].forEach((k) => expect(moved[k]).toBeCloseTo(out[k]!, 6));
  });

  it('without a class block the variance of m cells is m blocks', () => {
    for (const [k, m] of [[3, 1], [3, 2], [3, 3], [2, 1]] as const) expect(consistentSumVariance(0, k, m)).toBe(m);
  });

  it('is unbiased with the stated variance, over 20000 simulated releases', () => {
    // Class of K = 3 cells, α² = 0.4; noise N(0, 1) on every released block; true S = (10, 20, 30).
    const K = 3;
    const alpha2 = 0.4;
    const alpha = Math.sqrt(alpha2);
    const beta = Math.sqrt(1 - alpha2);
    const S = [10, 20, 30];
    const rng = new Rng(5);
    const draws = 20000;
    const one: number[] = [];
    const two: number[] = [];
    const all: number[] = [];
    for (let t = 0; t < draws; t++) {
      const stats = Float32Array.from([...S.map((x) => beta * x + rng.normal()), alpha * (S[0]! + S[1]! + S[2]!) + rng.normal()]);
      const e = consistentCellSums(stats, 1, [0, 0, 0], 1, alpha2);
      one.push(e[0]!);
      two.push(e[0]! + e[1]!);
      all.push(e[0]! + e[1]! + e[2]!);
    }
    const moments = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean, variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) };
    };
    for (const [xs, truth, m] of [[one, 10, 1], [two, 30, 2], [all, 60, 3]] as const) {
      const { mean, variance } = moments(xs);
      const v = consistentSumVariance(alpha2, K, m);
      expect(Math.abs(mean - truth)).toBeLessThan(4 * Math.sqrt(v / draws));
      // The sample variance's relative standard error is sqrt(2 / draws) = 1%; 4% is four of them.
      expect(Math.abs(variance / v - 1)).toBeLessThan(0.04);
    }
    // The whole class: the inverse-variance combination of its block (1/α²) and its cells' sum (K/β²).
    expect(consistentSumVariance(alpha2, K, 3)).toBeCloseTo(1 / (alpha2 + (1 - alpha2) / K), 12);
  });
});
