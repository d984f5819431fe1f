/**
 * The fused GroupNorm and BatchNorm kernels (native/medsynth_dnnl.cc runNormForward / runNormBackward,
 * registered for wasm by src/backend/native.ts and used by src/nn/layers.ts) against the composed tfjs
 * ops on the pure-JS `cpu` backend, the correctness oracle: y, x̂ (GroupNorm's tape input), the gradients
 * of x, γ and β, and BatchNorm's running statistics, on gan28's shapes and small odd ones. A call counter
 * makes a silent fallback to the composed path fail. Agreement ≤ 1e-5 relative to the largest entry.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon, nativeNormCalls, setNativeKernelsEnabled } from '../../../src/backend/native.js';
import { Rng } from '../../../src/core/rng.js';
import { BatchNorm, GroupNorm, type Layer, type Tape } from '../../../src/nn/layers.js';

const addon = loadNativeAddon();

interface Case {
  kind: 'group' | 'batch';
  shape: number[];
  /** GroupNorm's groups. */
  groups?: number;
  label: string;
}

const CASES: Case[] = [
  { kind: 'group', shape: [64, 7, 7, 128], groups: 32, label: "gan28's D" },
  { kind: 'group', shape: [3, 5, 3, 12], groups: 4, label: 'small odd' },
  { kind: 'group', shape: [2, 17, 19, 6], groups: 6, label: 'one channel per group, rows over a block' },
  { kind: 'group', shape: [5, 1, 1, 8], groups: 1, label: '1x1, one group' },
  { kind: 'batch', shape: [64, 6272], label: "gan28's G after its Dense" },
  { kind: 'batch', shape: [64, 7, 7, 128], label: 'NHWC, 128 channels' },
  { kind: 'batch', shape: [64, 14, 14, 64], label: "gan28's G after its first ConvT" },
  { kind: 'batch', shape: [3, 5, 7, 3], label: 'small odd' },
  { kind: 'batch', shape: [300, 10], label: 'rank 2, rows not a multiple of the block' },
];

interface Result {
  y: Float32Array;
  xhat: Float32Array | null;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  movingMean: Float32Array | null;
  movingVar: Float32Array | null;
}

/** Records the GroupNorm's tape input (x̂) and passes y through, as src/privacy's tape does. */
class XhatTape implements Tape {
  xhat: Float32Array | null = null;
  record(_layer: Layer, input: tf.Tensor, output: tf.Tensor): tf.Tensor {
    this.xhat = input.dataSync() as Float32Array;
    return output;
  }
}

let variableCount = 0;

async function run(backend: 'cpu' | 'wasm', c: Case): Promise<Result> {
  await initBackend(backend);
  const rng = new Rng(c.shape.reduce((a, b) => a * 31 + b, 11));
  const size = c.shape.reduce((a, b) => a * b, 1);
  const ch = c.shape[c.shape.length - 1]!;
  const rand = (n: number, scale: number, offset: number) => Float32Array.from({ length: n }, () => offset + scale * rng.normal());
  const xv = rand(size, 2, 0.7);
  const wv = rand(size, 1, 0);
  const layer = c.kind === 'group' ? new GroupNorm('gn', ch, c.groups!) : new BatchNorm('bn', ch);
  const x = tf.tidy(() => tf.variable(tf.tensor(xv, c.shape), true, `x-${backend}-${variableCount++}`));
  const w = tf.tensor(wv, c.shape);
  try {
    tf.tidy(() => {
      layer.params[0]!.assign(tf.tensor(rand(ch, 0.5, 1), [ch]));
      layer.params[1]!.assign(tf.tensor(rand(ch, 0.5, 0), [ch]));
    });
    const tape = new XhatTape();
    let y: Float32Array | null = null;
    // Loss Σ y·w: a gradient dy = w that differs per element.
    const { value, grads } = tf.variableGrads(() => {
      const out = layer.apply(x, { training: true, ...(c.kind === 'group' ? { tape } : {}) });
      y = out.dataSync() as Float32Array;
      return tf.sum(tf.mul(out, w)) as tf.Scalar;
    }, [x, ...layer.params]);
    const get = (v: tf.Variable) => grads[v.name]!.dataSync() as Float32Array;
    const result: Result = {
      y: y!,
      xhat: tape.xhat,
      dx: get(x),
      dgamma: get(layer.params[0]!),
      dbeta: get(layer.params[1]!),
      movingMean: layer instanceof BatchNorm ? (layer.movingMean.dataSync() as Float32Array) : null,
      movingVar: layer instanceof BatchNorm ? (layer.movingVar.dataSync() as Float32Array) : null,
    };
    tf.dispose([value, ...Object.values(grads)]);
    return result;
  } finally {
    tf.dispose([x, w, ...layer.params, ...layer.state]);
  }
}

