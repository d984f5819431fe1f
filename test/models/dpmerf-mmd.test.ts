/**
 * DP-MERF's fitting loss (models/dpmerf/mmd.ts) against test/fixtures/mmd.json (numpy, pairwise sums in
 * float64; source in the file) and a hand calculation.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { meanEmbeddingLoss, type MmdTargets } from '../../models/dpmerf/mmd.js';
import { initBackend } from '../../src/backend/index.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/mmd.json', import.meta.url), 'utf8')) as {
  phi: number[][][];
  cellMu: number[][];
  cellW: number[];
  mix: number[][];
  classMu: number[][];
  classW: number[];
  biased: number;
  unbiased: number;
};

beforeAll(async () => {
  await initBackend('wasm');
});

function targets(t: { cellMu: number[][]; cellW: number[]; mix: number[][]; classMu: number[][]; classW: number[] }): MmdTargets {
  return { cellMu: tf.tensor2d(t.cellMu), cellW: tf.tensor1d(t.cellW), mix: tf.tensor2d(t.mix), classMu: tf.tensor2d(t.classMu), classW: tf.tensor1d(t.classW) };
}

function loss(phi: number[][][], t: MmdTargets, unbiased: boolean): number {
  return tf.tidy(() => meanEmbeddingLoss(tf.tensor3d(phi), t, unbiased).dataSync()[0]!);
}

describe('DP-MERF fitting loss', () => {
  it('matches the pairwise-sum reference, plug-in and unbiased, cells and classes', () => {
    const t = targets(fixture);
    try {
      expect(loss(fixture.phi, t, false)).toBeCloseTo(fixture.biased, 4);
      expect(loss(fixture.phi, t, true)).toBeCloseTo(fixture.unbiased, 4);
    } finally {
      tf.dispose(Object.values(t));
    }
  });

  it('by hand: two orthogonal samples around their own mean cost nothing plug-in, and −1/2 unbiased', () => {
    // φ_1 = (1, 0), φ_2 = (0, 1), μ = m̂ = (1/2, 1/2): plug-in ||m̂ − μ||² = 0; unbiased
    // φ_1·φ_2 − 2 m̂·μ + ||μ||² = 0 − 1 + 1/2 = −1/2. One cell, weight 1; its class weighs 0.
    const t = targets({ cellMu: [[0.5, 0.5]], cellW: [1], mix: [[1]], classMu: [[0.5, 0.5]], classW: [0] });
    try {
      expect(loss([[[1, 0], [0, 1]]], t, false)).toBeCloseTo(0, 6);
      expect(loss([[[1, 0], [0, 1]]], t, true)).toBeCloseTo(-0.5, 6);
      // Two identical samples at μ: both estimates 0 — the unbiased one no longer rewards the collapse.
      expect(loss([[[0.5, 0.5], [0.5, 0.5]]], t, true)).toBeCloseTo(0, 6);
    } finally {
      tf.dispose(Object.values(t));
    }
  });

  it('refuses one sample per cell for the unbiased estimate and leaves no tensors behind', () => {
    const t = targets(fixture);
    const one = targets({ cellMu: [[0, 0]], cellW: [1], mix: [[1]], classMu: [[0, 0]], classW: [1] });
    try {
      expect(() => loss([[[1, 0]]], one, true)).toThrow(/at least 2 samples/);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) loss(fixture.phi, t, true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.dispose([...Object.values(t), ...Object.values(one)]);
    }
  });
});
