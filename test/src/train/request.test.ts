/**
 * The train request normaliser (src/train/request.ts, #21): the policy that sat in the CLI's train command —
 * the default generator, the DP-GAN's DP default and budget, the generator options the flags set, and the
 * option combinations that mean nothing — as one pure function of the parsed options.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { DPGAN_DEFAULT_EPSILON, normaliseTrainOptions, type TrainOptions } from '../../../src/train/request.js';

const BASE: TrainOptions = { data: 'd', size: 28, condition: ['sex'], epochs: 3, batchSize: 32, seed: 1, splitSeed: 1, maxGradNorm: 1, accountant: 'rdp', canaryKind: 'gradient' };

describe('normaliseTrainOptions', () => {
  it('no --model: the cVAE without DP, auto with --dp; label is always a condition; flags go into the generator config', () => {
    const plain = normaliseTrainOptions({ ...BASE, lr: 0.003, modelConfig: { lr: 1, emaDecay: 0.9 } });
    expect(plain.request).toMatchObject({ model: 'cvae', condition: ['label', 'sex'], generator: { lr: 0.003, emaDecay: 0.9 } });
    expect(plain.request.dp).toBeUndefined();
    expect(plain.notices).toEqual([]);
    const dp = normaliseTrainOptions({ ...BASE, dp: true, targetEpsilon: 4, bins: 'age=40,60', epochsDefaulted: true });
    expect(dp.request).toMatchObject({ model: 'auto', dp: { targetEpsilon: 4, clipNorm: 1, accountant: 'rdp' }, bins: { age: [40, 60] }, epochsDefaulted: true });
  });

  it('the DP-GAN trains with DP at the default budget unless told otherwise, and says so; --no-dp is warned about', () => {
    const gan = normaliseTrainOptions({ ...BASE, model: 'dpgan', dSteps: 3 });
    expect(gan.request.dp).toMatchObject({ targetEpsilon: DPGAN_DEFAULT_EPSILON });
    expect(gan.request.generator).toEqual({ dSteps: 3 });
    expect(gan.notices).toEqual([expect.stringMatching(/^privacy budget: epsilon 10 \(the dpgan default/)]);
    const sigma = normaliseTrainOptions({ ...BASE, model: 'dpgan', noiseMultiplier: 1.2 });
    expect(sigma.request.dp).toMatchObject({ targetEpsilon: undefined, noiseMultiplier: 1.2 });
    const off = normaliseTrainOptions({ ...BASE, model: 'dpgan', dp: false });
    expect(off.request.dp).toBeUndefined();
    expect(off.notices).toEqual([expect.stringMatching(/^warning: --no-dp: this DP-GAN is NOT differentially private/)]);
  });

  it('refuses options that mean nothing, naming the option and what to do', () => {
    expect(() => normaliseTrainOptions({ ...BASE, dSteps: 2 })).toThrow(new ConfigError('--d-steps only applies to --model dpgan'));
    expect(() => normaliseTrainOptions({ ...BASE, targetEpsilon: 8 })).toThrow(/^--target-epsilon only applies with --dp; add --dp/);
    expect(() => normaliseTrainOptions({ ...BASE, privacyUnit: 'image' })).toThrow(/^--privacy-unit only applies with --dp/);
    expect(() => normaliseTrainOptions({ ...BASE, auditCanaries: 100 })).toThrow(/^--audit-canaries audits a DP-SGD run/);
    expect(() => normaliseTrainOptions({ ...BASE, dp: true, targetEpsilon: 4, canarySeed: 3 })).toThrow(/^--canary-seed only applies with --audit-canaries/);
  });

  it('an audit run carries the canary seed given, or a fresh one', () => {
    const given = normaliseTrainOptions({ ...BASE, dp: true, targetEpsilon: 4, auditCanaries: 50, canarySeed: 7 });
    expect(given.request.auditCanaries).toEqual({ canaries: 50, kind: 'gradient', seed: 7 });
    const fresh = normaliseTrainOptions({ ...BASE, dp: true, targetEpsilon: 4, auditCanaries: 50, canaryKind: 'input' });
    expect(fresh.request.auditCanaries).toMatchObject({ canaries: 50, kind: 'input', seed: expect.any(Number) });
  });
});
