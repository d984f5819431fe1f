/**
 * The native Sum and Mean over leading axes (native/medsynth_dnnl.cc runSumLeading, behind the wasm
 * backend's Sum and Mean kernels in src/backend/native.ts) against tfjs's pure-JS `cpu` backend, the
 * correctness oracle: bias-gradient and batch-norm shapes, negative axes, keepDims, and the shapes it
 * leaves to the wasm kernels (other axes, small tensors, a full reduction). Agreement ≤ 1e-5 relative.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, nativeReduceCalls } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';

const addon = loadNativeAddon();

interface Case {
  shape: number[];
  axis: number | number[] | null;
  keepDims: boolean;
  /** Whether the addon should take it (leading axes, some kept, at least 4096 elements). */
  native: boolean;
}

const CASES: Case[] = [
  { shape: [64, 16, 16, 32], axis: [0, 1, 2], keepDims: false, native: true }, // a conv bias gradient
  { shape: [64, 16, 16, 32], axis: [-4, -3, -2], keepDims: true, native: true },
  { shape: [300, 70], axis: 0, keepDims: false, native: true }, // a dense bias gradient; rows not a multiple of 256
  { shape: [8, 9, 10, 11], axis: [1, 0], keepDims: false, native: true }, // unsorted axes
  { shape: [64, 16, 16, 32], axis: [1, 2], keepDims: false, native: false }, // not leading
  { shape: [64, 16, 16, 32], axis: [0, 1, 2, 3], keepDims: false, native: false }, // everything
  { shape: [64, 16, 16, 32], axis: null, keepDims: false, native: false },
  { shape: [20, 8], axis: 0, keepDims: false, native: false }, // small
];

async function reduce(backend: 'cpu' | 'wasm', c: Case, mean: boolean): Promise<{ shape: number[]; data: Float32Array }> {
  await initBackend(backend);
  const rng = new Rng(c.shape.reduce((a, b) => a * 31 + b, 7));
  const n = c.shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const x = tf.tensor(Float32Array.from({ length: n }, () => rng.normal() + 0.5), c.shape);
    const y = mean ? tf.mean(x, c.axis ?? undefined, c.keepDims) : tf.sum(x, c.axis ?? undefined, c.keepDims);
    return { shape: y.shape, data: y.dataSync() as Float32Array };
  });
}

describe.skipIf(!addon)('native Sum and Mean over leading axes (skipped: the native addon is not built; npm run build:native)', () => {
  for (const mean of [false, true]) {
    for (const c of CASES) {
      it(`${mean ? 'mean' : 'sum'} of [${c.shape}] over ${JSON.stringify(c.axis)}${c.keepDims ? ', keepDims' : ''}: as the cpu backend; ${c.native ? 'native' : 'wasm kernel'}`, async () => {
        const want = await reduce('cpu', c, mean);
        const before = nativeReduceCalls();
        const tensorsBefore = tf.memory().numTensors;
        const got = await reduce('wasm', c, mean);
        expect(tf.memory().numTensors).toBe(tensorsBefore);
        expect(nativeReduceCalls() - before).toBe(c.native ? 1 : 0);
        expect(got.shape).toEqual(want.shape);
        const scale = Math.max(...Array.from(want.data, Math.abs), 1e-6);
        let max = 0;
        for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - want.data[i]!));
        expect(max / scale).toBeLessThanOrEqual(1e-5);
      });
    }
  }
});
