import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrivacyAssumptionError } from '../../../src/core/errors.js';
import { accountant } from '../../../src/privacy/accountants/index.js';
import { bitReversedPartner, fft, fftForward, fftInverse } from '../../../src/privacy/accountants/fft.js';
import { normalSf, prvEpsilon, prvReport, type PrvSegment } from '../../../src/privacy/accountants/prv.js';
import { DEFAULT_ORDERS, rdpSubsampledGaussian, rdpToEpsilon } from '../../../src/privacy/accountants/rdp.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Case {
  sigma: number;
  q: number;
  steps: number;
  delta: number;
}
interface PrvFixture {
  gaussian: { cases: (Case & { epsilon: number })[] };
  single_step: { cases: (Case & { epsilon_remove: number; epsilon_add: number; epsilon: number })[] };
  dpsgd_example: Case & { epsilon: number; epsilon_remove: number; epsilon_add: number; fine_grid: { epsilon_remove: number; epsilon_add: number } };
  heterogeneous: { history: { sigma: number; q: number; steps: number }[]; delta: number; epsilon_remove: number; epsilon_add: number; epsilon: number };
  directions: { cases: (Case & { epsilon_remove: number; epsilon_add: number })[] };
  opacus_published: { url: string; delta: number; cases: { sigma: number; q: number; steps: number; epsilon_upper: number }[] };
  normal_sf: { cases: { u: number; sf: number }[] };
}
const fx = loadFixture<PrvFixture>('prv');

const seg = (sigma: number, q: number, steps: number): PrvSegment => ({ noiseMultiplier: sigma, sampleRate: q, steps });
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
/**
 * Default epsError 0.01: upper − lower = 2t + (ε̃(δ − η) − ε̃(δ + η)) with 2t ≤ epsError; the δ-slack term is
 * ~2η·|dε/dδ|, a few 1e-4 for ε of a few units, ~1e-3 for ε ≈ 10.
 */
const WIDTH = 0.0125;

describe('PRV accountant: q = 1 against the exact Gaussian-mechanism curve (Balle & Wang 2018, Thm. 8)', () => {
  it.each(fx.gaussian.cases.map((c) => [`sigma=${c.sigma} T=${c.steps} delta=${c.delta}`, c] as const))('%s', (_n, c) => {
    const report = prvReport([seg(c.sigma, 1, c.steps)], c.delta);
    const r = report.epsilon;
    expect(rel(r.estimate, c.epsilon)).toBeLessThan(1e-3);
    expect(r.lower).toBeLessThanOrEqual(c.epsilon);
    expect(r.upper).toBeGreaterThanOrEqual(c.epsilon);
    // sigma 0.5 over 2000 steps (epsilon ≈ 4380) needs more than the 2^22-point cap: a wider, still valid bracket.
    if (report.gridSize < 2 ** 22) expect(r.upper - r.lower).toBeLessThanOrEqual(WIDTH);
    else expect(r.upper - r.lower).toBeLessThan(1e-4 * c.epsilon);
  });
});

describe('PRV accountant: one subsampled step against the exact curve', () => {
  it.each(fx.single_step.cases.map((c) => [`sigma=${c.sigma} q=${c.q} delta=${c.delta}`, c] as const))('%s', (_n, c) => {
    const r = prvReport([seg(c.sigma, c.q, 1)], c.delta);
    expect(rel(r.epsilon.estimate, c.epsilon)).toBeLessThan(1e-3);
    expect(r.epsilon.lower).toBeLessThanOrEqual(c.epsilon);
    expect(r.epsilon.upper).toBeGreaterThanOrEqual(c.epsilon);
    // Each direction on its own brackets its own exact value.
    for (const [got, exact] of [
      [r.remove, c.epsilon_remove],
      [r.add, c.epsilon_add],
    ] as const) {
      expect(got.lower).toBeLessThanOrEqual(exact);
      expect(got.upper).toBeGreaterThanOrEqual(exact);
      expect(Math.abs(got.estimate - exact)).toBeLessThan(1e-3 * Math.max(exact, 0.1));
    }
  });
});

