/**
 * libjpeg-style chroma upsampling and YCbCr → RGB (datasets/image/jpeg-colour.ts) against hand-computed
 * values (test/fixtures/jpeg-fancy.json), and the pure-JS JPEG decoder against sharp (libjpeg-turbo) at
 * full resolution for 4:4:4, 4:2:2, 4:2:0 and 4:4:0 files written in the test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../datasets/image/decode.js';
import { libjpegRgbFromYcc, upsampleChroma, ycbcrToRgbPixel } from '../../../datasets/image/jpeg-colour.js';
import { Rng } from '../../../src/core/rng.js';
import { REPO_ROOT } from '../helpers.js';
import { jpegFromPlanes } from '../jpeg-writer.js';

interface UpsampleCase {
  name: string;
  rx: 1 | 2;
  ry: 1 | 2;
  cw: number;
  ch: number;
  width: number;
  height: number;
  plane: number[];
  expected: number[];
}

const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/jpeg-fancy.json'), 'utf8')) as {
  upsample: UpsampleCase[];
  colour: { cases: Array<{ ycbcr: [number, number, number]; rgb: [number, number, number] }> };
};

describe('fancy chroma upsampling and YCbCr → RGB against hand-computed values (test/fixtures/jpeg-fancy.json)', () => {
  for (const c of fixture.upsample) {
    it(c.name, () => {
      const out = upsampleChroma(Uint8Array.from(c.plane), c.cw, c.ch, c.rx, c.ry, c.width, c.height);
      expect(Array.from(out)).toEqual(c.expected);
    });
  }

  it('converts with libjpeg fixed-point tables (rounded, clamped; not truncated, not the float JFIF rounding)', () => {
    for (const c of fixture.colour.cases) {
      const out = new Uint8Array(3);
      ycbcrToRgbPixel(...c.ycbcr, out, 0);
      expect(Array.from(out), `YCbCr ${c.ycbcr.join(',')}`).toEqual(c.rgb);
    }
  });

  it('rejects a plane that does not match the output size', () => {
    expect(() => upsampleChroma(new Uint8Array(6), 3, 2, 2, 2, 7, 4)).toThrow(/does not match/);
  });

  it('reads the native chroma back from jpeg-js replicated samples (4:2:0, 5 x 3)', () => {
    // Y all 128; chroma 3 x 2 replicated over 2 x 2 blocks the way jpeg-js does without colour transform
    const [w, h] = [5, 3];
    const cb = [0, 2, 4, 8, 10, 12];
    const ycc = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = (y * w + x) * 3;
        ycc[p] = 128;
        ycc[p + 1] = cb[(y >> 1) * 3 + (x >> 1)]!;
        ycc[p + 2] = 128;
      }
    }
    const rgb = libjpegRgbFromYcc(ycc, w, h, 2, 2);
    const up = fixture.upsample.find((c) => c.rx === 2 && c.ry === 2 && c.width === 5)!.expected;
    for (let p = 0; p < w * h; p++) {
      const want = new Uint8Array(3);
      ycbcrToRgbPixel(128, up[p]!, 128, want, 0);
      expect(Array.from(rgb.subarray(3 * p, 3 * p + 3))).toEqual(Array.from(want));
    }
  });
});

/** A smooth pattern plus noise, one 8-bit plane. */
function plane(rng: Rng, w: number, h: number, phase: number, noise: number): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 128 + 90 * Math.sin((x + phase) / 7) * Math.cos((y - phase) / 9) + rng.range(-noise, noise);
      a[y * w + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return a;
}

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

/** Full-resolution RGB from sharp (libjpeg-turbo) and from the pure-JS decoder, and jpeg-js's own RGB. */
async function decodeAll(buf: Buffer) {
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  const ours = decodeImage(buf, 'test.jpg');
  expect([ours.width, ours.height, ours.channels]).toEqual([info.width, info.height, 3]);
  const plain = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false });
  return { ref: new Uint8Array(data), ours: ours.data, jpegJs: Float32Array.from(plain.data, (v) => v / 255) };
}

describe('pure-JS colour JPEG against sharp (libjpeg-turbo) at full resolution', () => {
  // What remains is the IDCT: jpeg-js's (Loeffler, poppler's) and libjpeg's islow round differently,
  // by one level per sample (grey JPEG: max 1), which the colour conversion can grow to 3 (1.772 × a
  // chroma level plus a luma level). The measured max here is 3; before this change 12-29 when chroma
  // is subsampled.
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
        const now = diffs(ref, ours);
        const before = diffs(ref, jpegJs);
        expect(now.max).toBeLessThanOrEqual(3);
        expect(now.mean).toBeLessThanOrEqual(w > 8 ? 0.2 : 0.5);
        if (h * v > 1 && w > 8) expect(before.max).toBeGreaterThan(8); // jpeg-js's nearest chroma is far off ...
        expect(now.mean).toBeLessThan(before.mean); // ... and its truncating conversion is biased
      });
    }
  }

  it("keeps jpeg-js's own conversion for files with an Adobe marker or 'R', 'G', 'B' component ids", () => {
    const rng = new Rng(2);
    const [w, h] = [24, 16];
    const buf = jpegFromPlanes({ width: w, height: h, h: 2, v: 2, y: plane(rng, w, h, 0, 30), cb: plane(rng, 12, 8, 3, 15), cr: plane(rng, 12, 8, 11, 15) });
    const jsOwn = (b: Buffer) => Float32Array.from(jpeg.decode(b, { useTArray: true, formatAsRGBA: false }).data, (v) => v / 255);
    expect(decodeImage(buf, 'a.jpg').data).not.toEqual(jsOwn(buf)); // the libjpeg path
    // APP14 "Adobe", version 100, flags 0, 0, transform 1 (YCbCr), inserted after SOI
    const app14 = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 1];
    const adobe = Buffer.concat([buf.subarray(0, 2), Buffer.from(app14), buf.subarray(2)]);
    expect(decodeImage(adobe, 'adobe.jpg').data).toEqual(jsOwn(adobe));
    // component ids 'R', 'G', 'B' in the frame header and the scan header
    const rgbIds = Buffer.from(buf);
    const sof = rgbIds.indexOf(Buffer.from([0xff, 0xc0]));
    const sos = rgbIds.indexOf(Buffer.from([0xff, 0xda]));
    [0x52, 0x47, 0x42].forEach((id, k) => {
      rgbIds[sof + 10 + 3 * k] = id;
      rgbIds[sos + 5 + 2 * k] = id;
    });
    expect(decodeImage(rgbIds, 'rgb.jpg').data).toEqual(jsOwn(rgbIds));
  });

  it('4:2:0 and 4:4:4 as sharp (mozjpeg) writes them', async () => {
    const rng = new Rng(9);
    const [w, h] = [97, 83];
    const rgb = new Uint8Array(w * h * 3);
    const planes = [plane(rng, w, h, 0, 20), plane(rng, w, h, 5, 20), plane(rng, w, h, 13, 20)];
    for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) rgb[3 * p + k] = planes[k]![p]!;
    for (const chromaSubsampling of ['4:2:0', '4:4:4']) {
      const buf = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling }).toBuffer();
      expect((await sharp(buf).metadata()).chromaSubsampling).toBe(chromaSubsampling);
      const { ref, ours, jpegJs } = await decodeAll(buf);
      const now = diffs(ref, ours);
      expect(now.max, chromaSubsampling).toBeLessThanOrEqual(3);
      expect(now.mean, chromaSubsampling).toBeLessThanOrEqual(0.2);
      expect(now.mean).toBeLessThan(diffs(ref, jpegJs).mean);
    }
  });
});
