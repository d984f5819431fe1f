/**
 * The native Gaussian fill (native/medsynth_dnnl.cc runFillNormal, offered to src/core/gaussian.ts through
 * src/core/accelerators.ts) against fillNormal's own JavaScript loop: the same float32 samples, bit for
 * bit, over millions of draws (so over thousands of slow-path wedge and tail samples), several seeds, sds
 * and lengths, and a view into a larger buffer. A call counter makes a silent fall-back fail.
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, nativeFillNormalCalls, setNativeKernelsEnabled } from '../../../src/backend/native.js';
import { fillNormal } from '../../../src/core/gaussian.js';

const addon = loadNativeAddon();

function both(n: number, seed: number, sd: number): { native: Float32Array; js: Float32Array } {
  const before = nativeFillNormalCalls();
  const native = fillNormal(new Float32Array(n), seed, sd);
  expect(nativeFillNormalCalls() - before).toBe(1);
  setNativeKernelsEnabled(false);
  try {
    const js = fillNormal(new Float32Array(n), seed, sd);
    expect(nativeFillNormalCalls() - before).toBe(1);
    return { native, js };
  } finally {
    setNativeKernelsEnabled(true);
  }
}

/** Index of the first differing sample, or -1 (bitwise: +0 and −0 differ, as bytes would). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return ua.length === ub.length ? -1 : ua.length;
}

describe.skipIf(!addon)('native Gaussian fill (skipped: the native addon is not built; npm run build:native)', () => {
  it('gives the JavaScript loop\'s samples bit for bit, over 4 million draws with thousands of tail samples', async () => {
    await initBackend('wasm');
    const { native, js } = both(4_000_000, 0x9e3779b1, 1);
    expect(firstDifference(native, js)).toBe(-1);
    let tail = 0;
    for (const v of js) if (Math.abs(v) > 3.442619855899) tail++;
    expect(tail).toBeGreaterThan(1500); // P(|x| > r) ≈ 5.8e-4: the slow path's tail really ran
  });

  it.each([
    [1, 0.6003],
    [2 ** 32 - 1, 3.731],
    [12345, 0],
    [7, 1e-3],
  ])('seed %d, sd %d: the same samples', async (seed, sd) => {
    await initBackend('wasm');
    for (const n of [1, 255, 100_003]) {
      const { native, js } = both(n, seed, sd);
      expect(firstDifference(native, js), `n=${n}`).toBe(-1);
    }
  });

  it('fills a view into a larger buffer where the view is, and nothing else', async () => {
    await initBackend('wasm');
    const buffer = new Float32Array(1000).fill(42);
    fillNormal(buffer.subarray(100, 900), 99, 2);
    setNativeKernelsEnabled(false);
    const want = fillNormal(new Float32Array(800), 99, 2);
    setNativeKernelsEnabled(true);
    expect(firstDifference(buffer.subarray(100, 900), want)).toBe(-1);
    expect(buffer.subarray(0, 100).every((v) => v === 42)).toBe(true);
    expect(buffer.subarray(900).every((v) => v === 42)).toBe(true);
  });
});