describe('PRV accountant: the DP-SGD example (sigma 1.1, q 256/60000, 60 epochs = 14062 steps, delta 1e-5)', () => {
  const c = fx.dpsgd_example;
  const history = [seg(c.sigma, c.q, c.steps)];

  it('matches the characteristic-function reference to 1e-3 and brackets it, in both directions', () => {
    const t0 = performance.now();
    const r = prvReport(history, c.delta);
    const ms = performance.now() - t0;
    expect(rel(r.epsilon.estimate, c.epsilon)).toBeLessThan(1e-3);
    expect(r.epsilon.lower).toBeLessThanOrEqual(c.epsilon);
    expect(r.epsilon.upper).toBeGreaterThanOrEqual(c.epsilon);
    expect(r.epsilon.upper - r.epsilon.lower).toBeLessThanOrEqual(WIDTH);
    expect(rel(r.remove.estimate, c.epsilon_remove)).toBeLessThan(1e-3);
    expect(rel(r.add.estimate, c.epsilon_add)).toBeLessThan(1e-3);
    // The second, fine-grid reference agrees too.
    expect(rel(r.remove.estimate, c.fine_grid.epsilon_remove)).toBeLessThan(1e-3);
    // Well under a second on an idle machine; generous here so a busy CI box does not flake.
    expect(ms).toBeLessThan(3000);
  });

  it('is tighter than the RDP accountant', () => {
    const prv = prvEpsilon(history, c.delta);
    const rdp = rdpToEpsilon(rdpSubsampledGaussian({ sampleRate: c.q, noiseMultiplier: c.sigma, steps: c.steps }), DEFAULT_ORDERS, c.delta);
    expect(prv.upper).toBeLessThan(rdp.epsilon);
    expect(rdp.epsilon - prv.upper).toBeGreaterThan(0.1);
  });

  it('is what the accountant registry reports (upper bound as the epsilon of record)', () => {
    const r = prvEpsilon(history, c.delta);
    const a = accountant('prv').epsilon(history, c.delta);
    expect(a.epsilon).toBe(r.upper);
    expect(a.estimate).toBe(r.estimate);
    expect(a.lower).toBe(r.lower);
  });
});

describe('PRV accountant: heterogeneous history and both neighbouring directions', () => {
  it('composes different segments (characteristic-function reference)', () => {
    const h = fx.heterogeneous;
    const r = prvReport(
      h.history.map((s) => seg(s.sigma, s.q, s.steps)),
      h.delta,
    );
    expect(rel(r.epsilon.estimate, h.epsilon)).toBeLessThan(1e-3);
    expect(r.epsilon.lower).toBeLessThanOrEqual(h.epsilon);
    expect(r.epsilon.upper).toBeGreaterThanOrEqual(h.epsilon);
    expect(rel(r.add.estimate, h.epsilon_add)).toBeLessThan(1e-3);
  });

  it.each(fx.directions.cases.map((c) => [`sigma=${c.sigma} q=${c.q} T=${c.steps}`, c] as const))(
    'computes add and remove separately and reports the larger (%s)',
    (_n, c) => {
      const r = prvReport([seg(c.sigma, c.q, c.steps)], c.delta);
      expect(rel(r.remove.estimate, c.epsilon_remove)).toBeLessThan(1e-3);
      expect(rel(r.add.estimate, c.epsilon_add)).toBeLessThan(1e-3);
      expect(r.epsilon.upper).toBe(Math.max(r.remove.upper, r.add.upper));
      expect(r.epsilon.lower).toBe(Math.max(r.remove.lower, r.add.lower));
      // Observed for the Poisson-subsampled Gaussian in every case of the fixture: removal is the worse direction.
      expect(c.epsilon_remove).toBeGreaterThanOrEqual(c.epsilon_add);
    },
  );
});

describe("PRV accountant: prv_accountant's published values (Opacus test table, delta 1e-6)", () => {
  // prv_accountant reports eps_upper = its estimate at delta·(1 − 1/1000) + eps_error (0.01): our estimate + 0.01
  // must land within the small delta-slack term of it, and our certified lower bound below it.
  it.each(fx.opacus_published.cases.map((c) => [`sigma=${c.sigma} q=${c.q} T=${c.steps}`, c] as const))('%s', (_n, c) => {
    const r = prvReport([seg(c.sigma, c.q, c.steps)], fx.opacus_published.delta);
    expect(Math.abs(c.epsilon_upper - 0.01 - r.remove.estimate)).toBeLessThan(5e-4);
    expect(r.epsilon.lower).toBeLessThanOrEqual(c.epsilon_upper);
  });
});

