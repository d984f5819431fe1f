import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitPca, orthonormalizeColumns, projectPca } from '../../../eval/features/pca.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Fixture {
  n: number;
  d: number;
  k: number;
  data: number[];
  mean: number[];
  variances: number[];
  totalVariance: number;
  components: number[];
  projectionFirst3: number[];
}
const fx = loadFixture<Fixture>('pca');
const x = { data: Float32Array.from(fx.data), n: fx.n, d: fx.d };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('PCA against numpy.linalg.eigh', () => {
  it('subspace iteration (l = k + 10 < d) recovers the top-k eigenvalues, components and projections', () => {
    const m = fitPca(x, { k: fx.k, seed: 3 });
    m.mean.forEach((v, j) => expect(v).toBeCloseTo(fx.mean[j]!, 5));
    expect(m.totalVariance / fx.totalVariance).toBeCloseTo(1, 5);
    m.variances.forEach((v, j) => expect(Math.abs(v / fx.variances[j]! - 1)).toBeLessThan(1e-4));
    for (let c = 0; c < fx.k; c++) {
      for (let j = 0; j < fx.d; j++) expect(m.components[c * fx.d + j]).toBeCloseTo(fx.components[c * fx.d + j]!, 3);
    }
    const z = projectPca(m, { data: x.data.subarray(0, 3 * fx.d), n: 3, d: fx.d });
    z.data.forEach((v, i) => expect(Math.abs(v - fx.projectionFirst3[i]!)).toBeLessThan(2e-3 * Math.sqrt(fx.variances[0]!)));
  });

  it('is exact when the search space is the whole space (k + oversample >= d), whatever the seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
        const m = fitPca(x, { k: 6, seed, oversample: fx.d, powerIterations: 1 });
        m.variances.slice(0, 4).forEach((v, j) => expect(Math.abs(v / fx.variances[j]! - 1)).toBeLessThan(1e-5));
      }),
      { numRuns: 5 },
    );
  });

  it('leaves no tensor behind', () => {
    fitPca(x, { k: 2, seed: 1 }); // burn-in
    const before = tf.memory().numTensors;
    const m = fitPca(x, { k: 3, seed: 2 });
    projectPca(m, x);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('linear-algebra helpers', () => {
  it('Gram-Schmidt gives orthonormal columns spanning the input', () => {
    const rng = new Rng(5);
    const r = 30;
    const c = 6;
    const a = Float64Array.from({ length: r * c }, () => rng.normal());
    const q = Float64Array.from(a);
    orthonormalizeColumns(q, r, c);
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < c; j++) {
        let dot = 0;
        for (let t = 0; t < r; t++) dot += q[t * c + i]! * q[t * c + j]!;
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
    // The first column keeps its direction.
    const n0 = Math.hypot(...Array.from({ length: r }, (_, t) => a[t * c]!));
    for (let t = 0; t < r; t++) expect(q[t * c]!).toBeCloseTo(a[t * c]! / n0, 12);
  });
});
