/**
 * Precision, recall, density and coverage against brute-force float64 numpy (exact counts: every
 * comparison in the fixture clears float32 round-off), the k-NN radii, and properties: identical sets
 * give 1, 1, 1, 1; a mode-collapsed set keeps precision and loses recall and coverage; values stay in range
 * and swapping the sets swaps precision and recall (fast-check); blocked equals whole; no tensor growth.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { disposePoints, kthNeighbourSquared, rowMean, squaredDistances, uploadPoints } from '../../../eval/fidelity/distances.js';
import { prdc, prdcUnavailable } from '../../../eval/fidelity/prdc.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';
import { expectNoTensorLeak, fixture, gaussian, matrix, pick } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('PRDC against the numpy oracle', () => {
  for (const c of fixture.cases) {
    for (const ref of c.prdc) {
      it(`${c.name}, k = ${ref.k}`, async () => {
        expect(ref.minRelativeMargin).toBeGreaterThan(1e-5); // so float32 distances give the same counts
        const got = await prdc(matrix(c.real), matrix(c.synthetic), { k: ref.k });
        expect(got).toEqual({ precision: ref.precision, recall: ref.recall, density: ref.density, coverage: ref.coverage });
      });
    }
  }

  it('finds the k-th neighbour radii (self excluded) of the oracle', async () => {
    const c = fixture.cases[0]!;
    const ref = c.prdc[0]!;
    const x = matrix(c.real);
    const p = uploadPoints(x, rowMean(x));
    try {
      const r2 = await kthNeighbourSquared(p, ref.k);
      r2.forEach((v, i) => expect(Math.abs(Math.sqrt(v) - ref.realRadii[i]!) / ref.realRadii[i]!).toBeLessThan(1e-5));
    } finally {
      disposePoints(p);
    }
  });
});

describe('PRDC on exact ties (clovaai definition, strict <)', () => {
  // Integer 2-D points: some synthetic points lie exactly on a real point's k-NN sphere (outside its ball).
  const ties = loadFixture<{ real: number[][]; synthetic: number[][]; prdc: { k: number; precision: number; recall: number; density: number; coverage: number; tiesOnRealSpheres: number }[] }>('prdc-ties');
  const rows = (r: number[][]) => ({ n: r.length, d: 2, data: Float32Array.from(r.flat()) });
  for (const ref of ties.prdc) {
    it(`k = ${ref.k}: density ${ref.density} with ${ref.tiesOnRealSpheres} tied pairs`, async () => {
      const got = await prdc(rows(ties.real), rows(ties.synthetic), { k: ref.k });
      expect(got).toEqual({ precision: ref.precision, recall: ref.recall, density: ref.density, coverage: ref.coverage });
    });
  }

  it('gives the same counts when the tied points are shifted far from the origin (float32 round-off)', async () => {
    const shift = (r: number[][]) => ({ n: r.length, d: 2, data: Float32Array.from(r.flat().map((v, i) => v + (i % 2 ? 4096 : -1024))) });
    for (const ref of ties.prdc) {
      expect(await prdc(shift(ties.real), shift(ties.synthetic), { k: ref.k })).toEqual({ precision: ref.precision, recall: ref.recall, density: ref.density, coverage: ref.coverage });
    }
  });
});

describe('PRDC properties', () => {
  const x = gaussian(300, 10, 11);

  it('gives precision = recall = density = coverage = 1 for identical sets', async () => {
    expect(await prdc(x, x)).toEqual({ precision: 1, recall: 1, density: 1, coverage: 1 });
  });

  it('keeps precision but loses recall and coverage under mode collapse', async () => {
    const y = gaussian(300, 10, 12);
    const healthy = await prdc(x, y);
    // Collapse: 300 samples that are 10 real-like points repeated with tiny jitter.
    const rng = new Rng(13);
    const modes = pick(gaussian(10, 10, 14), Array.from({ length: 300 }, (_, i) => i % 10));
    const collapsed = { ...modes, data: modes.data.map((v) => v + 0.01 * rng.normal()) };
    const bad = await prdc(x, collapsed);
    expect(bad.recall).toBeLessThan(healthy.recall - 0.5);
    expect(bad.coverage).toBeLessThan(healthy.coverage - 0.5);
    expect(bad.precision).toBeGreaterThan(0.5);
  });

  it('stays in range, and swapping the sets swaps precision and recall (random sets)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 6, max: 60 }),
        fc.integer({ min: 6, max: 60 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 1e6 }),
        async (n, m, k, seed) => {
          const a = gaussian(n, 4, seed);
          const b = gaussian(m, 4, seed + 1, 0.3, 1.3);
          const ab = await prdc(a, b, { k });
          const ba = await prdc(b, a, { k });
          for (const v of [ab.precision, ab.recall, ab.coverage]) expect(v >= 0 && v <= 1).toBe(true);
          expect(ab.density).toBeGreaterThanOrEqual(0);
          expect(ab.density).toBeLessThanOrEqual(n / k);
          expect(ba.precision).toBe(ab.recall);
          expect(ba.recall).toBe(ab.precision);
        },
      ),
      { numRuns: 15, seed: 3 },
    );
  });

  it('gives the same values and radii in blocks as in one piece', async () => {
    const y = gaussian(170, 10, 16, 0.1, 1.2);
    const whole = await prdc(x, y, { blockElements: 1 << 24 });
    // The four values are exact (prdc.ts recomputes near-ties in float64). The float32 k-th neighbour
    // distances are equal up to rounding: the native oneDNN matmul picks its kernel by block shape on some
    // CPUs (seen on an AMD EPYC), so a block's sums may round differently in the last bit (exact on wasm).
    const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));
    };
    for (const blockElements of [1, 300 * 7, 300 * 64 + 5]) expect(await prdc(x, y, { blockElements })).toEqual(whole);
    const p = uploadPoints(x, rowMean(x));
    try {
      const a = await kthNeighbourSquared(p, 5, { blockElements: 300 * 13 });
      const b = await kthNeighbourSquared(p, 5);
      close(a, b);
    } finally {
      disposePoints(p);
    }
  });

  it('computes squared distances that match a plain loop', () => {
    const a = gaussian(20, 6, 17, 3);
    const b = gaussian(15, 6, 18, 3);
    const center = rowMean(a);
    const pa = uploadPoints(a, center);
    const pb = uploadPoints(b, center);
    const t = squaredDistances(pa, pb);
    try {
      const got = t.dataSync();
      for (let i = 0; i < 20; i++) {
        for (let j = 0; j < 15; j++) {
          let s = 0;
          for (let k = 0; k < 6; k++) s += (a.data[i * 6 + k]! - b.data[j * 6 + k]!) ** 2;
          expect(Math.abs(got[i * 15 + j]! - s)).toBeLessThan(1e-4 * Math.max(1, s));
        }
      }
    } finally {
      tf.dispose(t);
      disposePoints(pa);
      disposePoints(pb);
    }
  });

  it('says why it cannot run on sets smaller than k + 1, and leaks no tensors', async () => {
    expect(prdcUnavailable(5, 100, 5)).toMatch(/at least k \+ 1 = 6 samples/);
    expect(prdcUnavailable(6, 6, 5)).toBeNull();
    const six = gaussian(6, 3, 19);
    expect((await prdc(six, six)).coverage).toBe(1);
    await expectNoTensorLeak(() => prdc(x, gaussian(50, 10, 20), { blockElements: 1000 }));
  });
});