describe('PRV accountant: properties', () => {
  it('decreases in sigma and increases in steps and sample rate', () => {
    const bySigma = [0.7, 1, 1.5, 3].map((s) => prvEpsilon([seg(s, 0.01, 500)], 1e-5));
    const bySteps = [1, 10, 100, 1000].map((T) => prvEpsilon([seg(1, 0.01, T)], 1e-5));
    const byRate = [0.001, 0.01, 0.1, 1].map((q) => prvEpsilon([seg(2, q, 100)], 1e-5));
    for (let i = 1; i < 4; i++) {
      expect(bySigma[i]!.estimate).toBeLessThan(bySigma[i - 1]!.estimate);
      expect(bySigma[i]!.upper).toBeLessThan(bySigma[i - 1]!.upper);
      expect(bySteps[i]!.estimate).toBeGreaterThan(bySteps[i - 1]!.estimate);
      expect(bySteps[i]!.upper).toBeGreaterThan(bySteps[i - 1]!.upper);
      expect(byRate[i]!.estimate).toBeGreaterThan(byRate[i - 1]!.estimate);
      expect(byRate[i]!.upper).toBeGreaterThan(byRate[i - 1]!.upper);
    }
  });

  it('keeps lower <= estimate <= upper, with a bracket about epsError wide (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.8, max: 5, noNaN: true }),
        fc.double({ min: 1e-4, max: 0.05, noNaN: true }),
        fc.integer({ min: 1, max: 2000 }),
        fc.constantFrom(1e-4, 1e-5, 1e-7),
        (sigma, q, steps, delta) => {
          const report = prvReport([seg(sigma, q, steps)], delta);
          const r = report.epsilon;
          expect(r.lower).toBeLessThanOrEqual(r.estimate);
          expect(r.estimate).toBeLessThanOrEqual(r.upper);
          expect(r.lower).toBeGreaterThanOrEqual(0);
          // upper − lower = 2t + δ-slack term, 2t ≤ epsError (the grid stays under its cap in this range).
          expect(report.gridSize).toBeLessThan(2 ** 22);
          expect(2 * report.epsilonSlack).toBeLessThanOrEqual(0.01 * (1 + 1e-9));
          expect(r.upper - r.lower).toBeLessThanOrEqual(WIDTH);
        },
      ),
      { numRuns: 12, seed: 11 },
    );
  });

  it('narrows the bracket with a smaller epsError and still contains the reference', () => {
    const c = fx.dpsgd_example;
    const coarse = prvEpsilon([seg(c.sigma, c.q, c.steps)], c.delta, { epsError: 0.1 });
    const fine = prvEpsilon([seg(c.sigma, c.q, c.steps)], c.delta, { epsError: 0.002 });
    expect(coarse.upper - coarse.lower).toBeLessThanOrEqual(0.1);
    expect(fine.upper - fine.lower).toBeLessThanOrEqual(0.002 * 1.05);
    expect(fine.upper - fine.lower).toBeLessThan((coarse.upper - coarse.lower) / 10);
    for (const r of [coarse, fine]) {
      expect(r.lower).toBeLessThanOrEqual(c.epsilon);
      expect(r.upper).toBeGreaterThanOrEqual(c.epsilon);
    }
  });

  it('splits a history into segments without changing the answer', () => {
    const whole = prvEpsilon([seg(1.2, 0.02, 700)], 1e-5);
    // Equal segments are merged: exactly the same computation.
    expect(prvEpsilon([seg(1.2, 0.02, 300), seg(1.2, 0.02, 400)], 1e-5)).toEqual(whole);
    // A noise multiplier different in the 12th digit forces the multi-segment FFT product X^300·X'^400.
    const split = prvEpsilon([seg(1.2, 0.02, 300), seg(1.2 * (1 + 1e-12), 0.02, 400)], 1e-5);
    expect(Math.abs(split.estimate - whole.estimate)).toBeLessThan(1e-6);
    expect(Math.abs(split.upper - whole.upper)).toBeLessThan(1e-6);
    expect(Math.abs(split.lower - whole.lower)).toBeLessThan(1e-6);
  });

  it('gives epsilon 0 for no steps or no sampling, and ignores such segments', () => {
    const zero = { estimate: 0, lower: 0, upper: 0 };
    expect(prvEpsilon([], 1e-5)).toEqual(zero);
    expect(prvEpsilon([seg(1, 0.01, 0)], 1e-5)).toEqual(zero);
    expect(prvEpsilon([seg(1, 0, 1000)], 1e-5)).toEqual(zero);
    const base = prvEpsilon([seg(1, 0.01, 200)], 1e-5);
    expect(prvEpsilon([seg(1, 0.01, 200), seg(0.5, 0, 50), seg(0.3, 0.2, 0)], 1e-5)).toEqual(base);
  });

  it('refuses impossible inputs with a one-line PrivacyAssumptionError naming the option', () => {
    const bad: [PrvSegment[], number, RegExp][] = [
      [[seg(1, -0.1, 10)], 1e-5, /^--sample-rate /],
      [[seg(1, 1.5, 10)], 1e-5, /^--sample-rate /],
      [[seg(1, Number.NaN, 10)], 1e-5, /^--sample-rate /],
      [[seg(0, 0.01, 10)], 1e-5, /^--noise-multiplier /],
      [[seg(-1, 0.01, 10)], 1e-5, /^--noise-multiplier /],
      [[seg(Number.POSITIVE_INFINITY, 0.01, 10)], 1e-5, /^--noise-multiplier /],
      [[seg(Number.NaN, 0.01, 10)], 1e-5, /^--noise-multiplier /],
      [[seg(1, 0.01, 2.5)], 1e-5, /^--steps /],
      [[seg(1, 0.01, -1)], 1e-5, /^--steps /],
      [[seg(1, 0.01, 10)], 0, /^--delta /],
      [[seg(1, 0.01, 10)], 1, /^--delta /],
      [[seg(1, 0.01, 10)], Number.NaN, /^--delta /],
    ];
    for (const [history, delta, pattern] of bad) {
      let err: unknown;
      try {
        prvEpsilon(history, delta);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PrivacyAssumptionError);
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('PRV building blocks', () => {
  it('evaluates the normal tail in relative precision, and the CDF within its budgeted absolute error', () => {
    for (const { u, sf } of fx.normal_sf.cases) {
      expect(rel(normalSf(u), sf)).toBeLessThan(1e-14);
      // The accountant budgets 1e-15 of absolute CDF error per step (CDF_ABS_ERR in prv.ts).
      expect(Math.abs(normalSf(u) - sf)).toBeLessThan(3e-16);
    }
  });

  it('computes the FFT (natural order against a direct DFT, and the bit-reversed pair)', () => {
    for (const n of [1, 2, 4, 8, 32, 64, 128]) {
      const x = Float64Array.from({ length: 2 * n }, (_, i) => Math.sin(1.3 * i + 0.2) + (i % 3) * 0.25);
      for (const inverse of [false, true]) {
        const got = x.slice();
        fft(got, inverse);
        const sgn = inverse ? 1 : -1;
        for (let k = 0; k < n; k++) {
          let re = 0;
          let im = 0;
          for (let j = 0; j < n; j++) {
            const a = (sgn * 2 * Math.PI * ((j * k) % n)) / n;
            re += x[2 * j]! * Math.cos(a) - x[2 * j + 1]! * Math.sin(a);
            im += x[2 * j]! * Math.sin(a) + x[2 * j + 1]! * Math.cos(a);
          }
          expect(Math.abs(got[2 * k]! - re)).toBeLessThan(1e-12 * n);
          expect(Math.abs(got[2 * k + 1]! - im)).toBeLessThan(1e-12 * n);
        }
      }
      const round = x.slice();
      fftForward(round);
      fftInverse(round);
      round.forEach((v, i) => expect(Math.abs(v / n - x[i]!)).toBeLessThan(1e-14));
    }
    // In bit-reversed order, position p holds frequency rev(p); its partner holds N − rev(p).
    const bits = 5;
    const rev = (i: number) => parseInt(i.toString(2).padStart(bits, '0').split('').reverse().join(''), 2);
    for (let p = 2; p < 2 ** bits; p++) expect(rev(bitReversedPartner(p))).toBe((2 ** bits - rev(p)) % 2 ** bits);
  });
});
