/**
 * The native element-wise kernels (native/medsynth_dnnl.cc "Element-wise float32 kernels", behind the
 * wasm backend's Add, Sub, Multiply, RealDiv, LeakyRelu, Relu, Concat and SplitV, and the LeakyRelu/Relu
 * gradient kernel, in src/backend/native.ts) against tfjs's pure-JS `cpu` backend, the correctness oracle.
 * Each is one IEEE float32 operation per element, so agreement is exact: the same value for every element,
 * −0 told from +0, NaN where the cpu backend has NaN. Covered: same shapes, a scalar and a last-axis row
 * on either side, shapes above and below the size the addon takes, and the shapes it leaves to wasm
 * (other broadcasts, int32, small tensors), with a call counter so a silent fall-back fails the test.
 *
 * The file runs with OMP_NUM_THREADS=2 (set before the addon loads; vitest.config.ts sets 1 for the other
 * files), so the kernels' second thread takes part: the results must not depend on the thread count.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { LEAKY_RELU_GRAD, NATIVE_MIN, loadNativeAddon, nativeElementwiseCalls, setNativeKernelsEnabled } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';

process.env.OMP_NUM_THREADS = '2';
const addon = loadNativeAddon();

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 3.4e38, -3.4e38, 1, -1];

/**
 * Normal values, with every 97th element a special one (zeros, infinities, NaN, subnormals, huge), at
 * places that depend on the seed: two operands do not have their special values at the same elements.
 */
function values(shape: number[], seed: number, dtype: 'float32' | 'int32' = 'float32'): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int32') return tf.tensor(Int32Array.from({ length: n }, () => rng.int(200) - 100), shape, 'int32');
  const v = Float32Array.from({ length: n }, (_, i) => (i % 97 === seed % 97 ? SPECIAL[(i / 97) % SPECIAL.length | 0]! : rng.normal()));
  return tf.tensor(v, shape);
}

interface Out {
  shape: number[];
  data: Float32Array | Int32Array;
}

async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await initBackend(backend);
  return tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array | Int32Array }));
  });
}

/** Index of the first element where got and want differ (Object.is: −0 ≠ +0, NaN = NaN), or -1. */
function firstDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

/**
 * Runs f on cpu, then on wasm, checking: the same shapes and bits, `calls` more native calls of `kernel`,
 * and no tensor left behind.
 */
async function check(kernel: string, calls: number, f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const want = await on('cpu', f);
  await initBackend('wasm');
  const before = nativeElementwiseCalls(kernel);
  const tensors = tf.memory().numTensors;
  const got = await on('wasm', f);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(nativeElementwiseCalls(kernel) - before).toBe(calls);
  expect(got.map((o) => o.shape)).toEqual(want.map((o) => o.shape));
  got.forEach((o, k) => {
    const i = firstDifference(o.data, want[k]!.data);
    expect(i, i < 0 ? '' : `output ${k} element ${i}: ${o.data[i]} (wasm) vs ${want[k]!.data[i]} (cpu)`).toBe(-1);
  });
}

const BIG = [16, 14, 14, 64];

interface BinaryCase {
  name: string;
  a: number[] | 'scalar';
  b: number[] | 'scalar';
  native: boolean;
  dtype?: 'int32';
}

const BINARY_CASES: BinaryCase[] = [
  { name: 'same shape', a: BIG, b: BIG, native: true },
  { name: 'a scalar on the right', a: BIG, b: 'scalar', native: true },
  { name: 'a scalar on the left', a: 'scalar', b: BIG, native: true },
  { name: 'a [C] row on the right', a: BIG, b: [64], native: true },
  { name: 'a [1, 1, 1, C] row on the left', a: [1, 1, 1, 64], b: BIG, native: true },
  { name: 'a dense-layer row [6272] against [64, 6272]', a: [64, 6272], b: [6272], native: true },
  { name: 'a [1, C] row of higher rank than needed', a: [1, 1, 6272], b: [64, 6272], native: true },
  { name: 'group-norm statistics [64, 1, 32, 1] (another broadcast: wasm)', a: [64, 49, 32, 4], b: [64, 1, 32, 1], native: false },
  { name: 'a [.., 1] column (another broadcast: wasm)', a: [16, 14, 14, 1], b: BIG, native: false },
  { name: 'a dense bias [128] against [32, 128] (a row from 4096 elements)', a: [32, 128], b: [128], native: true },
  { name: 'a small row [30] against [20, 30] (wasm)', a: [20, 30], b: [30], native: false },
  { name: 'same shape [32, 128] (under the same-shape threshold: wasm)', a: [32, 128], b: [32, 128], native: false },
  { name: 'small (wasm)', a: [20, 30], b: [20, 30], native: false },
  { name: 'int32 (wasm)', a: BIG, b: BIG, native: false, dtype: 'int32' },
];

