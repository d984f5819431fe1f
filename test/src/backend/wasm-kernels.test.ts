/**
 * medsynth's conv kernels for the wasm backend against tfjs's pure-JS `cpu` backend, the correctness
 * oracle: conv2d and conv2dTranspose, forward and both gradients, on random shapes, strides 1–2, kernels
 * 3–5, 'same' and 'valid'. Agreement is max|a − b| / max|b| ≤ 1e-4. Both implementations are checked:
 * the composite XNNPACK kernels (src/backend/wasm-kernels.ts) and, where it was built, the native oneDNN
 * addon (src/backend/native.ts).
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, setNativeKernelsEnabled } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';

interface Case {
  n: number; h: number; w: number; ci: number; co: number; k: number; s: 1 | 2; pad: 'same' | 'valid'; transpose: boolean; seed: number;
}

type Result = { y: Float32Array; dx: Float32Array; dw: Float32Array };

async function run(backend: 'cpu' | 'wasm', c: Case): Promise<Result> {
  await initBackend(backend);
  const rng = new Rng(c.seed);
  const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  return tf.tidy(() => {
    // conv2d: x [n, h, w, ci], filter [k, k, ci, co].
    // conv2dTranspose: x [n, h, w, co] → output [n, H, W, ci] with the same filter layout.
    const outH = c.pad === 'same' ? c.h * c.s : (c.h - 1) * c.s + c.k;
    const outW = c.pad === 'same' ? c.w * c.s : (c.w - 1) * c.s + c.k;
    const x = rand([c.n, c.h, c.w, c.transpose ? c.co : c.ci]) as tf.Tensor4D;
    const f = rand([c.k, c.k, c.ci, c.co]) as tf.Tensor4D;
    const op = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      c.transpose ? tf.conv2dTranspose(a, b, [c.n, outH, outW, c.ci], c.s, c.pad) : tf.conv2d(a, b, c.s, c.pad);
    const y = op(x, f);
    const weights = rand(y.shape);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), weights)))([x, f]);
    return { y: y.dataSync() as Float32Array, dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 5, max: 12 }),
  w: fc.integer({ min: 5, max: 12 }),
  ci: fc.integer({ min: 1, max: 4 }),
  co: fc.integer({ min: 1, max: 5 }),
  k: fc.integer({ min: 3, max: 5 }),
  s: fc.constantFrom(1 as const, 2 as const),
  pad: fc.constantFrom('same' as const, 'valid' as const),
  transpose: fc.boolean(),
  seed: fc.nat(10_000),
});

const hasNative = loadNativeAddon() !== null;
if (!hasNative) console.warn('skipping native conv kernel tests: the oneDNN addon is not built (needs libdnnl-dev; see README)');

describe.each([
  ['composite XNNPACK', false],
  ['native oneDNN', true],
] as const)('wasm conv kernels (%s) match the cpu oracle', (_label, native) => {
  it.skipIf(native && !hasNative)('on random shapes (conv2d and conv2dTranspose; forward, dx, dw)', async () => {
    setNativeKernelsEnabled(native);
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const ref = await run('cpu', c);
        const got = await run('wasm', c);
        expect(relErr(got.y, ref.y), `y ${JSON.stringify(c)}`).toBeLessThanOrEqual(1e-4);
        expect(relErr(got.dx, ref.dx), `dx ${JSON.stringify(c)}`).toBeLessThanOrEqual(1e-4);
        expect(relErr(got.dw, ref.dw), `dw ${JSON.stringify(c)}`).toBeLessThanOrEqual(1e-4);
      }),
      { numRuns: 60, seed: 1234 },
    );
    setNativeKernelsEnabled(true);
  });

  it.skipIf(native && !hasNative)('release every intermediate tensor', async () => {
    setNativeKernelsEnabled(native);
    await initBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal([4, 4, 3, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() => {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, f]);
        return tf.add(tf.sum(dx!), tf.sum(dw!)).dataSync()[0];
      });
    step(); // burn-in
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    // The backend's own buffer table also sees intermediates that never became engine tensors.
    const dataIds = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    tf.dispose([x, f]);
    setNativeKernelsEnabled(true);
  });
});

describe('wasm Cast to the same dtype', () => {
  it('shares the buffer (no copy) and keeps it alive after the source is disposed', async () => {
    await initBackend('wasm');
    const buffers = tf.engine().backend.numDataIds();
    const x = tf.tensor([1.5, -0, NaN, 3], [2, 2]);
    const y = tf.cast(x, 'float32');
    expect(y.dataId).toBe(x.dataId);
    expect(tf.engine().backend.numDataIds() - buffers).toBe(1); // one buffer for both
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -0, NaN, 3]);
    y.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    // A cast that changes the dtype still converts.
    const b = tf.tensor([true, false], [2], 'bool');
    const f = tf.cast(b, 'float32');
    expect(f.dtype).toBe('float32');
    expect(Array.from(f.dataSync())).toEqual([1, 0]);
    tf.dispose([b, f]);
  });
});
