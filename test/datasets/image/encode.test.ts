import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../datasets/image/decode.js';
import { encodePng } from '../../../datasets/image/encode.js';

const arbImage = fc
  .record({
    w: fc.integer({ min: 1, max: 12 }),
    h: fc.integer({ min: 1, max: 12 }),
    c: fc.constantFrom<1 | 3>(1, 3),
    depth: fc.constantFrom<8 | 16>(8, 16),
  })
  .chain((s) =>
    fc.record({
      s: fc.constant(s),
      data: fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: s.w * s.h * s.c, maxLength: s.w * s.h * s.c }),
    }),
  );

describe('encodePng', () => {
  it('round-trips through decodeImage at 8 and 16 bits (to the nearest level)', () => {
    fc.assert(
      fc.property(arbImage, ({ s, data }) => {
        const src = Float32Array.from(data);
        const png = encodePng(src, s.w, s.h, s.c, s.depth);
        const img = decodeImage(png, 'rt.png');
        expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([s.w, s.h, s.c, s.depth]);
        const maxv = s.depth === 16 ? 65535 : 255;
        for (let i = 0; i < src.length; i++) {
          expect(Math.round(img.data[i]! * maxv)).toBe(Math.round(src[i]! * maxv));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('writes exact sample values that pngjs reads back', () => {
    // 0.5 * 255 = 127.5 rounds up to 128; 1/65535 survives at 16 bits.
    const g8 = PNG.sync.read(encodePng(Float32Array.from([0, 0.5, 1, 0.2]), 2, 2, 1, 8));
    expect([g8.depth, g8.colorType, g8.color]).toEqual([8, 0, false]);
    expect([g8.data[0], g8.data[4], g8.data[8], g8.data[12]]).toEqual([0, 128, 255, 51]);
    const rgb16 = PNG.sync.read(encodePng(Float32Array.from([1 / 65535, 0.5, 1]), 1, 1, 3, 16), { skipRescale: true });
    expect([rgb16.depth, rgb16.colorType]).toEqual([16, 2]);
    expect(Array.from(rgb16.data.slice(0, 3))).toEqual([1, 32768, 65535]);
  });

  it('is deterministic and clamps out-of-range values', () => {
    const data = Float32Array.from({ length: 5 * 4 * 3 }, (_, i) => ((i * 7) % 13) / 12);
    const a = encodePng(data, 5, 4, 3, 8);
    const b = encodePng(Float32Array.from(data), 5, 4, 3, 8);
    expect(Buffer.compare(a, b)).toBe(0);
    const clamped = decodeImage(encodePng(Float32Array.from([-0.5, 1.5]), 2, 1, 1, 8), 'c.png');
    expect(Array.from(clamped.data)).toEqual([0, 1]);
  });

  it('refuses non-finite values and wrong lengths (bugs upstream)', () => {
    expect(() => encodePng(Float32Array.from([NaN]), 1, 1, 1, 8)).toThrow(/non-finite/);
    expect(() => encodePng(new Float32Array(3), 2, 2, 1, 8)).toThrow(/values for 2x2x1/);
  });

  it('stores exactly the rounded samples (halves up) for grey and RGB at 8 and 16 bits', () => {
    fc.assert(
      fc.property(arbImage, ({ s, data }) => {
        const src = Float32Array.from(data);
        const maxv = s.depth === 16 ? 65535 : 255;
        const png = PNG.sync.read(encodePng(src, s.w, s.h, s.c, s.depth), { skipRescale: true });
        expect([png.width, png.height, png.depth, png.colorType]).toEqual([s.w, s.h, s.depth, s.c === 3 ? 2 : 0]);
        // pngjs reads into RGBA (grey repeated in R, G, B; alpha full); 16-bit as uint16 values.
        for (let p = 0; p < s.w * s.h; p++) {
          for (let k = 0; k < 4; k++) {
            const want = k === 3 ? maxv : Math.floor(src[p * s.c + (s.c === 3 ? k : 0)]! * maxv + 0.5);
            expect(png.data[p * 4 + k]).toBe(want);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gives back every 8-bit level p from p / 255 and rounds exact halves up at 16 bits', () => {
    const levels = Float32Array.from({ length: 256 }, (_, p) => p / 255);
    for (const c of [1, 3] as const) {
      const data = new Float32Array(256 * c);
      for (let i = 0; i < data.length; i++) data[i] = levels[Math.floor(i / c)]!;
      const img = PNG.sync.read(encodePng(data, 16, 16, c, 8), { skipRescale: true });
      for (let p = 0; p < 256; p++) expect(img.data[p * 4]).toBe(p);
    }
    // 0.5 * 65535 = 32767.5 → 32768; v just below a half rounds down.
    const h = Float32Array.from([0.5, 0.25, 0.75, 100.5 / 65535]);
    const img = PNG.sync.read(encodePng(h, 4, 1, 1, 16), { skipRescale: true });
    const got = [0, 1, 2, 3].map((p) => img.data[p * 4]);
    expect(got).toEqual(Array.from(h, (v) => Math.floor(v * 65535 + 0.5)));
    expect(got.slice(0, 3)).toEqual([32768, 16384, 49151]);
  });

  it('reads its input from a subarray (any byte offset) at 16 bits', () => {
    const all = Float32Array.from({ length: 1 + 3 * 3 * 3 }, (_, i) => (i % 9) / 8);
    const sub = all.subarray(1);
    const img = decodeImage(encodePng(sub, 3, 3, 3, 16), 'sub.png');
    expect([img.channels, img.bitDepth]).toEqual([3, 16]);
    expect(Array.from(img.data, (v) => Math.round(v * 65535))).toEqual(Array.from(sub, (v) => Math.floor(v * 65535 + 0.5)));
  });
});