const BINARY_OPS: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['Add', tf.add],
  ['Sub', tf.sub],
  ['Multiply', tf.mul],
  ['RealDiv', tf.div],
];

describe.skipIf(!addon)('native element-wise kernels against the cpu backend (skipped: the native addon is not built; npm run build:native)', () => {
  it('runs on two threads in this file', () => {
    expect(addon!.elementwiseThreads()).toBe(2);
  });

  for (const [kernel, op] of BINARY_OPS) {
    for (const c of BINARY_CASES) {
      if (c.dtype === 'int32' && kernel === 'RealDiv') continue; // tf.div of int32 is floor division
      it(`${kernel}, ${c.name}: the cpu backend's bits; ${c.native ? 'native' : 'wasm kernel'}`, async () => {
        await check(kernel, c.native ? 1 : 0, () => {
          const t = (s: number[] | 'scalar', seed: number) => (s === 'scalar' ? tf.scalar(seed === 1 ? 0.3 : -1.7) : values(s, seed, c.dtype));
          return op(t(c.a, 1), t(c.b, 2));
        });
      });
    }
  }

  it('RealDiv by zero, by infinities and by NaN: the cpu backend’s bits', async () => {
    await check('RealDiv', 1, () => {
      const n = BIG.reduce((a, b) => a * b, 1);
      const b = tf.tensor(Float32Array.from({ length: n }, (_, i) => SPECIAL[i % SPECIAL.length]!), BIG);
      return tf.div(values(BIG, 3), b);
    });
  });

  for (const alpha of [0.2, 0.01]) {
    for (const shape of [BIG, [16, 7, 7, 128], [4, 1000], [8, 100]]) {
      const native = shape.reduce((a, b) => a * b, 1) >= NATIVE_MIN.leakyRelu;
      it(`LeakyRelu (alpha ${alpha}) of [${shape}] and its gradient: the cpu backend's bits; ${native ? 'native' : 'wasm kernel / JavaScript'}`, async () => {
        // The forward below the threshold is tfjs's wasm kernel, which rounds alpha·x in float32 (the cpu
        // backend in double): compared within one ulp there.
        const want = await on('cpu', () => tf.leakyRelu(values(shape, 4), alpha));
        const before = nativeElementwiseCalls('LeakyRelu');
        const got = await on('wasm', () => tf.leakyRelu(values(shape, 4), alpha));
        expect(nativeElementwiseCalls('LeakyRelu') - before).toBe(native ? 1 : 0);
        if (native) expect(firstDifference(got[0]!.data, want[0]!.data)).toBe(-1);
        else {
          const far = Array.from(got[0]!.data).findIndex((v, i) => {
            const w = want[0]!.data[i]!;
            return !Object.is(v, w) && !(Math.abs(v - w) <= Math.abs(w) * 1.2e-7);
          });
          expect(far).toBe(-1);
        }
        // The gradient is dy·step(x, alpha) with dy = w, the weights of the summed product.
        await check(LEAKY_RELU_GRAD, native ? 1 : 0, () =>
          tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, alpha), values(shape, 5))))(values(shape, 4)),
        );
      });
    }
  }

  it('with the native kernels turned off, the LeakyRelu gradient is the wasm Step and Multiply: the same bits, nothing left behind', async () => {
    await initBackend('wasm');
    const buffers = tf.engine().backend.numDataIds();
    setNativeKernelsEnabled(false);
    try {
      await check(LEAKY_RELU_GRAD, 0, () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, 0.2), values(BIG, 5))))(values(BIG, 4)));
    } finally {
      setNativeKernelsEnabled(true);
    }
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });

  for (const shape of [[16, 32, 32, 32], [64, 6272], [20, 30]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    it(`Relu of [${shape}]: the cpu backend's bits; ${n >= NATIVE_MIN.relu ? 'native' : 'wasm kernel'}`, async () => {
      await check('Relu', n >= NATIVE_MIN.relu ? 1 : 0, () => tf.relu(values(shape, 6)));
    });
    it(`the Relu gradient on [${shape}]: the cpu backend's bits; ${n >= NATIVE_MIN.leakyRelu ? 'native' : 'JavaScript'}`, async () => {
      await check(LEAKY_RELU_GRAD, n >= NATIVE_MIN.leakyRelu ? 1 : 0, () =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), values(shape, 7))))(values(shape, 6)),
      );
    });
  }

  it('an infinite or NaN dy through the LeakyRelu gradient: the cpu backend’s bits', async () => {
    await check(LEAKY_RELU_GRAD, 1, () => {
      const n = BIG.reduce((a, b) => a * b, 1);
      const dy = tf.tensor(Float32Array.from({ length: n }, (_, i) => SPECIAL[(i * 7) % SPECIAL.length]!), BIG);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, 0.2), dy)))(values(BIG, 8));
    });
  });

  const CONCATS: { name: string; shapes: number[][]; axis: number; native: boolean; dtype?: 'int32' }[] = [
    { name: 'image ++ condition maps along the last axis', shapes: [[64, 28, 28, 1], [64, 28, 28, 4]], axis: 3, native: true },
    { name: 'three parts along the last axis, axis -1', shapes: [[64, 14, 14, 64], [64, 14, 14, 3], [64, 14, 14, 1]], axis: -1, native: true },
    { name: 'along axis 0', shapes: [[64, 6272], [32, 6272]], axis: 0, native: true },
    { name: 'long rows along axis 0 (pieces cut in blocks)', shapes: [[1, 100000], [1, 70000]], axis: 1, native: true },
    { name: 'along a middle axis', shapes: [[8, 10, 200, 3], [8, 5, 200, 3]], axis: 1, native: true },
    { name: 'small (wasm)', shapes: [[64, 100], [64, 4]], axis: 1, native: false },
    { name: 'int32 (wasm)', shapes: [[64, 28, 28, 1], [64, 28, 28, 4]], axis: 3, native: false, dtype: 'int32' },
  ];
  for (const c of CONCATS) {
    it(`Concat, ${c.name}: the cpu backend's bits; ${c.native ? 'native' : 'wasm kernel'}`, async () => {
      await check('Concat', c.native ? 1 : 0, () => tf.concat(c.shapes.map((s, k) => values(s, 10 + k, c.dtype)), c.axis));
    });
    if (c.dtype === 'int32') continue;
    it(`SplitV, the inverse of: ${c.name}; ${c.native ? 'native' : 'wasm kernel'}`, async () => {
      const axis = c.axis < 0 ? c.axis + c.shapes[0]!.length : c.axis;
      const sizes = c.shapes.map((s) => s[axis]!);
      const whole = c.shapes[0]!.map((d, i) => (i === axis ? sizes.reduce((a, b) => a + b, 0) : d));
      await check('SplitV', c.native ? 1 : 0, () => tf.split(values(whole, 20), sizes, c.axis));
    });
  }

  it('SplitV with -1 for one size, and the gradient of a Concat (a SplitV): the cpu backend’s bits', async () => {
    await check('SplitV', 1, () => tf.split(values([64, 28, 28, 5], 21), [1, -1], 3));
    await check('SplitV', 1, () => {
      const maps = values([64, 28, 28, 4], 22);
      const w = values([64, 28, 28, 5], 23);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.concat([x, maps], 3), w)))(values([64, 28, 28, 1], 24));
    });
  });
});
