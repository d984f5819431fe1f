/**
 * DP-MERF's feature map (models/dpmerf/features.ts) against hand calculations: the random Fourier map's
 * exact unit norm (which the release's sensitivity rests on) and its kernel (Rahimi & Recht 2007:
 * E φ(x)·φ(y) = exp(−||x − y||² / 2ℓ²)), the average pooling in front of it against a loop, and the
 * patch-averaged map against a loop over patches and against its kernel, the mean of k over patch pairs.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchRffEmbed, poolFlatten, rffEmbed, rffFrequencies } from '../../models/dpmerf/features.js';
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

describe('patch-averaged random Fourier features', () => {
  const [p, stride, h, c] = [3, 2, 7, 2]; // 3 × 3 positions of 3 × 3 × 2 patches
  const d = p * p * c;
  const patchesOf = (img: Float32Array): number[][] => {
    const out: number[][] = [];
    for (let y = 0; y + p <= h; y += stride) for (let x = 0; x + p <= h; x += stride) {
      const v: number[] = [];
      for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) for (let ch = 0; ch < c; ch++) v.push(img[((y + i) * h + x + j) * c + ch]!);
      out.push(v);
    }
    return out;
  };

  it('are the mean over positions of cos and sin of each flattened patch (row-major, channels last), as a loop computes them', () => {
    const f = 5;
    const rng = new Rng(11);
    const omega = rffFrequencies(d, f, [0.3], new Rng(2));
    const img = Float32Array.from({ length: h * h * c }, () => rng.uniform());
    const got = tf.tidy(() => patchRffEmbed(tf.tensor4d(img, [1, h, h, c]), tf.tensor4d(omega, [p, p, c, f]), stride).arraySync())[0]!;
    const patches = patchesOf(img);
    expect(patches.length).toBe(9);
    for (let j = 0; j < f; j++) {
      let cos = 0;
      let sin = 0;
      for (const v of patches) {
        const t = v.reduce((acc, x, i) => acc + x * omega[i * f + j]!, 0);
        cos += Math.cos(t);
        sin += Math.sin(t);
      }
      expect(got[j]).toBeCloseTo(cos / patches.length / Math.sqrt(f), 5);
      expect(got[f + j]).toBeCloseTo(sin / patches.length / Math.sqrt(f), 5);
    }
  });

  it('have norm at most 1 and approximate the patch-averaged Gaussian kernel within Monte Carlo error', () => {
    const f = 4000;
    const r = 0.25;
    const rng = new Rng(13);
    const imgs = Float32Array.from({ length: 2 * h * h * c }, () => rng.uniform() * 0.6);
    const omega = tf.tensor4d(rffFrequencies(d, f, [r], new Rng(4)), [p, p, c, f]);
    try {
      const psi = tf.tidy(() => patchRffEmbed(tf.tensor4d(imgs, [2, h, h, c]), omega, stride).arraySync());
      const dot = (a: number[], b: number[]) => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
      expect(dot(psi[0]!, psi[0]!)).toBeLessThanOrEqual(1 + 1e-5);
      const [a, b] = [patchesOf(imgs.subarray(0, h * h * c)), patchesOf(imgs.subarray(h * h * c))];
      const ell = r * Math.sqrt(d);
      let kernel = 0;
      for (const u of a) for (const v of b) kernel += Math.exp(-u.reduce((acc, x, i) => acc + (x - v[i]!) ** 2, 0) / (2 * ell * ell));
      kernel /= a.length * b.length;
      // ψ(x)·ψ(y) = (1/F) Σ_j mean over patch pairs of cos(ω_j·(u − v)): a mean of F terms in [−1, 1].
      expect(Math.abs(dot(psi[0]!, psi[1]!) - kernel)).toBeLessThan(4 / Math.sqrt(2 * f));
      expect(kernel).toBeGreaterThan(0.2); // not vacuous: the patches are neither equal nor far apart
      expect(kernel).toBeLessThan(0.9);
    } finally {
      omega.dispose();
    }
  });
});