function relDiff(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let scale = 1e-6;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    max = Math.max(max, Math.abs(got[i]! - want[i]!));
  }
  return max / scale;
}

describe.skipIf(!addon)('native fused GroupNorm and BatchNorm (skipped: the native addon is not built; npm run build:native)', () => {
  afterAll(() => setNativeKernelsEnabled(true));

  for (const c of CASES) {
    it(`${c.kind === 'group' ? `GroupNorm(${c.groups})` : 'BatchNorm'} on [${c.shape}] (${c.label}): forward and gradients as the cpu backend`, async () => {
      const want = await run('cpu', c);
      await initBackend('wasm');
      const calls = nativeNormCalls();
      const tensors = tf.memory().numTensors;
      const got = await run('wasm', c);
      expect(nativeNormCalls() - calls, 'one fused forward and one fused backward').toBe(2);
      expect(tf.memory().numTensors).toBe(tensors);
      const fields: (keyof Result)[] = ['y', 'dx', 'dgamma', 'dbeta', ...(c.kind === 'group' ? (['xhat'] as const) : (['movingMean', 'movingVar'] as const))];
      for (const f of fields) expect(relDiff(got[f]!, want[f]!), f).toBeLessThanOrEqual(1e-5);
    });
  }

  it('repeated steps do not grow the tensor count, and give the same bytes', async () => {
    await initBackend('wasm');
    const c = CASES[0]!;
    const first = await run('wasm', c);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const again = await run('wasm', c);
      expect(Buffer.from(again.dx.buffer).equals(Buffer.from(first.dx.buffer))).toBe(true);
      expect(Buffer.from(again.y.buffer).equals(Buffer.from(first.y.buffer))).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('BatchNorm inference uses the running statistics, as the composed path', async () => {
    const shape = [4, 3, 3, 5];
    const infer = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const rng = new Rng(5);
      const bn = new BatchNorm('bn', 5);
      try {
        tf.tidy(() => {
          bn.movingMean.assign(tf.tensor1d(Array.from({ length: 5 }, () => rng.normal())));
          bn.movingVar.assign(tf.tensor1d(Array.from({ length: 5 }, () => 0.5 + rng.uniform())));
          bn.gamma.assign(tf.tensor1d(Array.from({ length: 5 }, () => 1 + rng.normal() * 0.3)));
          bn.beta.assign(tf.tensor1d(Array.from({ length: 5 }, () => rng.normal() * 0.3)));
        });
        const x = Float32Array.from({ length: 4 * 3 * 3 * 5 }, () => rng.normal() * 2);
        return tf.tidy(() => bn.apply(tf.tensor(x, shape), { training: false }).dataSync() as Float32Array);
      } finally {
        tf.dispose([...bn.params, ...bn.state]);
      }
    };
    expect(relDiff(await infer('wasm'), await infer('cpu'))).toBeLessThanOrEqual(1e-5);
  });

  it('with the native kernels turned off the composed path runs (no fused call) and agrees', async () => {
    const c = CASES[1]!;
    const want = await run('cpu', c);
    setNativeKernelsEnabled(false);
    try {
      const calls = nativeNormCalls();
      const got = await run('wasm', c);
      expect(nativeNormCalls()).toBe(calls);
      expect(relDiff(got.dx, want.dx)).toBeLessThanOrEqual(1e-5);
    } finally {
      setNativeKernelsEnabled(true);
    }
  });
});
