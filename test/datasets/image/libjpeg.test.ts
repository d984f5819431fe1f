/**
 * The pure-JS path's JPEG decoder (datasets/image/libjpeg.ts: libjpeg-turbo in WebAssembly) against sharp
 * (libvips → mozjpeg, a libjpeg-turbo fork) at full resolution: identical samples for 4:4:4, 4:2:2, 4:2:0
 * and 4:4:0 files written in the test (test/datasets/jpeg-writer.ts), files sharp writes, grey files, and
 * files with an Adobe marker or 'R', 'G', 'B' component ids. jpeg-js, the decoder before it, is measured
 * beside it so the test shows what the change fixed.
 */
import jpeg from 'jpeg-js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, JS_DECODER_VERSION, jsDecoderVersion } from '../../../datasets/image/decode.js';
import { decodeJpegLibjpeg } from '../../../datasets/image/libjpeg.js';
import { Rng } from '../../../src/core/rng.js';
import { jpegFromPlanes, testPlane as plane } from '../jpeg-writer.js';

function diffs(ref: Uint8Array, ours: Float32Array): { max: number; mean: number } {
  expect(ours.length).toBe(ref.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - Math.round(ours[i]! * 255));
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / ref.length };
}

/** Full-resolution samples from sharp and from the pure-JS decoder, and jpeg-js's own. */
async function decodeAll(buf: Buffer, channels: 1 | 3 = 3) {
  // sharp hands a grey JPEG over as three equal channels; the first is the stored one.
  const img = channels === 1 ? sharp(buf).extractChannel(0) : sharp(buf);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(channels);
  const ours = decodeImage(buf, 'test.jpg');
  expect([ours.width, ours.height, ours.channels]).toEqual([info.width, info.height, channels]);
  const plain = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false });
  const jpegJs = channels === 3 ? Float32Array.from(plain.data, (v) => v / 255) : Float32Array.from({ length: info.width * info.height }, (_, p) => plain.data[3 * p]! / 255);
  return { ref: new Uint8Array(data), ours: ours.data, jpegJs };
}

