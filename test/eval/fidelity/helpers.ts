/** Shared by the fidelity tests: the reference fixture, seeded feature sets, and the tensor-leak check. */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import type { FeatureMatrix } from '../../../eval/fidelity/matrix.js';
import { loadFixture } from '../../helpers/fixtures.js';

export interface StoredMatrix {
  n: number;
  d: number;
  data: number[];
}

export interface FidelityFixture {
  seed: number;
  cases: {
    name: string;
    real: StoredMatrix;
    synthetic: StoredMatrix;
    fid: number;
    fidProductForm: number;
    prdc: {
      k: number;
      precision: number;
      recall: number;
      density: number;
      coverage: number;
      realRadii: number[];
      syntheticRadii: number[];
      minRelativeMargin: number;
    }[];
  }[];
  kid: {
    case: string;
    subsets: { real: number[]; synthetic: number[] }[];
    values: number[];
    biasedValues: number[];
    mean: number;
    std: number;
    wholeSets: number;
    realHalves: number;
  };
  hand: { real: StoredMatrix; synthetic: StoredMatrix; fid: number };
}

export const fixture = loadFixture<FidelityFixture>('fidelity');

export function matrix(m: StoredMatrix): FeatureMatrix {
  return { n: m.n, d: m.d, data: Float32Array.from(m.data) };
}

export function fixtureCase(name: string) {
  const c = fixture.cases.find((x) => x.name === name);
  if (!c) throw new Error(`fixture case ${name} missing`);
  return { ...c, x: matrix(c.real), y: matrix(c.synthetic) };
}

/** n rows of N(shift, scale²) in d dimensions, seeded. */
export function gaussian(n: number, d: number, seed: number, shift = 0, scale = 1): FeatureMatrix {
  const rng = new Rng(seed);
  return { n, d, data: Float32Array.from({ length: n * d }, () => shift + scale * rng.normal()) };
}

/** Rows `rows` of m, as a new matrix. */
export function pick(m: FeatureMatrix, rows: ArrayLike<number>): FeatureMatrix {
  const data = new Float32Array(rows.length * m.d);
  for (let r = 0; r < rows.length; r++) data.set(m.data.subarray(rows[r]! * m.d, rows[r]! * m.d + m.d), r * m.d);
  return { n: rows.length, d: m.d, data };
}

/** Runs fn once to burn in (kernel caches, lazily created constants), then checks a second run frees every tensor. */
export async function expectNoTensorLeak(fn: () => Promise<unknown> | unknown): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  await fn();
  expect(tf.memory().numTensors).toBe(before);
}
