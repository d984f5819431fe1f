/**
 * The native BatchMatMul (native/medsynth_dnnl.cc runMatMul, behind the wasm backend's BatchMatMul in
 * src/backend/native.ts) against tfjs's pure-JS `cpu` backend, the correctness oracle. tf.matMul hands
 * 2-D operands to the kernel as they are, so the 2-D cases (every Dense layer, forward and both
 * gradients) are here beside the batched ones; a call counter makes a silent fall-back to the wasm
 * kernel fail. Agreement ≤ 1e-5 relative to the largest output.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, nativeMatMulCalls } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';

const addon = loadNativeAddon();

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  /** Whether the addon should take it (rank 2 or 3, float32). */
  native: boolean;
}

const CASES: Case[] = [
  { name: "gan28 G's Dense forward", a: [64, 102], b: [102, 6272], transposeA: false, transposeB: false, native: true },
  { name: 'its weight gradient (xᵀ·dy)', a: [64, 102], b: [64, 6272], transposeA: true, transposeB: false, native: true },
  { name: 'its input gradient (dy·Wᵀ)', a: [64, 6272], b: [102, 6272], transposeA: false, transposeB: true, native: true },
  { name: "D's one-unit head, weight gradient", a: [128, 6272], b: [128, 1], transposeA: true, transposeB: false, native: true },
  { name: 'an outer product (k = 1)', a: [128, 1], b: [6272, 1], transposeA: false, transposeB: true, native: true },
  { name: 'both transposed, odd sizes', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true, native: true },
  { name: 'batched', a: [4, 9, 11], b: [4, 11, 6], transposeA: false, transposeB: false, native: true },
  { name: 'batched, b broadcast', a: [4, 11, 9], b: [1, 6, 11], transposeA: true, transposeB: true, native: true },
  { name: 'rank 4 (left to wasm)', a: [2, 3, 4, 5], b: [2, 3, 5, 6], transposeA: false, transposeB: false, native: false },
];

async function matMul(backend: 'cpu' | 'wasm', c: Case): Promise<{ shape: number[]; data: Float32Array }> {
  await initBackend(backend);
  const rng = new Rng(c.a.length * 1000 + c.a[0]! * 7 + c.b[c.b.length - 1]!);
  const fill = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => rng.normal()), shape);
  return tf.tidy(() => {
    const y = tf.matMul(fill(c.a), fill(c.b), c.transposeA, c.transposeB);
    return { shape: y.shape, data: y.dataSync() as Float32Array };
  });
}

describe.skipIf(!addon)('native BatchMatMul (skipped: the native addon is not built; npm run build:native)', () => {
  for (const c of CASES) {
    it(`${c.name}: [${c.a}]${c.transposeA ? 'ᵀ' : ''} · [${c.b}]${c.transposeB ? 'ᵀ' : ''} as the cpu backend; ${c.native ? 'native' : 'wasm kernel'}`, async () => {
      const want = await matMul('cpu', c);
      const before = nativeMatMulCalls();
      const tensorsBefore = tf.memory().numTensors;
      const got = await matMul('wasm', c);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(nativeMatMulCalls() - before).toBe(c.native ? 1 : 0);
      expect(got.shape).toEqual(want.shape);
      let scale = 1e-6;
      let max = 0;
      for (let i = 0; i < want.data.length; i++) {
        scale = Math.max(scale, Math.abs(want.data[i]!));
        max = Math.max(max, Math.abs(got.data[i]! - want.data[i]!));
      }
      expect(max / scale).toBeLessThanOrEqual(1e-5);
    });
  }
});
