import { describe, expect, it } from 'vitest';
import { DEFAULT_ORDERS, logErfc, rdpSubsampledGaussian, rdpToEpsilon } from '../../../src/privacy/accountants/rdp.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface RdpFixture {
  opacus_example: { epsilon: number };
  cases: { q: number; sigma: number; alpha: number; rdp_per_step: number }[];
}
const fx = loadFixture<RdpFixture>('rdp');

describe('RDP of the subsampled Gaussian mechanism', () => {
  it.each(fx.cases.map((c) => [`q=${c.q} sigma=${c.sigma} alpha=${c.alpha}`, c] as const))('%s matches the 50-digit evaluation to 1e-6', (_n, c) => {
    const [got] = rdpSubsampledGaussian({ sampleRate: c.q, noiseMultiplier: c.sigma, steps: 1, orders: [c.alpha] });
    expect(Math.abs(got! - c.rdp_per_step) / c.rdp_per_step).toBeLessThan(1e-6);
  });

  it("gives opacus's epsilon for sigma=1.5, q=0.04, 90 epochs, delta=1e-5", () => {
    const rdp = rdpSubsampledGaussian({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250 });
    const r = rdpToEpsilon(rdp, DEFAULT_ORDERS, 1e-5);
    expect(Math.abs(r.epsilon - fx.opacus_example.epsilon) / fx.opacus_example.epsilon).toBeLessThan(1e-6);
    expect(r.atGridEdge).toBe(false);
  });

  it('is alpha/(2 sigma^2) per step without subsampling, zero at q = 0, and grows with steps', () => {
    expect(rdpSubsampledGaussian({ sampleRate: 1, noiseMultiplier: 2, steps: 3, orders: [5] })[0]).toBeCloseTo((3 * 5) / 8, 12);
    expect(rdpSubsampledGaussian({ sampleRate: 0, noiseMultiplier: 2, steps: 3, orders: [5] })[0]).toBe(0);
    const one = rdpSubsampledGaussian({ sampleRate: 0.01, noiseMultiplier: 1, steps: 1, orders: [8] })[0]!;
    const ten = rdpSubsampledGaussian({ sampleRate: 0.01, noiseMultiplier: 1, steps: 10, orders: [8] })[0]!;
    expect(ten).toBeCloseTo(10 * one, 12);
  });

  it('flags a best order at the edge of the grid', () => {
    // Very little noise: the optimum is at the smallest order.
    const rdp = rdpSubsampledGaussian({ sampleRate: 0.5, noiseMultiplier: 0.3, steps: 1000 });
    expect(rdpToEpsilon(rdp, DEFAULT_ORDERS, 1e-5).atGridEdge).toBe(true);
  });

  it('uses the 1.1..10.9, 12..63 order grid', () => {
    expect(DEFAULT_ORDERS.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(DEFAULT_ORDERS).toContain(10.9);
    expect(DEFAULT_ORDERS).not.toContain(11);
    expect(DEFAULT_ORDERS.at(-1)).toBe(63);
    expect(DEFAULT_ORDERS).toHaveLength(151);
  });
});

describe('logErfc', () => {
  it('matches known values across the line', () => {
    // erfc(0) = 1; erfc(1) = 0.157299207050285...; erfc(5) = 1.5374597944280349e-12; erfc(-1) = 1.842700792949715
    expect(logErfc(0)).toBeCloseTo(0, 14);
    expect(Math.exp(logErfc(1)) / 0.15729920705028513 - 1).toBeLessThan(1e-12);
    expect(Math.abs(Math.exp(logErfc(5)) / 1.5374597944280349e-12 - 1)).toBeLessThan(1e-12);
    expect(Math.abs(Math.exp(logErfc(-1)) / 1.842700792949715 - 1)).toBeLessThan(1e-12);
    // Far tail, where erfc itself underflows nothing: log erfc(30) = -903.97411711064387808 (mpmath, 40 digits).
    expect(Math.abs(logErfc(30) / -903.9741171106438781 - 1)).toBeLessThan(1e-14);
    // Deep negative side: erfc(-4.6) = 2 - erfc(4.6), erfc(4.6) = 7.749599597441858e-11 (mpmath, 40 digits).
    expect(Math.abs(Math.exp(logErfc(-4.6)) - (2 - 7.749599597441858e-11))).toBeLessThan(1e-15);
  });
});
