// @module-tag slow (trains DP-GANs for many steps; see vitest.config.ts)
/**
 * DP-GAN specifics (the shared contract is in contract.test.ts): DP on the discriminator only — a DP step
 * changes D through DP-SGD and leaves G's update to the fakes — the discriminator has no BatchNorm, and a
 * generator that stops learning is reported as collapsed.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GeneratorCollapsedError, encodeConditions } from '../../models/generator.js';
import { Dpgan, dpganFactory } from '../../models/dpgan/index.js';
import { initBackend } from '../../src/backend/index.js';
import { BatchNorm, GroupNorm, paramsOf } from '../../src/nn/layers.js';
import { dpViolations } from '../../src/privacy/validate.js';
import { TOY_SPEC, toyBatch, toyConditionalImages } from '../helpers/toy-images.js';

const SPEC = TOY_SPEC;
const data = toyConditionalImages(64, 28, 3);

const batch = (n: number) => toyBatch(data, n, 28);

beforeAll(async () => {
  await initBackend('wasm');
});

describe('dpgan', () => {
  it('keeps BatchNorm out of the discriminator, so the DP validators accept it', () => {
    const g = dpganFactory.create({}, SPEC, { size: 28, channels: 1 }, 1) as Dpgan;
    try {
      const priv = g.privateLayers();
      expect(priv.some((l) => l instanceof BatchNorm)).toBe(false);
      expect(priv.some((l) => l instanceof GroupNorm)).toBe(true);
      expect(priv.every((l) => l.name.startsWith('discriminator/'))).toBe(true);
      expect(dpViolations({ privateLayers: priv, units: 1000, delta: 1e-5, sampling: 'poisson', clipNorm: 1, noiseMultiplier: 1 })).toEqual([]);
    } finally {
      g.dispose();
    }
  });

  it('a DP step updates the discriminator; the generator moves only on its own step, and no tensor leaks', () => {
    const g = dpganFactory.create({ dSteps: 2 }, SPEC, { size: 28, channels: 1 }, 2) as Dpgan;
    const b = batch(16);
    try {
      const snap = () => new Map([...g.weights()].map(([k, v]) => [k, Array.from(v.dataSync().slice(0, 8))]));
      const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
      const w0 = snap();
      const l0 = g.privateStep({ ...b, grouping: null }, 0, dp); // D only (step 0 of a 2-step cycle)
      const w1 = snap();
      const changed = (a: Map<string, number[]>, c: Map<string, number[]>, prefix: string) =>
        [...a.keys()].filter((k) => k.startsWith(prefix) && !k.includes('moving')).some((k) => a.get(k)!.join() !== c.get(k)!.join());
      expect(changed(w0, w1, 'discriminator/')).toBe(true);
      expect(changed(w0, w1, 'generator/')).toBe(false);
      expect(l0.g).toBeUndefined();
      const l1 = g.privateStep({ ...b, grouping: null }, 1, dp); // D, then G
      expect(Number.isFinite(l1.g!)).toBe(true);
      expect(changed(w1, snap(), 'generator/')).toBe(true);
      // An empty Poisson batch is still a (noise-only) D step.
      const empty = { images: tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, cond: tf.zeros([0, 4]) as tf.Tensor2D, grouping: null };
      g.privateStep(empty, 2, dp);
      const before = tf.memory().numTensors;
      g.privateStep({ ...b, grouping: null }, 3, dp);
      g.privateStep(empty, 4, dp);
      g.privateStep({ ...b, grouping: null }, 5, dp);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([empty.images, empty.cond]);
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
    }
  });

  it('takes gSteps G steps per D cycle, each with its own noise, and restores G\'s step count from D\'s', () => {
    const g = dpganFactory.create({ gSteps: 3 }, SPEC, { size: 28, channels: 1 }, 2) as Dpgan;
    const one = dpganFactory.create({ gSteps: 1 }, SPEC, { size: 28, channels: 1 }, 2) as Dpgan;
    const b = batch(16);
    try {
      const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
      g.privateStep({ ...b, grouping: null }, 0, dp);
      expect(g.generatorSteps).toBe(3);
      one.privateStep({ ...b, grouping: null }, 0, dp);
      expect(one.generatorSteps).toBe(1);
      // Same seed, same D step: D agrees; G has moved further with three steps.
      const w = (m: Dpgan, k: string) => Array.from(m.weights().get(k)!.dataSync());
      const dName = [...g.weights().keys()].find((k) => k.startsWith('discriminator/'))!;
      const gName = [...g.weights().keys()].find((k) => k.startsWith('generator/') && !k.startsWith('generator/ema/') && !k.includes('moving'))!;
      expect(w(g, dName)).toEqual(w(one, dName));
      expect(w(g, gName)).not.toEqual(w(one, gName));
      const before = tf.memory().numTensors;
      g.privateStep({ ...b, grouping: null }, 1, dp);
      expect(tf.memory().numTensors).toBe(before);
      expect(g.generatorSteps).toBe(6);
      const state = g.optimizerState();
      const fresh = dpganFactory.create({ gSteps: 3 }, SPEC, { size: 28, channels: 1 }, 2) as Dpgan;
      try {
        fresh.restoreOptimizerState(state);
        expect(fresh.generatorSteps).toBe(6);
        // A checkpoint from before the schedule state was saved (no meta): G's count is derived from D's.
        fresh.restoreOptimizerState({ step: state.step, slots: state.slots });
        expect(fresh.generatorSteps).toBe(6);
      } finally {
        fresh.dispose();
      }
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
      one.dispose();
    }
  });

  it('gWidths and dWidths set the channel widths; a gWidths of the wrong length is refused with the fix', () => {
    const g = dpganFactory.create({ gWidths: [96, 48], dWidths: [8, 16] }, SPEC, { size: 28, channels: 1 }, 1) as Dpgan;
    const cond = tf.tensor2d(encodeConditions(SPEC, [0, 1], [[0, 1]]), [2, 4]);
    try {
      const w = g.weights();
      // G: Dense to 7×7×96, then upconv0 96 → 48 and upconv1 48 → 1 (k3); D: conv0 (1 + 4 condition maps) → 8.
      expect(w.get('generator/in/kernel')!.shape).toEqual([64 + 4, 7 * 7 * 96]);
      expect(w.get('generator/upconv0/kernel')!.shape).toEqual([3, 3, 96, 48]);
      expect(w.get('generator/upconv1/kernel')!.shape).toEqual([3, 3, 48, 1]);
      expect(w.get('discriminator/conv0/kernel')!.shape).toEqual([4, 4, 5, 8]);
      const x = g.sample(cond, 3);
      expect(x.shape).toEqual([2, 28, 28, 1]);
      x.dispose();
    } finally {
      cond.dispose();
      g.dispose();
    }
    expect(() => dpganFactory.create({ gWidths: [64] }, SPEC, { size: 28, channels: 1 }, 1)).toThrow(/gWidths: 1 stages given, but a 28 px generator needs 2/);
  });

  it('adaptive schedule: moves up the D-step ladder when D rejects few fakes, and a checkpoint resumes it exactly', () => {
    // threshold 1: every moving average qualifies, so with grace 1 each G step moves one rung: G steps
    // after D steps 1 (→ 2 per G step), 3 (→ 5), 8 (→ 10).
    const cfg = { dStepsSchedule: 'adaptive', adaptiveThreshold: 1, adaptiveGrace: 1, fakeConditions: 'paired' };
    const make = () => dpganFactory.create(cfg, SPEC, { size: 28, channels: 1 }, 5) as Dpgan;
    const fixed = dpganFactory.create({ fakeConditions: 'paired' }, SPEC, { size: 28, channels: 1 }, 5) as Dpgan;
    const a = make();
    const b = batch(16);
    const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
    const resumed: Dpgan[] = [];
    try {
      const gAfter: number[] = [];
      const perCycle: number[] = [];
      for (let s = 0; s < 8; s++) {
        const out = a.privateStep({ ...b, grouping: null }, s, dp);
        expect(out.d_per_g).toBe(perCycle.length ? perCycle[perCycle.length - 1] : 1);
        gAfter.push(a.generatorSteps);
        perCycle.push(a.discriminatorStepsPerCycle);
      }
      expect(gAfter).toEqual([1, 1, 2, 2, 2, 2, 2, 3]);
      expect(perCycle).toEqual([2, 2, 5, 5, 5, 5, 5, 10]);
      // Fixed schedule, same seed: a G step after every D step.
      for (let s = 0; s < 8; s++) expect(fixed.privateStep({ ...b, grouping: null }, s, dp).d_per_g).toBeUndefined();
      expect(fixed.generatorSteps).toBe(8);
      expect(fixed.discriminatorStepsPerCycle).toBe(1);

      // Resume mid-cycle from the saved state: the next steps match the uninterrupted run bit for bit.
      const mid = make();
      resumed.push(mid);
      for (let s = 0; s < 5; s++) mid.privateStep({ ...b, grouping: null }, s, dp);
      const state = mid.optimizerState();
      expect(state.meta).toMatchObject({ generatorSteps: 2, dSteps: 5, cycleSteps: 2 });
      const again = make();
      resumed.push(again);
      for (const [k, v] of mid.weights()) again.weights().get(k)!.assign(v);
      // The meta goes through JSON, as in a checkpoint's optimizer.json.
      again.restoreOptimizerState({ step: state.step, slots: state.slots, meta: JSON.parse(JSON.stringify(state.meta)) as Record<string, number> });
      const before = tf.memory().numTensors;
      for (let s = 5; s < 8; s++) again.privateStep({ ...b, grouping: null }, s, dp);
      expect(tf.memory().numTensors).toBe(before);
      expect(again.generatorSteps).toBe(3);
      expect(again.discriminatorStepsPerCycle).toBe(10);
      for (const [k, v] of a.weights()) expect(Array.from(again.weights().get(k)!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    } finally {
      tf.dispose([b.images, b.cond]);
      a.dispose();
      fixed.dispose();
      for (const r of resumed) r.dispose();
    }
  });

  it('adaptive schedule with adaptiveMaxDSteps 2: climbs to the cap and stays there', () => {
    // Same set-up as above; uncapped it would move 1 → 2 → 5 → 10. Capped at 2, G steps after every 2nd D step.
    const cfg = { dStepsSchedule: 'adaptive', adaptiveThreshold: 1, adaptiveGrace: 1, adaptiveMaxDSteps: 2, fakeConditions: 'paired' };
    const g = dpganFactory.create(cfg, SPEC, { size: 28, channels: 1 }, 5) as Dpgan;
    const b = batch(16);
    const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
    try {
      const gAfter: number[] = [];
      for (let s = 0; s < 7; s++) {
        g.privateStep({ ...b, grouping: null }, s, dp);
        gAfter.push(g.generatorSteps);
      }
      expect(gAfter).toEqual([1, 1, 2, 2, 3, 3, 4]);
      expect(g.discriminatorStepsPerCycle).toBe(2);
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
    }
  });

  it('reports collapse when the generator stops learning and the discriminator rejects every fake', () => {
    // G never steps (dSteps 1000) while D trains fast: D soon rejects all fakes.
    const g = dpganFactory.create({ dSteps: 1000, lr: 5e-3, collapseWindow: 10 }, SPEC, { size: 28, channels: 1 }, 3);
    const b = batch(32);
    try {
      let err: unknown = null;
      for (let s = 0; s < 300 && !err; s++) {
        try {
          g.trainStep(b, s);
        } catch (e) {
          err = e;
        }
      }
      expect(err).toBeInstanceOf(GeneratorCollapsedError);
      expect((err as Error).message).toMatch(/collapsed at step \d+: the discriminator has rejected >= 99% of generated images for 10 steps in a row/);
    } finally {
      tf.dispose([b.images, b.cond]);
      g.dispose();
    }
  });

  describe('fakeConditions: paired', () => {
    const globalNorm = (grads: Map<tf.Variable, tf.Tensor>) => Math.sqrt([...grads.values()].reduce((a, g) => a + tf.tidy(() => tf.sum(tf.square(g))).dataSync()[0]!, 0));

    it('pairs each real row with a fake of its own condition cell', () => {
      const g = dpganFactory.create({ fakeConditions: 'paired' }, SPEC, { size: 28, channels: 1 }, 4) as Dpgan;
      const b = batch(24);
      try {
        const { pool, partner } = g.pairedFakes(b.cond, 24, g.stepRng(0));
        expect(pool.cond.shape).toEqual([4 * 6, 4]); // 4 cells × ceil(24 / 4)
        const real = b.cond.arraySync();
        const fake = pool.cond.arraySync();
        partner.forEach((j, i) => expect(fake[j]).toEqual(real[i]));
        tf.dispose([pool.images, pool.cond]);
      } finally {
        tf.dispose([b.images, b.cond]);
        g.dispose();
      }
    });

    it("clips a unit's real images and their partner fakes together: norm ≤ C, and = C when clipped", () => {
      const g = dpganFactory.create({ fakeConditions: 'paired' }, SPEC, { size: 28, channels: 1 }, 5) as Dpgan;
      const b = batch(3);
      try {
        // One patient with three images; σ = 0 so the gradient is the clipped sum / expected units (1).
        const patient = { unitOf: Int32Array.from([0, 0, 0]), units: 1 };
        const r = g.pairedDGradients({ ...b, grouping: patient }, { clipNorm: 1e-3, noiseMultiplier: 0, expectedUnits: 1, expectedImages: 3, seed: 1 }, g.stepRng(0));
        expect(globalNorm(r.grads)).toBeGreaterThan(1e-3 * (1 - 1e-4));
        expect(globalNorm(r.grads)).toBeLessThan(1e-3 * (1 + 1e-4));
        tf.dispose([...r.grads.values()]);
      } finally {
        tf.dispose([b.images, b.cond]);
        g.dispose();
      }
    });

    it('unclipped, equals the gradient of Σ softplus(−D(x, c)) + softplus(D(partner fake, c)) (fake term included)', () => {
      const g = dpganFactory.create({ fakeConditions: 'paired' }, SPEC, { size: 28, channels: 1 }, 6) as Dpgan;
      const b = batch(8);
      try {
        const dp = { clipNorm: 1e9, noiseMultiplier: 0, expectedUnits: 8, seed: 1 };
        const r = g.pairedDGradients({ ...b, grouping: null }, dp, g.stepRng(3));
        const { pool, partner } = g.pairedFakes(b.cond, 8, g.stepRng(3)); // the same fakes: same stream
        const params = paramsOf(g.privateLayers());
        const { grads } = tf.variableGrads(() => {
          const idx = tf.tensor1d(partner, 'int32');
          const real = tf.sum(tf.softplus(tf.neg(g.discriminate(b.images, b.cond))));
          const fake = tf.sum(tf.softplus(g.discriminate(tf.gather(pool.images, idx), tf.gather(pool.cond, idx))));
          return tf.div(tf.add(real, fake), 8) as tf.Scalar;
        }, params);
        for (const p of params) {
          const got = r.grads.get(p)!.dataSync();
          const want = grads[p.name]!.dataSync();
          const scale = Math.max(...Array.from(want, Math.abs));
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * scale + 1e-7);
        }
        tf.dispose([...r.grads.values(), ...Object.values(grads), pool.images, pool.cond]);
      } finally {
        tf.dispose([b.images, b.cond]);
        g.dispose();
      }
    });

    it('paired DP steps (also with an empty batch) leak no tensor', () => {
      const g = dpganFactory.create({ fakeConditions: 'paired', dSteps: 2 }, SPEC, { size: 28, channels: 1 }, 7) as Dpgan;
      const b = batch(16);
      const empty = { images: tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, cond: tf.zeros([0, 4]) as tf.Tensor2D, grouping: null };
      try {
        const dp = { clipNorm: 1, noiseMultiplier: 1, expectedUnits: 16, seed: 7 };
        g.privateStep({ ...b, grouping: null }, 0, dp);
        g.privateStep({ ...b, grouping: null }, 1, dp); // first G step: creates G's Adam slots
        const before = tf.memory().numTensors;
        g.privateStep({ ...b, grouping: null }, 2, dp);
        const l = g.privateStep({ ...b, grouping: null }, 3, dp);
        g.privateStep(empty, 4, dp);
        g.trainStep(b, 5);
        expect(tf.memory().numTensors).toBe(before);
        expect(Number.isFinite(l.d_real!) && Number.isFinite(l.d_fake!) && Number.isFinite(l.g!)).toBe(true);
      } finally {
        tf.dispose([b.images, b.cond, empty.images, empty.cond]);
        g.dispose();
      }
    });
  });
});
