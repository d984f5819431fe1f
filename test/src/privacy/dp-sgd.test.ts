/**
 * The DP-SGD gradient: noise std σC/(qU) (statistically, fixed seed), the clipped sum against a loop of
 * batch-of-one gradients, noise-only steps for empty Poisson batches, refusal of parameters that would
 * escape clipping, and no tensor growth.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { PrivacyAssumptionError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { Dense, disposeLayers, paramsOf, restrictTape, type Tape } from '../../../src/nn/layers.js';
import { dpGradients } from '../../../src/privacy/dp-sgd.js';

describe('dpGradients', () => {
  it('adds Gaussian noise with std sigma*C, divided by the expected units (empty batch: noise only)', async () => {
    await initBackend('wasm');
    const rng = new Rng(1);
    const big = new Dense('dp/noise', 200, 100, rng); // 20 100 weights: a tight std estimate
    const params = paramsOf([big]);
    const sigma = 1.3;
    const c = 0.7;
    const expected = 4;
    const r = dpGradients(params, null, () => tf.scalar(0), null, { clipNorm: c, noiseMultiplier: sigma, expectedUnits: expected, seed: 99 });
    const w = r.grads.get(big.kernel)!.dataSync() as Float32Array;
    const n = w.length;
    const mean = w.reduce((a, v) => a + v, 0) / n;
    const sd = Math.sqrt(w.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    const want = (sigma * c) / expected;
    // sd of a sample sd ≈ want/sqrt(2n) ≈ 0.5% of want; 3% is > 5 standard errors.
    expect(Math.abs(sd - want) / want).toBeLessThan(0.03);
    expect(Math.abs(mean)).toBeLessThan((5 * want) / Math.sqrt(n));
    // Excess kurtosis of a Gaussian is 0 (a uniform would give -1.2).
    const m4 = w.reduce((a, v) => a + (v - mean) ** 4, 0) / n;
    expect(Math.abs(m4 / sd ** 4 - 3)).toBeLessThan(0.15);
    expect(r.units).toBe(0);
    // Same seed, same noise; another seed, other noise.
    const again = dpGradients(params, null, () => tf.scalar(0), null, { clipNorm: c, noiseMultiplier: sigma, expectedUnits: expected, seed: 99 });
    const other = dpGradients(params, null, () => tf.scalar(0), null, { clipNorm: c, noiseMultiplier: sigma, expectedUnits: expected, seed: 100 });
    expect(Array.from(again.grads.get(big.kernel)!.dataSync())).toEqual(Array.from(w));
    expect(other.grads.get(big.kernel)!.dataSync()[0]).not.toBe(w[0]);
    tf.dispose([...r.grads.values(), ...again.grads.values(), ...other.grads.values()]);
    disposeLayers([big]);
  });

  it('returns (clipped sum + noise) / expected units: with tiny noise, the clipped per-example sum', async () => {
    await initBackend('wasm');
    const rng = new Rng(2);
    const l = new Dense('dp/sum', 3, 2, rng);
    const params = paramsOf([l]);
    const x = tf.tensor2d([1, 2, 3, -1, 0.5, 0, 4, 4, 4], [3, 3]);
    const lossOf = (xi: tf.Tensor, tape?: Tape) => tf.sum(tf.square(l.apply(xi, { tape })));
    const clip = 0.5;
    const r = dpGradients(params, x, (xi, tape) => lossOf(xi, tape) as tf.Scalar, null, { clipNorm: clip, noiseMultiplier: 1e-9, expectedUnits: 2, seed: 1 });
    // Oracle: per-example tf.grads, clipped, summed, halved.
    const want = params.map((p) => new Float64Array(p.size));
    for (let i = 0; i < 3; i++) {
      const { grads } = tf.variableGrads(() => lossOf(tf.slice(x, [i, 0], [1, 3])) as tf.Scalar, params);
      const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
      const norm = Math.sqrt(gs.reduce((a, g) => a + g.reduce((s, v) => s + v * v, 0), 0));
      const f = Math.min(1, clip / norm);
      gs.forEach((g, k) => g.forEach((v, j) => (want[k]![j]! += (f * v) / 2)));
      tf.dispose(Object.values(grads));
    }
    params.forEach((p, k) => {
      const got = r.grads.get(p)!.dataSync();
      want[k]!.forEach((v, j) => expect(Math.abs(got[j]! - v)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
    });
    expect(r.units).toBe(3);
    expect(r.clippedShare).toBeGreaterThan(0); // these inputs have large gradients
    tf.dispose([...r.grads.values(), x]);
    disposeLayers([l]);
  });

  it('with a tape restricted to the trained layer, clips by the norm over that layer alone (frozen layers are constants)', async () => {
    await initBackend('wasm');
    const rng = new Rng(4);
    const frozen = new Dense('dp/frozen', 3, 4, rng);
    const trained = new Dense('dp/trained', 4, 2, rng);
    const params = paramsOf([trained]);
    const x = tf.tensor2d([1, 2, 3, -1, 0.5, 0, 4, 4, 4, 0.1, -0.2, 0.3], [4, 3]);
    const lossOf = (xi: tf.Tensor, tape?: Tape) => tf.sum(tf.square(trained.apply(tf.tanh(frozen.apply(xi, { tape })), { tape })));
    const clip = 0.3;
    const r = dpGradients(params, x, (xi, tape) => lossOf(xi, restrictTape(tape, [trained])) as tf.Scalar, null, { clipNorm: clip, noiseMultiplier: 1e-9, expectedUnits: 4, seed: 1 });
    // Oracle: per-example tf.grads over the trained layer's parameters only, clipped by their norm.
    const want = params.map((p) => new Float64Array(p.size));
    const norms: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { grads } = tf.variableGrads(() => lossOf(tf.slice(x, [i, 0], [1, 3])) as tf.Scalar, params);
      const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
      const norm = Math.sqrt(gs.reduce((a, g) => a + g.reduce((s, v) => s + v * v, 0), 0));
      norms.push(norm);
      const f = Math.min(1, clip / norm);
      gs.forEach((g, k) => g.forEach((v, j) => (want[k]![j]! += (f * v) / 4)));
      tf.dispose(Object.values(grads));
    }
    expect(Math.min(...norms)).toBeGreaterThan(clip); // every example is clipped: the norm decides the result
    params.forEach((p, k) => {
      const got = r.grads.get(p)!.dataSync();
      want[k]!.forEach((v, j) => expect(Math.abs(got[j]! - v)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
    });
    expect(r.grads.has(frozen.kernel)).toBe(false);
    // Unrestricted, the frozen layer is recorded too: its gradient joins the norm and the result differs.
    const all = dpGradients(paramsOf([frozen, trained]), x, (xi, tape) => lossOf(xi, tape) as tf.Scalar, null, { clipNorm: clip, noiseMultiplier: 1e-9, expectedUnits: 4, seed: 1 });
    const a = all.grads.get(trained.kernel)!.dataSync();
    const b = r.grads.get(trained.kernel)!.dataSync();
    expect(Math.max(...Array.from(a, (v, j) => Math.abs(v - b[j]!)))).toBeGreaterThan(1e-4);
    tf.dispose([...r.grads.values(), ...all.grads.values(), x]);
    disposeLayers([frozen, trained]);
  });

  it('refuses a parameter whose gradient would escape clipping', async () => {
    await initBackend('wasm');
    const rng = new Rng(3);
    const l = new Dense('dp/cov', 2, 2, rng);
    const loose = tf.variable(tf.scalar(1), true, 'dp_loose_scale');
    const x = tf.ones([2, 2]);
    expect(() =>
      dpGradients([...paramsOf([l]), loose], x, (xi, tape) => tf.sum(tf.mul(l.apply(xi, { tape }), loose)) as tf.Scalar, null, {
        clipNorm: 1,
        noiseMultiplier: 1,
        expectedUnits: 1,
        seed: 1,
      }),
    ).toThrow(PrivacyAssumptionError);
    tf.dispose([x, loose]);
    disposeLayers([l]);
  });

  it('leaks no tensors per step', async () => {
    await initBackend('wasm');
    const rng = new Rng(4);
    const l = new Dense('dp/leak', 4, 3, rng);
    const params = paramsOf([l]);
    const x = tf.ones([5, 4]);
    const step = () => {
      const r = dpGradients(params, x, (xi, tape) => tf.sum(tf.square(l.apply(xi, { tape }))) as tf.Scalar, { unitOf: Int32Array.from([0, 0, 1, 2, 2]), units: 3 }, {
        clipNorm: 1,
        noiseMultiplier: 1,
        expectedUnits: 3,
        seed: 5,
      });
      tf.dispose([...r.grads.values()]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeLayers([l]);
  });
});
