import { describe, expect, it } from 'vitest';
import { decodeImage, detectFormat } from '../../../datasets/image/decode.js';
import { DatasetError } from '../../../src/core/errors.js';
import { expectUserError, greyJpeg8x8, jpegRgb, pngjsPng, rawPng } from '../helpers.js';

const close = (actual: Float32Array, expected: number[], tol = 1e-6): void => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e), `index ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(tol));
};

describe('decodeImage: PNG', () => {
  it('8-bit grey', () => {
    const img = decodeImage(pngjsPng(0, 8, 2, 2, [0, 51, 255, 128]), 'g8.png');
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([2, 2, 1, 8]);
    close(img.data, [0, 51 / 255, 1, 128 / 255]);
  });

  it('16-bit grey keeps full precision', () => {
    const img = decodeImage(pngjsPng(0, 16, 2, 2, [0, 1, 65535, 32768]), 'g16.png');
    expect([img.channels, img.bitDepth]).toEqual([1, 16]);
    close(img.data, [0, 1 / 65535, 1, 32768 / 65535], 1e-9);
    // Rescaled to 8 bits, sample 1 would have become 0.
    expect(img.data[1]).toBeGreaterThan(0);
  });

  it('grey+alpha is grey, alpha dropped without compositing', () => {
    const img = decodeImage(pngjsPng(4, 8, 2, 1, [10, 0, 200, 255]), 'ga.png');
    expect([img.channels, img.bitDepth]).toEqual([1, 8]);
    close(img.data, [10 / 255, 200 / 255]);
  });

  it('8-bit RGB', () => {
    const img = decodeImage(pngjsPng(2, 8, 2, 1, [255, 0, 10, 1, 2, 3]), 'rgb.png');
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([2, 1, 3, 8]);
    close(img.data, [1, 0, 10 / 255, 1 / 255, 2 / 255, 3 / 255]);
  });

  it('16-bit RGB', () => {
    const img = decodeImage(pngjsPng(2, 16, 1, 1, [65535, 257, 1]), 'rgb16.png');
    expect([img.channels, img.bitDepth]).toEqual([3, 16]);
    close(img.data, [1, 257 / 65535, 1 / 65535], 1e-9);
  });

  it('RGBA is colour, alpha dropped', () => {
    const img = decodeImage(pngjsPng(6, 8, 1, 2, [20, 40, 60, 0, 255, 255, 255, 128]), 'rgba.png');
    expect([img.width, img.height, img.channels]).toEqual([1, 2, 3]);
    close(img.data, [20 / 255, 40 / 255, 60 / 255, 1, 1, 1]);
  });

  it('16-bit grey+alpha', () => {
    const img = decodeImage(pngjsPng(4, 16, 1, 1, [1000, 0]), 'ga16.png');
    expect([img.channels, img.bitDepth]).toEqual([1, 16]);
    close(img.data, [1000 / 65535], 1e-9);
  });

  it('palette with only grey entries is grey', () => {
    const plte = Uint8Array.from([0, 0, 0, 100, 100, 100, 255, 255, 255]);
    const png = rawPng(3, 1, 8, 3, [Uint8Array.from([2, 1, 0])], [['PLTE', plte]]);
    const img = decodeImage(png, 'pal-grey.png');
    expect([img.channels, img.bitDepth]).toEqual([1, 8]);
    close(img.data, [1, 100 / 255, 0]);
  });

  it('palette with a colour entry is colour (2-bit indices, with tRNS)', () => {
    const plte = Uint8Array.from([0, 0, 0, 255, 0, 0, 10, 20, 30]);
    // indices 1, 2, 0, 0 packed in 2 bits: 01 10 00 00
    const png = rawPng(3, 1, 2, 3, [Uint8Array.from([0b01100000])], [
      ['PLTE', plte],
      ['tRNS', Uint8Array.from([255, 0, 255])],
    ]);
    const img = decodeImage(png, 'pal-col.png');
    expect(img.channels).toBe(3);
    close(img.data, [1, 0, 0, 10 / 255, 20 / 255, 30 / 255, 0, 0, 0]);
  });

  it('1-bit grey scales to 0 and 1', () => {
    const png = rawPng(4, 1, 1, 0, [Uint8Array.from([0b10100000])]);
    const img = decodeImage(png, 'bits.png');
    close(img.data, [1, 0, 1, 0]);
  });

  it('a tRNS colour key in a grey image does not blank the pixels', () => {
    const png = rawPng(2, 1, 8, 0, [Uint8Array.from([77, 200])], [['tRNS', Uint8Array.from([0, 77])]]);
    const img = decodeImage(png, 'trns.png');
    close(img.data, [77 / 255, 200 / 255]);
  });

  it('a tRNS colour key in an RGB image does not blank the pixels', () => {
    const png = rawPng(1, 1, 8, 2, [Uint8Array.from([5, 6, 7])], [['tRNS', Uint8Array.from([0, 5, 0, 6, 0, 7])]]);
    close(decodeImage(png, 'trns-rgb.png').data, [5 / 255, 6 / 255, 7 / 255]);
  });
});

describe('decodeImage: JPEG', () => {
  it('3-component JPEG is colour, values near the source', () => {
    const rgb: number[] = [];
    for (let p = 0; p < 16 * 16; p++) rgb.push(200, 100, 50);
    const img = decodeImage(jpegRgb(16, 16, rgb, 100), 'c.jpg');
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([16, 16, 3, 8]);
    for (let p = 0; p < 256; p++) {
      expect(Math.abs(img.data[3 * p]! * 255 - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.data[3 * p + 1]! * 255 - 100)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.data[3 * p + 2]! * 255 - 50)).toBeLessThanOrEqual(3);
    }
  });

  it('1-component JPEG is grey', () => {
    const img = decodeImage(greyJpeg8x8(), 'g.jpg');
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([8, 8, 1, 8]);
    for (const v of img.data) expect(Math.abs(v * 255 - 144)).toBeLessThanOrEqual(1);
  });

  it('format comes from magic bytes, not the name', () => {
    const img = decodeImage(greyJpeg8x8(), 'looks-like.png');
    expect(img.channels).toBe(1);
    expect(detectFormat(pngjsPng(0, 8, 1, 1, [0]))).toBe('png');
    expect(detectFormat(greyJpeg8x8())).toBe('jpeg');
    expect(detectFormat(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBeNull();
  });
});

describe('decodeImage: unreadable files are DatasetErrors naming the file', () => {
  const png = pngjsPng(2, 8, 8, 8, new Array(8 * 8 * 3).fill(0).map((_, i) => (i * 37) % 256));
  const jpg = jpegRgb(16, 16, new Array(16 * 16 * 3).fill(0).map((_, i) => (i * 11) % 256));

  it('unknown format', () => {
    expectUserError(() => decodeImage(Buffer.from('GIF89a....'), 'x/a.gif'), DatasetError, ['x/a.gif', 'unknown format', 're-export']);
  });

  it('empty file', () => {
    expectUserError(() => decodeImage(new Uint8Array(0), 'empty.png'), DatasetError, ['empty.png', 'empty']);
  });

  it('truncated PNG', () => {
    expectUserError(() => decodeImage(png.subarray(0, png.length - 20), 'cut.png'), DatasetError, ['cut.png', 'PNG', 'truncated']);
  });

  it('PNG with a damaged chunk (CRC mismatch)', () => {
    const bad = Buffer.from(png);
    bad[40] = bad[40]! ^ 0xff; // inside IDAT
    expectUserError(() => decodeImage(bad, 'crc.png'), DatasetError, ['crc.png', 'PNG']);
  });

  it('PNG signature followed by garbage', () => {
    const bad = Buffer.concat([png.subarray(0, 8), Buffer.alloc(40, 7)]);
    expectUserError(() => decodeImage(bad, 'junk.png'), DatasetError, ['junk.png']);
  });

  it('truncated JPEG', () => {
    expectUserError(() => decodeImage(jpg.subarray(0, Math.floor(jpg.length * 0.7)), 'cut.jpg'), DatasetError, [
      'cut.jpg',
      'truncated',
    ]);
  });

  it('JPEG header only', () => {
    expectUserError(() => decodeImage(jpg.subarray(0, 20), 'head.jpg'), DatasetError, ['head.jpg', 'JPEG']);
  });
});
