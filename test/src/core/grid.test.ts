import { describe, expect, it } from 'vitest';
import { tileImages } from '../../../src/core/grid.js';

/** n images of side s, 1 channel, image i filled with the value (first + i). */
const images = (n: number, s: number, first: number) => Float32Array.from({ length: n * s * s }, (_, k) => first + Math.floor(k / (s * s)));

describe('tileImages', () => {
  it('lays rows out with gaps and border, draws at most perRow per row, and leaves missing places as background', () => {
    // Two rows of 2×2 images: row 0 has three images (one over perRow = 2), row 1 has one.
    const g = tileImages([images(3, 2, 1), images(1, 2, 7)], { perRow: 2, size: 2, channels: 1, gap: 1, background: 9 });
    expect([g.width, g.height]).toEqual([2 * 2 + 3, 2 * 2 + 3]);
    const rows = Array.from({ length: g.height }, (_, y) => Array.from(g.pixels.subarray(y * g.width, (y + 1) * g.width)).join(''));
    expect(rows).toEqual(['9999999', '9119229', '9119229', '9999999', '9779999', '9779999', '9999999']);
  });

  it('keeps channels together and places each pixel of an image where it belongs (no gap)', () => {
    // One 2×2 RGB image whose values count up: the grid of one is the image itself.
    const one = Float32Array.from({ length: 12 }, (_, k) => k);
    const g = tileImages([one], { perRow: 1, size: 2, channels: 3 });
    expect(Array.from(g.pixels)).toEqual(Array.from(one));
    // Two side by side: the first pixel row of the grid is row 0 of image 0, then row 0 of image 1.
    const two = tileImages([Float32Array.from({ length: 24 }, (_, k) => k)], { perRow: 2, size: 2, channels: 3 });
    expect(two.width).toBe(4);
    expect(Array.from(two.pixels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]);
    expect(Array.from(two.pixels.subarray(12, 24))).toEqual([6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23]);
  });
});
