import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend, resolveBackendChoice } from '../../../src/backend/index.js';
import { BackendError } from '../../../src/core/errors.js';

describe('backend choice', () => {
  it('takes --backend over MEDSYNTH_BACKEND over auto', () => {
    expect(resolveBackendChoice(undefined, {})).toBe('auto');
    expect(resolveBackendChoice(undefined, { MEDSYNTH_BACKEND: 'cpu' })).toBe('cpu');
    expect(resolveBackendChoice('wasm', { MEDSYNTH_BACKEND: 'cpu' })).toBe('wasm');
  });

  it('refuses an unknown name, naming where it came from', () => {
    expect(() => resolveBackendChoice('gpu', {})).toThrow(/--backend 'gpu' is not a backend/);
    expect(() => resolveBackendChoice(undefined, { MEDSYNTH_BACKEND: 'cuda' })).toThrow(/MEDSYNTH_BACKEND 'cuda'/);
  });

  it('runs wasm under auto when no tfjs-node package is installed, and can switch to cpu', async () => {
    const auto = await initBackend('auto');
    // This machine has neither tfjs-node package; on one that has, auto must pick it.
    expect(['wasm', 'tensorflow']).toContain(auto.name);
    expect(tf.getBackend()).toBe(auto.name);
    const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).arraySync());
    expect(sum).toEqual([4, 6]);
    const cpu = await initBackend('cpu');
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('gives a clear error when tensorflow is asked for but not installed', async () => {
    let installed = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      installed = false;
    }
    if (installed) return; // a CUDA/libtensorflow machine: nothing to refuse
    await expect(initBackend('tensorflow')).rejects.toThrow(BackendError);
    await expect(initBackend('tensorflow')).rejects.toThrow(/npm install @tensorflow\/tfjs-node/);
  });
});
