import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { BatchNorm, Conv2d, GroupNorm, disposeLayers } from '../../../src/nn/layers.js';
import { MIN_DP_UNITS, assertDpSetup, assertDpUnits, dpViolations, unitViolations } from '../../../src/privacy/validate.js';
import { PrivacyAssumptionError } from '../../../src/core/errors.js';

describe('DP setup validators', () => {
  const conv = new Conv2d('v/conv', 1, 2, 3, 1, 'same', new Rng(1));
  const gn = new GroupNorm('v/gn', 2, 1);
  const bn = new BatchNorm('v/bn', 2);
  const ok = { privateLayers: [conv, gn], units: 1000, delta: 1e-5, sampling: 'poisson' as const, clipNorm: 1, noiseMultiplier: 1 };

  it('accept a sound setup', () => {
    expect(dpViolations(ok)).toEqual([]);
    expect(() => assertDpSetup(ok)).not.toThrow();
  });

  it('report every violation at once, each with its fix', () => {
    const v = dpViolations({ privateLayers: [conv, bn], units: 1000, delta: 0.01, sampling: 'shuffle', clipNorm: 0, noiseMultiplier: 0 });
    expect(v).toHaveLength(5);
    expect(v[0]).toMatch(/v\/bn is a BatchNorm .* use GroupNorm or LayerNorm/);
    expect(v[1]).toMatch(/delta 0.01 is not below 1\/N = 0.00100 .* use --delta/);
    expect(v[2]).toMatch(/not Poisson/);
    expect(() => assertDpSetup({ ...ok, delta: 0.001 })).toThrow(PrivacyAssumptionError);
  });

  it('put delta = 1/N itself on the wrong side', () => {
    expect(dpViolations({ ...ok, units: 100, delta: 0.01 })).toHaveLength(1);
    expect(dpViolations({ ...ok, units: 100, delta: 0.0099 })).toHaveLength(0);
  });

  it('refuse fewer than MIN_DP_UNITS units, naming the unit and what to do', () => {
    expect(MIN_DP_UNITS).toBe(20);
    expect(unitViolations({ units: 20, delta: 1e-5 })).toEqual([]);
    const v = unitViolations({ units: 1, delta: 1e-5, unitName: 'patient' });
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/^N = 1 privacy unit \(patient\) in the train split; differential privacy needs at least 20: .*; add data/);
    expect(dpViolations({ ...ok, units: 19, delta: 1e-5 })).toHaveLength(1);
    expect(() => assertDpUnits({ units: 5, delta: 0.5 })).toThrow(/delta 0.5 is not below 1\/N = 0.200 .*; N = 5 privacy units in the train split/);
  });

  afterAll(() => disposeLayers([conv, gn, bn]));
});
