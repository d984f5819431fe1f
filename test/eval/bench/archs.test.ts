// @module-tag slow (gradients of the benchmark models on the cpu oracle; see vitest.config.ts)
/**
 * Issue #3: every benchmark architecture trains on the wasm backend, its step matches the cpu oracle, and
 * nothing leaks per step.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ARCH_NAMES, makeWorkload } from '../../../eval/bench/archs.js';
import { initBackend } from '../../../src/backend/index.js';

/** Loss and gradients of one step of a fresh workload (seed 0, batch 4). */
async function gradients(backend: 'cpu' | 'wasm', name: (typeof ARCH_NAMES)[number]) {
  await initBackend(backend);
  const w = makeWorkload(name, 0, 4);
  try {
    return w.gradients();
  } finally {
    w.dispose();
  }
}

describe.each(ARCH_NAMES)('%s', (name) => {
  it('has the same loss and gradients on wasm as on the cpu oracle', async () => {
    const ref = await gradients('cpu', name);
    const got = await gradients('wasm', name);
    expect(Number.isFinite(got.loss)).toBe(true);
    expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-4);
    expect(got.grads.length).toBe(ref.grads.length);
    // Per tensor: ||g − r|| ≤ 1e-2 · max(||r||, 1e-3 · largest ||r|| in the model). Op by op the backends
    // agree to 1e-4 (test/src/backend/*); through a whole model, float32 rounding differences of ~1e-7
    // flip a few ReLU units that sit at 0, which changes those units' gradients outright. The floor covers
    // gradients that are zero in exact arithmetic (a conv bias before BatchNorm): pure rounding noise.
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    const largest = Math.max(...ref.grads.map(norm));
    got.grads.forEach((g, i) => {
      const r = ref.grads[i]!;
      const diff = norm(Float32Array.from(g, (v, j) => v - r[j]!));
      expect(diff, `param ${i}`).toBeLessThanOrEqual(1e-2 * Math.max(norm(r), 1e-3 * largest));
    });
  });

  it('trains a step on wasm', async () => {
    await initBackend('wasm');
    const w = makeWorkload(name, 2, 16);
    try {
      const before = w.params().map((p) => p.dataSync().slice());
      w.step();
      expect(Number.isFinite(w.lastLoss())).toBe(true);
      const moved = w.params().filter((p, i) => p.dataSync().some((v, j) => v !== before[i]![j])).length;
      expect(moved).toBe(w.params().length);
    } finally {
      w.dispose();
    }
  });

  it('does not grow the tensor count over steps', async () => {
    await initBackend('wasm');
    const w = makeWorkload(name, 1, 8);
    try {
      w.step(); // burn-in: optimizer slots are created on the first step
      w.lastLoss();
      const tensors = tf.memory().numTensors;
      const dataIds = tf.engine().backend.numDataIds();
      for (let i = 0; i < 3; i++) w.step();
      w.lastLoss();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    } finally {
      w.dispose();
    }
  });
});
