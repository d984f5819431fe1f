/**
 * Gradient canaries (src/privacy/canary.ts) and their path through the DP-SGD step (dp-sgd.ts): the secret
 * bits, the coordinates and the draws; a drawn canary adds exactly C at its coordinate (hand calculation
 * against the same step without canaries), an undrawn or excluded one nothing; the observations are the
 * released sum at the coordinates in units of C; each test-only break changes the step as its bug would;
 * no tensor growth.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { Dense, disposeLayers, paramsOf, type Tape } from '../../../src/nn/layers.js';
import { canariesDrawn, canaryCoordinates, canaryInclusion, CANARY_RAW_NORM_FACTOR } from '../../../src/privacy/canary.js';
import { dpGradients, type CanaryStep } from '../../../src/privacy/dp-sgd.js';
import { expectNoTensorLeak } from '../../eval/fidelity/helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('canary bits, coordinates and draws', () => {
  it('includes each canary with probability 1/2, the same bits for the same seed', () => {
    const a = canaryInclusion(20000, 5);
    const share = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(share - 0.5)).toBeLessThan(0.015); // > 4 standard errors (0.0035)
    expect(Array.from(canaryInclusion(20000, 5))).toEqual(Array.from(a));
    const b = canaryInclusion(20000, 6);
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });

  it('places m distinct coordinates inside the weights, reproducibly, and refuses more canaries than entries', () => {
    const weights = [{ name: 'a/kernel', size: 30 }, { name: 'b/kernel', size: 5 }, { name: 'c/kernel', size: 65 }];
    const c = canaryCoordinates(weights, 60, 3);
    expect(c).toHaveLength(60);
    expect(new Set(c.map((x) => `${x.weight}:${x.index}`)).size).toBe(60);
    for (const x of c) expect(x.index).toBeLessThan(weights.find((w) => w.name === x.weight)!.size);
    expect(new Set(c.map((x) => x.weight)).size).toBe(3);
    expect(canaryCoordinates(weights, 60, 3)).toEqual(c);
    expect(canaryCoordinates(weights, 100, 1)).toHaveLength(100); // every entry
    expect(() => canaryCoordinates(weights, 101, 1)).toThrow(/at least as many weight entries/);
  });

  it('draws only included canaries, each at rate q, the same draws for the same (seed, step)', () => {
    const included = canaryInclusion(4000, 11);
    let drawnIncluded = 0;
    for (let t = 0; t < 50; t++) {
      const d = canariesDrawn(included, 0.1, 7, t);
      d.forEach((v, i) => {
        if (v) {
          expect(included[i]).toBe(1);
          drawnIncluded++;
        }
      });
    }
    const nIncluded = included.reduce((s, v) => s + v, 0);
    const rate = drawnIncluded / (50 * nIncluded);
    expect(Math.abs(rate - 0.1)).toBeLessThan(0.006); // sd ≈ 0.0009
    expect(Array.from(canariesDrawn(included, 0.1, 7, 3))).toEqual(Array.from(canariesDrawn(included, 0.1, 7, 3)));
    expect(Array.from(canariesDrawn(included, 0.1, 7, 3))).not.toEqual(Array.from(canariesDrawn(included, 0.1, 7, 4)));
  });
});

describe('canaries in the DP-SGD step', () => {
  const clip = 0.5;
  const expected = 2;
  function setup() {
    const l = new Dense('canary/d', 3, 4, new Rng(2));
    const params = paramsOf([l]);
    const x = tf.tensor2d([1, 2, 3, -1, 0.5, 0, 4, 4, 4], [3, 3]);
    const sumLoss = (xi: tf.Tensor, tape: Tape) => tf.sum(tf.square(l.apply(xi, { tape }))) as tf.Scalar;
    return { l, params, x, sumLoss };
  }
  /** Kernel entries 0, 5, 11 and bias entry 2 hold canaries; canaries 0 and 3 are drawn. */
  function canaries(l: Dense, seen: Float32Array[]): CanaryStep {
    return {
      entries: [
        { param: l.kernel, index: 0 },
        { param: l.kernel, index: 5 },
        { param: l.kernel, index: 11 },
        { param: l.bias, index: 2 },
      ],
      drawn: Uint8Array.from([1, 0, 0, 1]),
      observe: (v) => seen.push(v),
    };
  }
  const flat = (g: Map<tf.Variable, tf.Tensor>, p: tf.Variable) => Array.from(g.get(p)!.dataSync());

  it('adds C at each drawn canary coordinate and nothing elsewhere; observes the released sum in units of C', () => {
    const { l, params, x, sumLoss } = setup();
    const opts = { clipNorm: clip, noiseMultiplier: 0, expectedUnits: expected, seed: 1 };
    const plain = dpGradients(params, x, sumLoss, null, opts);
    const seen: Float32Array[] = [];
    const withC = dpGradients(params, x, sumLoss, null, { ...opts, canary: canaries(l, seen) });
    const k0 = flat(plain.grads, l.kernel);
    const k1 = flat(withC.grads, l.kernel);
    const b0 = flat(plain.grads, l.bias);
    const b1 = flat(withC.grads, l.bias);
    k1.forEach((v, i) => expect(v - k0[i]!).toBeCloseTo(i === 0 ? clip / expected : 0, 6));
    b1.forEach((v, i) => expect(v - b0[i]!).toBeCloseTo(i === 2 ? clip / expected : 0, 6));
    // Observations: grads · E / C at the canary coordinates, in entry order.
    expect(seen).toHaveLength(1);
    const want = [k1[0]!, k1[5]!, k1[11]!, b1[2]!].map((v) => (v * expected) / clip);
    Array.from(seen[0]!).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // A canary alone (empty batch, no noise) is observed as exactly 1 (drawn) or 0.
    const alone: Float32Array[] = [];
    const r = dpGradients(params, null, sumLoss, null, { ...opts, canary: canaries(l, alone) });
    expect(Array.from(alone[0]!)).toEqual([1, 0, 0, 1]);
    tf.dispose([...plain.grads.values(), ...withC.grads.values(), ...r.grads.values(), x]);
    disposeLayers([l]);
  });

  it('breaks: clipping off adds the raw norm (and unclipped real gradients), double-count twice everything, noise 0.1x', () => {
    const { l, params, x, sumLoss } = setup();
    const opts = { clipNorm: clip, noiseMultiplier: 0, expectedUnits: expected, seed: 1 };
    const alone = (b: 'clipping' | 'double-count') => {
      const seen: Float32Array[] = [];
      const r = dpGradients(params, null, sumLoss, null, { ...opts, canary: canaries(l, seen), auditBreak: b });
      tf.dispose([...r.grads.values()]);
      return Array.from(seen[0]!);
    };
    expect(alone('clipping')).toEqual([CANARY_RAW_NORM_FACTOR, 0, 0, CANARY_RAW_NORM_FACTOR]);
    expect(alone('double-count')).toEqual([2, 0, 0, 2]);
    // Real units: clipping off = the clipped sum at a clip norm no gradient reaches; double-count = 2x.
    const plain = dpGradients(params, x, sumLoss, null, opts);
    const unclipped = dpGradients(params, x, sumLoss, null, { ...opts, clipNorm: 1e9 });
    const noClip = dpGradients(params, x, sumLoss, null, { ...opts, auditBreak: 'clipping' });
    const twice = dpGradients(params, x, sumLoss, null, { ...opts, auditBreak: 'double-count' });
    const u = flat(unclipped.grads, l.kernel);
    flat(noClip.grads, l.kernel).forEach((v, i) => expect(v).toBeCloseTo(u[i]!, 4));
    const p = flat(plain.grads, l.kernel);
    flat(twice.grads, l.kernel).forEach((v, i) => expect(v).toBeCloseTo(2 * p[i]!, 5));
    expect(plain.clippedShare).toBe(1); // the case is one where clipping matters
    // Noise break: std 0.1·σC/E on a large layer.
    const big = new Dense('canary/big', 100, 100, new Rng(3));
    const n = dpGradients(paramsOf([big]), null, () => tf.scalar(0), null, { clipNorm: clip, noiseMultiplier: 2, expectedUnits: expected, seed: 4, auditBreak: 'noise' });
    const w = n.grads.get(big.kernel)!.dataSync() as Float32Array;
    const sd = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(Math.abs(sd / ((0.1 * 2 * clip) / expected) - 1)).toBeLessThan(0.05);
    tf.dispose([...plain.grads.values(), ...unclipped.grads.values(), ...noClip.grads.values(), ...twice.grads.values(), ...n.grads.values(), x]);
    disposeLayers([l, big]);
  });

  it('refuses a canary outside the private module and leaks no tensors', async () => {
    const { l, params, x, sumLoss } = setup();
    const other = new Dense('canary/other', 2, 2, new Rng(5));
    const bad: CanaryStep = { entries: [{ param: other.kernel, index: 0 }], drawn: Uint8Array.from([1]), observe: () => {} };
    expect(() => dpGradients(params, x, sumLoss, null, { clipNorm: clip, noiseMultiplier: 1, expectedUnits: 2, seed: 1, canary: bad })).toThrow(/outside the private module/);
    await expectNoTensorLeak(() => {
      const r = dpGradients(params, x, sumLoss, null, { clipNorm: clip, noiseMultiplier: 1, expectedUnits: 2, seed: 1, canary: canaries(l, []) });
      tf.dispose([...r.grads.values()]);
    });
    tf.dispose(x);
    disposeLayers([l, other]);
  });
});
