/**
 * The block-by-block point sets of eval/fidelity/distances.ts against the one-piece upload they replaced
 * (both augmented layouts built on the backend from the whole set, kept here as the reference): the same
 * squared distances bit for bit, and the same nearest distances and nearest indices, ties included
 * (eval/privacy/nearest.ts), with and without a centre, whatever the blocking of the norms and of the
 * distance rows; nothing of a set's size is uploaded before a layout is used, the peak on the backend
 * stays below one copy of the query set, and no tensor is left behind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { blockRows, disposePoints, forEachDistanceBlock, rowMean, squaredDistances, uploadPoints, type PointSet } from '../../../eval/fidelity/distances.js';
import type { FeatureMatrix } from '../../../eval/fidelity/matrix.js';
import { nearestDistances, nearestInTwoParts } from '../../../eval/privacy/nearest.js';
import { initBackend } from '../../../src/backend/index.js';
import { expectNoTensorLeak, gaussian, pick } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** The former uploadPoints: the whole set on the backend, then [x, |x|², 1] and its transposed partner. */
function uploadWhole(m: FeatureMatrix, center: Float64Array | null): { left: tf.Tensor2D; right: tf.Tensor2D } {
  const { n, d } = m;
  let data = m.data;
  if (center) {
    data = new Float32Array(m.data.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = m.data[i * d + j]! - center[j]!;
  }
  return tf.tidy(() => {
    const x = tf.tensor2d(data, [n, d], 'float32');
    const sq = tf.sum(tf.square(x), 1, true);
    const ones = tf.onesLike(sq);
    const left = tf.concat([x, sq, ones], 1) as tf.Tensor2D;
    const right = tf.transpose(tf.concat([tf.mul(x, -2), ones, sq], 1)) as tf.Tensor2D;
    return { left: tf.keep(left), right: tf.keep(right) };
  });
}

/** The former blocks: slices of the whole left layout times the whole right one, rows as forEachDistanceBlock takes them. */
function wholeBlocks(a: FeatureMatrix, b: FeatureMatrix, center: Float64Array | null, blockElements?: number): Float32Array {
  const wa = uploadWhole(a, center);
  const wb = uploadWhole(b, center);
  try {
    const out = new Float32Array(a.n * b.n);
    const step = blockRows(b.n, blockElements);
    for (let start = 0; start < a.n; start += step) {
      const rows = Math.min(step, a.n - start);
      out.set(tf.tidy(() => tf.relu(tf.matMul(wa.left.slice([start, 0], [rows, a.d + 2]), wb.right)).dataSync() as Float32Array), start * b.n);
    }
    return out;
  } finally {
    tf.dispose([wa.left, wa.right, wb.left, wb.right]);
  }
}

async function blocks(pa: PointSet, pb: PointSet, blockElements?: number): Promise<Float32Array> {
  const out = new Float32Array(pa.n * pb.n);
  await forEachDistanceBlock(pa, pb, { blockElements }, (d2) => [tf.clone(d2)], ([v], start) => out.set(v as Float32Array, start * pb.n));
  return out;
}

const bits = (x: Float32Array | Float64Array | Int32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('blocked point sets equal the one-piece upload', () => {
  // Shifted far from the origin so that centring matters, with a few exact copies in B (ties).
  const a = gaussian(203, 37, 31, 5, 2);
  const b0 = gaussian(151, 37, 32, 5, 2);
  const b = pick(b0, [...Array.from({ length: 151 }, (_, i) => i), 7, 7, 40, 150]);
  // A, then exact copies of B's rows 7 and 40 as queries 203 and 204.
  const aWithCopies: FeatureMatrix = { n: 205, d: 37, data: Float32Array.from([...a.data, ...b.data.subarray(7 * 37, 8 * 37), ...b.data.subarray(40 * 37, 41 * 37)]) };

  for (const centred of [true, false]) {
    for (const normBlockElements of [37 * 16 + 3, 1, undefined]) {
      for (const blockElements of [155 * 9 + 1, 155, undefined]) {
        it(`bit for bit: ${centred ? 'centred' : 'no centre'}, norms in blocks of ${normBlockElements ?? 'default'} values, ${blockElements ?? 'default'} elements per block`, async () => {
          const center = centred ? rowMean(b) : null;
          const want = wholeBlocks(aWithCopies, b, center, blockElements);
          const pa = uploadPoints(aWithCopies, center, { normBlockElements });
          const pb = uploadPoints(b, center, { normBlockElements });
          try {
            const got = await blocks(pa, pb, blockElements);
            expect(got.length).toBe(want.length);
            expect(bits(got).equals(bits(want))).toBe(true);
            // One piece from the blocked sets too.
            const whole = squaredDistances(pa, pb);
            try {
              expect(bits(whole.dataSync() as Float32Array).equals(bits(wholeBlocks(aWithCopies, b, center)))).toBe(true);
            } finally {
              whole.dispose();
            }
          } finally {
            disposePoints(pa);
            disposePoints(pb);
          }
        });
      }
    }
  }

  it('gives the nearest distances and the nearest indices (first on ties) of the one-piece upload', async () => {
    const split = 100;
    const center = rowMean(b);
    const d2 = wholeBlocks(aWithCopies, b, center, 155 * 7);
    const first = new Float64Array(aWithCopies.n);
    const second = new Float64Array(aWithCopies.n);
    const nearest = new Int32Array(aWithCopies.n);
    for (let i = 0; i < aWithCopies.n; i++) {
      const row = d2.subarray(i * b.n, (i + 1) * b.n);
      let k = 0;
      for (let j = 1; j < b.n; j++) if (row[j]! < row[k]!) k = j; // strict: the first of equal minima
      nearest[i] = k;
      first[i] = Math.sqrt(Math.min(...row.subarray(0, split)));
      second[i] = Math.sqrt(Math.min(...row.subarray(split)));
    }
    // The two query copies of B's row 7 (copied again at 151 and 152) and row 40 (at 153): a tie on each.
    expect(nearest[203]).toBe(7);
    expect(nearest[204]).toBe(40);
    const got = await nearestInTwoParts(aWithCopies, b, split, { blockElements: 155 * 7 });
    expect(bits(got.first).equals(bits(first))).toBe(true);
    expect(bits(got.second).equals(bits(second))).toBe(true);
    expect(Array.from(got.nearest)).toEqual(Array.from(nearest));
    const all = await nearestDistances(aWithCopies, b, { blockElements: 155 * 7 });
    expect(bits(all).equals(bits(Float64Array.from(first, (v, i) => Math.min(v, second[i]!))))).toBe(true);
  });
});

describe('memory of the point sets', () => {
  it('uploads nothing of the set until a layout is used, then exactly the right layout, and frees it', () => {
    const m = gaussian(500, 64, 33);
    const before = tf.memory();
    const p = uploadPoints(m, rowMean(m), { normBlockElements: 64 * 50 });
    try {
      expect(tf.memory().numBytes).toBe(before.numBytes);
      expect(tf.memory().numTensors).toBe(before.numTensors);
      const r = p.right();
      expect(p.right()).toBe(r); // cached
      expect(r.shape).toEqual([66, 500]);
      expect(tf.memory().numBytes - before.numBytes).toBe(66 * 500 * 4);
    } finally {
      disposePoints(p);
    }
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  it('keeps the backend peak below half a copy of the queries', async () => {
    // 5000 x 1024 queries (20 MB): the norms go up 2^20 values at a time, the distance blocks 100 rows at a time.
    const queries = gaussian(5000, 1024, 34);
    const reference = gaussian(300, 1024, 35);
    const profile = await tf.profile(async () => {
      await nearestInTwoParts(queries, reference, 150, { blockElements: 300 * 100 });
    });
    // The one-piece upload held the queries 4-5 times at once (x, x², [x, |x|², 1], -2x, its concat and transpose).
    expect(profile.peakBytes).toBeLessThan((queries.n * queries.d * 4) / 2);
    // The larger of: one block of rows and its squares while computing the norms; the reference's right
    // layout with one block of query rows and their distances.
    const normPass = 2 * (1 << 20) * 4;
    const distancePass = 4 * (1026 * 300 + 100 * 1026 + 3 * 100 * 300);
    expect(profile.peakBytes).toBeLessThanOrEqual(Math.max(normPass, distancePass) + 65536);
  });

  it('leaks no tensors', async () => {
    const queries = gaussian(120, 20, 36, 1);
    const reference = gaussian(80, 20, 37, 1);
    await expectNoTensorLeak(() => nearestInTwoParts(queries, reference, 40, { blockElements: 80 * 13 }));
    await expectNoTensorLeak(() => nearestDistances(queries, reference, { blockElements: 7 }));
    await expectNoTensorLeak(async () => {
      const p = uploadPoints(queries, null);
      try {
        await blocks(p, p, 500);
      } finally {
        disposePoints(p);
      }
    });
  });
});