describe('pure-JS JPEG (libjpeg-turbo wasm) against sharp at full resolution: identical samples', () => {
  const cases: Array<[string, 1 | 2, 1 | 2]> = [
    ['4:4:4', 1, 1],
    ['4:2:2', 2, 1],
    ['4:2:0', 2, 2],
    ['4:4:0', 1, 2],
  ];
  for (const [name, h, v] of cases) {
    for (const [w, ht] of [[97, 83], [64, 48], [6, 5]] as const) {
      it(`${name}, ${w}x${ht} (written in the test)`, async () => {
        const rng = new Rng(w * 7 + h * 3 + v);
        const cw = Math.ceil(w / h);
        const ch = Math.ceil(ht / v);
        const buf = jpegFromPlanes({ width: w, height: ht, h, v, y: plane(rng, w, ht, 0, 30), cb: plane(rng, cw, ch, 3, 15), cr: plane(rng, cw, ch, 11, 15), q: 3 });
        const { ref, ours, jpegJs } = await decodeAll(buf);
        expect(diffs(ref, ours)).toEqual({ max: 0, mean: 0 });
        if (w > 8) expect(diffs(ref, jpegJs).max).toBeGreaterThan(2); // jpeg-js was off by several levels
      });
    }
  }

  it('files with an Adobe marker or R, G, B component ids: as sharp decodes them', async () => {
    const rng = new Rng(2);
    const [w, h] = [24, 16];
    const buf = jpegFromPlanes({ width: w, height: h, h: 2, v: 2, y: plane(rng, w, h, 0, 30), cb: plane(rng, 12, 8, 3, 15), cr: plane(rng, 12, 8, 11, 15) });
    // APP14 "Adobe", version 100, flags 0, 0, transform 1 (YCbCr), inserted after SOI
    const app14 = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 1];
    const adobe = Buffer.concat([buf.subarray(0, 2), Buffer.from(app14), buf.subarray(2)]);
    expect(diffs(...pick(await decodeAll(adobe)))).toEqual({ max: 0, mean: 0 });
    // component ids 'R', 'G', 'B' in the frame header and the scan header (how libjpeg reads them depends
    // on the other markers; what matters here is that both decoders read them alike)
    const rgbIds = Buffer.from(buf);
    const sof = rgbIds.indexOf(Buffer.from([0xff, 0xc0]));
    const sos = rgbIds.indexOf(Buffer.from([0xff, 0xda]));
    [0x52, 0x47, 0x42].forEach((id, k) => {
      rgbIds[sof + 10 + 3 * k] = id;
      rgbIds[sos + 5 + 2 * k] = id;
    });
    expect(diffs(...pick(await decodeAll(rgbIds)))).toEqual({ max: 0, mean: 0 });
  });

  it('4:2:0 and 4:4:4 as sharp (mozjpeg) writes them, and grey', async () => {
    const rng = new Rng(9);
    const [w, h] = [97, 83];
    const rgb = new Uint8Array(w * h * 3);
    const planes = [plane(rng, w, h, 0, 20), plane(rng, w, h, 5, 20), plane(rng, w, h, 13, 20)];
    for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) rgb[3 * p + k] = planes[k]![p]!;
    for (const chromaSubsampling of ['4:2:0', '4:4:4']) {
      const buf = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling }).toBuffer();
      expect((await sharp(buf).metadata()).chromaSubsampling).toBe(chromaSubsampling);
      expect(diffs(...pick(await decodeAll(buf))), chromaSubsampling).toEqual({ max: 0, mean: 0 });
    }
    const grey = await sharp(planes[0]!, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 80 }).toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    expect(diffs(...pick(await decodeAll(grey, 1)))).toEqual({ max: 0, mean: 0 });
  });

  it('refuses corrupt data with an Error (decodeImage turns it into a one-line DatasetError naming the file)', () => {
    const rng = new Rng(3);
    const buf = Buffer.from(jpegFromPlanes({ width: 16, height: 16, h: 1, v: 1, y: plane(rng, 16, 16, 0, 5), cb: plane(rng, 16, 16, 1, 5), cr: plane(rng, 16, 16, 2, 5) }));
    const sof = buf.indexOf(Buffer.from([0xff, 0xc0]));
    buf[sof + 9] = 0; // zero components in the frame header
    expect(() => decodeJpegLibjpeg(buf)).toThrow(/libjpeg-turbo could not decode it/);
    expect(() => decodeImage(buf, 'scans/broken.jpg')).toThrow(/^scans\/broken\.jpg: not a readable PNG\/JPEG image/);
  });
});

function pick(r: { ref: Uint8Array; ours: Float32Array }): [Uint8Array, Float32Array] {
  return [r.ref, r.ours];
}

describe('MEDSYNTH_JPEG_DECODER=jpeg-js (the baseline of bench:load, and an escape hatch)', () => {
  it("gives jpeg-js's pixels and another cache-key version", () => {
    const rng = new Rng(4);
    const buf = jpegFromPlanes({ width: 24, height: 16, h: 2, v: 2, y: plane(rng, 24, 16, 0, 30), cb: plane(rng, 12, 8, 3, 15), cr: plane(rng, 12, 8, 11, 15) });
    const own = Float32Array.from(jpeg.decode(buf, { useTArray: true, formatAsRGBA: false }).data, (v) => v / 255);
    expect(jsDecoderVersion()).toBe(JS_DECODER_VERSION);
    expect(decodeImage(buf, 'a.jpg').data).not.toEqual(own);
    process.env.MEDSYNTH_JPEG_DECODER = 'jpeg-js';
    try {
      expect(decodeImage(buf, 'a.jpg').data).toEqual(own);
      expect(jsDecoderVersion()).not.toBe(JS_DECODER_VERSION);
    } finally {
      delete process.env.MEDSYNTH_JPEG_DECODER;
    }
  });
});
