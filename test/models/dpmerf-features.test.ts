/**
 * DP-MERF's feature map (models/dpmerf/features.ts) against hand calculations: the random Fourier map's
 * exact unit norm (which the release's sensitivity rests on) and its kernel (Rahimi & Recht 2007:
 * E φ(x)·φ(y) = exp(−||x − y||² / 2ℓ²)), and the average pooling in front of it against a loop.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { poolFlatten, rffEmbed, rffFrequencies } from '../../models/dpmerf/features.js';
import { initBackend } from '../../src/backend/index.js';
import { Rng } from '../../src/core/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('random Fourier features', () => {
  it('have norm 1 exactly and approximate the Gaussian kernel within Monte Carlo error', () => {
    const d = 16;
    const f = 4000;
    const r = 0.2; // ℓ = r·sqrt(d) = 0.8
    const omega = tf.tensor2d(rffFrequencies(d, f, [r], new Rng(3)), [d, f]);
    const rng = new Rng(5);
    const xs = Float32Array.from({ length: 2 * d }, () => rng.uniform() * 0.5);
    try {
      const phi = tf.tidy(() => rffEmbed(tf.tensor2d(xs, [2, d]), omega).arraySync());
      const dot = (a: number[], b: number[]) => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
      expect(dot(phi[0]!, phi[0]!)).toBeCloseTo(1, 5);
      expect(dot(phi[1]!, phi[1]!)).toBeCloseTo(1, 5);
      let dist2 = 0;
      for (let i = 0; i < d; i++) dist2 += (xs[i]! - xs[d + i]!) ** 2;
      const ell = r * Math.sqrt(d);
      const kernel = Math.exp(-dist2 / (2 * ell * ell));
      // φ(x)·φ(y) = (1/F) Σ_j cos(ω_j·(x − y)): a mean of F terms in [−1, 1], standard error ≤ 1/sqrt(2F).
      expect(Math.abs(dot(phi[0]!, phi[1]!) - kernel)).toBeLessThan(4 / Math.sqrt(2 * f));
      expect(kernel).toBeGreaterThan(0.2); // the check is not vacuous: the points are neither equal nor far apart
      expect(kernel).toBeLessThan(0.9);
    } finally {
      omega.dispose();
    }
  });
});

describe('pooled pixels', () => {
  it('average each k×k block and flatten row-major, channels last, as a loop does', () => {
    const [b, h, c, side] = [2, 8, 3, 2];
    const rng = new Rng(7);
    const data = Float32Array.from({ length: b * h * h * c }, () => rng.uniform());
    const got = tf.tidy(() => poolFlatten(tf.tensor4d(data, [b, h, h, c]), side).arraySync());
    const k = h / side;
    for (let n = 0; n < b; n++) {
      for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let y = i * k; y < (i + 1) * k; y++) for (let x = j * k; x < (j + 1) * k; x++) sum += data[((n * h + y) * h + x) * c + ch]!;
        expect(got[n]![(i * side + j) * c + ch]).toBeCloseTo(sum / (k * k), 5);
      }
    }
  });
});
