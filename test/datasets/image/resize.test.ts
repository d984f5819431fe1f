import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodedImage } from '../../../datasets/image/decode.js';
import { resampleKernel, toSquare } from '../../../datasets/image/resize.js';
import { REPO_ROOT } from '../helpers.js';

interface ResizeCase {
  name: string;
  width: number;
  height: number;
  channels: 1 | 3;
  size: number;
  outChannels: 1 | 3;
  data: number[];
  expected: number[];
}

const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/resize.json'), 'utf8')) as { cases: ResizeCase[] };

const image = (c: Pick<ResizeCase, 'width' | 'height' | 'channels' | 'data'>): DecodedImage => ({
  width: c.width,
  height: c.height,
  channels: c.channels,
  bitDepth: 8,
  data: Float32Array.from(c.data),
});

describe('toSquare against hand-computed values (test/fixtures/resize.json)', () => {
  it('has cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(10));
  for (const c of fixture.cases) {
    it(c.name, () => {
      expect(c.data.length).toBe(c.width * c.height * c.channels);
      const out = toSquare(image(c), c.size, c.outChannels);
      expect(out.length).toBe(c.size * c.size * c.outChannels);
      c.expected.forEach((e, i) => expect(out[i]!, `index ${i}`).toBeCloseTo(e, 6));
    });
  }
});

describe('resample kernels', () => {
  it('area weights are exact overlaps and sum to 1', () => {
    const k = resampleKernel(3, 2);
    expect(Array.from(k.start)).toEqual([0, 1]);
    expect(Array.from(k.count)).toEqual([2, 2]);
    expect(Array.from(k.weights)).toEqual([2 / 3, 1 / 3, 1 / 3, 2 / 3]);
  });

  it('bilinear 2 -> 4 weights', () => {
    const k = resampleKernel(2, 4);
    const taps = Array.from({ length: 4 }, (_, j) =>
      Array.from({ length: k.count[j]! }, (_, t) => [k.start[j]! + t, k.weights[k.weightOffset[j]! + t]!]),
    );
    expect(taps).toEqual([[[0, 1]], [[0, 0.75], [1, 0.25]], [[0, 0.25], [1, 0.75]], [[1, 1]]]);
  });
});

describe('toSquare properties', () => {
  const arbImage = fc
    .record({ w: fc.integer({ min: 1, max: 24 }), h: fc.integer({ min: 1, max: 24 }), c: fc.constantFrom<1 | 3>(1, 3) })
    .chain(({ w, h, c }) =>
      fc.record({
        img: fc
          .array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: w * h * c, maxLength: w * h * c })
          .map((d): DecodedImage => ({ width: w, height: h, channels: c, bitDepth: 8, data: Float32Array.from(d) })),
        size: fc.integer({ min: 1, max: 32 }),
        out: fc.constantFrom<1 | 3>(1, 3),
      }),
    );

  it('outputs stay in [0, 1] and have the right length', () => {
    fc.assert(
      fc.property(arbImage, ({ img, size, out }) => {
        const r = toSquare(img, size, out);
        expect(r.length).toBe(size * size * out);
        for (const v of r) expect(v >= 0 && v <= 1).toBe(true);
      }),
    );
  });

  it('a constant image stays constant', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 64 }),
        fc.float({ min: 0, max: 1, noNaN: true }),
        (w, h, size, v) => {
          const img: DecodedImage = { width: w, height: h, channels: 1, bitDepth: 8, data: new Float32Array(w * h).fill(v) };
          for (const x of toSquare(img, size, 1)) expect(x).toBeCloseTo(v, 5);
        },
      ),
    );
  });

  it('area shrinking preserves the mean of the square crop', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            m: fc.integer({ min: 1, max: n - 1 }),
            data: fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: n * n, maxLength: n * n }),
          }),
        ),
        ({ n, m, data }) => {
          const img: DecodedImage = { width: n, height: n, channels: 1, bitDepth: 8, data: Float32Array.from(data) };
          const out = toSquare(img, m, 1);
          const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, x) => s + x, 0) / a.length;
          expect(mean(out)).toBeCloseTo(mean(img.data), 5);
        },
      ),
    );
  });

  it('an equal size is a copy of the crop', () => {
    const img: DecodedImage = { width: 3, height: 2, channels: 1, bitDepth: 8, data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) };
    expect(Array.from(toSquare(img, 2, 1))).toEqual(Array.from(Float32Array.from([0.1, 0.2, 0.4, 0.5])));
  });
});
