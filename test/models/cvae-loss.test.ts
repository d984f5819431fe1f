import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { betaAt, klDivergence, reconstruction } from '../../models/cvae/loss.js';
import { initBackend } from '../../src/backend/index.js';
import { loadFixture } from '../helpers/fixtures.js';

interface LossFixture {
  x: number[][]; out: number[][]; shape: [number, number, number, number]; mu: number[][]; logvar: number[][];
  sigma: number; kl: number; rec_bernoulli: number; rec_gaussian: number; free_bits: number; kl_free_bits: number;
}
const fx = loadFixture<LossFixture>('cvae-loss');

describe('cVAE loss terms against hand-calculated values', () => {
  it.each(['wasm', 'cpu'] as const)('on %s', async (backend) => {
    await initBackend(backend);
    const [kl, rb, rg, klFree] = tf.tidy(() => {
      const x = tf.tensor4d(fx.x.flat(), fx.shape);
      const out = tf.tensor4d(fx.out.flat(), fx.shape);
      const mu = tf.tensor2d(fx.mu);
      const lv = tf.tensor2d(fx.logvar);
      return [
        klDivergence(mu, lv).dataSync()[0]!,
        reconstruction(x, out, 'bernoulli').dataSync()[0]!,
        reconstruction(x, out, 'gaussian', tf.scalar(Math.log(fx.sigma))).dataSync()[0]!,
        klDivergence(mu, lv, fx.free_bits).dataSync()[0]!,
      ];
    });
    expect(kl).toBeCloseTo(fx.kl, 5);
    expect(rb).toBeCloseTo(fx.rec_bernoulli, 5);
    expect(rg).toBeCloseTo(fx.rec_gaussian, 4);
    // Free bits: 3 of the 6 (example, dimension) terms are below λ = 0.1 and count as 0.1.
    expect(klFree).toBeCloseTo(fx.kl_free_bits, 5);
    expect(klFree).toBeGreaterThan(kl + 0.1);
  });

  it('warms beta up linearly', () => {
    expect(betaAt(2, 0, 100)).toBe(0);
    expect(betaAt(2, 50, 100)).toBe(1);
    expect(betaAt(2, 500, 100)).toBe(2);
    expect(betaAt(2, 0, 0)).toBe(2);
  });
});
