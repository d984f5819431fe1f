// @module-tag slow (runs the built CLI; see vitest.config.ts)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calibrateNoise, epsilonFor } from '../../../src/privacy/calibrate.js';
import { PrivacyAssumptionError } from '../../../src/core/errors.js';
import { runCli } from '../../helpers/cli.js';

describe('noise calibration', () => {
  it('never overshoots the target and is tight (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 20, noNaN: true }),
        fc.double({ min: 0.001, max: 0.1, noNaN: true }),
        fc.integer({ min: 10, max: 5000 }),
        (target, q, steps) => {
          const plan = { targetEpsilon: target, delta: 1e-5, sampleRate: q, steps };
          const r = calibrateNoise(plan);
          expect(r.epsilon).toBeLessThanOrEqual(target);
          expect(epsilonFor({ ...plan, noiseMultiplier: r.noiseMultiplier }).epsilon).toBeLessThanOrEqual(target);
          if (r.noiseMultiplier > 0.0101) {
            // 0.1% less noise already exceeds the budget: the answer is within the bisection tolerance.
            expect(epsilonFor({ ...plan, noiseMultiplier: r.noiseMultiplier * 0.999 }).epsilon).toBeGreaterThan(target);
          }
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  });

  it('never overshoots with the PRV accountant either, and needs less noise than RDP for the same budget', () => {
    for (const [target, q, steps] of [[8, 0.01, 1000], [2, 0.05, 200]] as const) {
      const plan = { targetEpsilon: target, delta: 1e-5, sampleRate: q, steps };
      const prv = calibrateNoise({ ...plan, accountant: 'prv' });
      expect(epsilonFor({ ...plan, noiseMultiplier: prv.noiseMultiplier, accountant: 'prv' }).epsilon).toBeLessThanOrEqual(target);
      expect(prv.noiseMultiplier).toBeLessThan(calibrateNoise(plan).noiseMultiplier);
    }
    // Too little noise for any finite PRV bound: epsilon is reported as unbounded, not as an error.
    expect(epsilonFor({ delta: 1e-5, sampleRate: 0.01, steps: 1000, noiseMultiplier: 0.01, accountant: 'prv' }).epsilon).toBe(Infinity);
  });

  it('refuses an impossible budget', () => {
    expect(() => calibrateNoise({ targetEpsilon: 0, delta: 1e-5, sampleRate: 0.01, steps: 100 })).toThrow(PrivacyAssumptionError);
    expect(() => calibrateNoise({ targetEpsilon: 1, delta: 2, sampleRate: 0.01, steps: 100 })).toThrow(/--delta 2/);
  });
});

describe('medsynth privacy', () => {
  it('answers with the PRV accountant: the certified upper bound, order null', () => {
    const r = runCli(['privacy', 'epsilon', '--sample-rate', '0.0042666', '--noise-multiplier', '1.1', '--steps', '14062', '--delta', '1e-5', '--accountant', 'prv', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.accountant).toBe('prv');
    expect(j.order).toBeNull();
    expect(j.epsilon_lower).toBeLessThanOrEqual(j.epsilon_estimate);
    expect(j.epsilon_estimate).toBeLessThanOrEqual(j.epsilon);
    expect(j.epsilon).toBeLessThan(2.6); // tighter than RDP's 2.60 for the same training
  });

  it('prints epsilon, delta, accountant and order as JSON', () => {
    const r = runCli(['privacy', 'epsilon', '--sample-rate', '0.04', '--noise-multiplier', '1.5', '--steps', '2250', '--delta', '1e-5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['epsilon', 'delta', 'accountant', 'order']);
    expect(j.epsilon).toBeCloseTo(7.32911117143, 8);
    expect(j.accountant).toBe('rdp');
  });

  it('prints the calibrated noise multiplier and its epsilon; an impossible budget exits 2', () => {
    const r = runCli(['privacy', 'noise', '--target-epsilon', '8', '--delta', '1e-5', '--sample-rate', '0.01', '--steps', '1000', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['noise_multiplier', 'epsilon']);
    expect(j.epsilon).toBeLessThanOrEqual(8);
    const bad = runCli(['privacy', 'noise', '--target-epsilon', '-1', '--delta', '1e-5', '--sample-rate', '0.01', '--steps', '1000']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
