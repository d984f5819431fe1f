import { crc32 as nodeCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../datasets/image/decode.js';
import { crc32, encodePng } from '../../../datasets/image/encode.js';

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

  it('crc32 matches zlib', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) % 256);
    expect(crc32(bytes)).toBe(nodeCrc32(bytes) >>> 0);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});
