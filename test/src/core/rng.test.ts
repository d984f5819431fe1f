import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed } from '../../../src/core/rng.js';

describe('Rng', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('derives named sub-streams that do not depend on draws already made', () => {
    const a = new Rng(7);
    const before = a.derive('splits').uniform();
    for (let i = 0; i < 100; i++) a.uniform();
    expect(a.derive('splits').uniform()).toBe(before);
    expect(deriveSeed(7, 'splits')).not.toBe(deriveSeed(7, 'noise'));
  });

  it('draws uniforms with mean 1/2 and variance 1/12, and normals with mean 0 and sd 1', () => {
    const r = new Rng(2020);
    const n = 200_000;
    let su = 0, suu = 0, sn = 0, snn = 0, lo = 1, hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      su += u; suu += u * u;
      const z = r.normal();
      sn += z; snn += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    // 5-sigma bands for the sample moments at n = 200k.
    expect(Math.abs(su / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(suu / n - (su / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
    expect(Math.abs(sn / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(snn / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('draws integers in range without bias', () => {
    const r = new Rng(5);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(5 * Math.sqrt(10_000 * (5 / 6)));
  });

  it('shuffles into a permutation', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const ys = new Rng(1).shuffle([...xs]);
    expect(ys).not.toEqual(xs);
    expect([...ys].sort((a, b) => a - b)).toEqual(xs);
  });
});
