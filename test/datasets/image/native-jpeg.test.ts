/**
 * The native addon's JPEG decoder (native/medsynth_jpeg.cc: the system's libjpeg-turbo) against the wasm
 * build (datasets/image/libjpeg.ts) it replaces when built: identical samples, byte for byte, on JPEGs
 * written in the test (4:4:4, 4:2:2, 4:2:0, 4:4:0, odd sizes), by sharp (mozjpeg), grey, with an Adobe
 * marker or 'R', 'G', 'B' component ids; the same refusals with the same one-line errors for corrupt and
 * truncated files; and the decoding workers use it (counted, so a silent fallback to wasm fails here),
 * with the same loaded pixels as MEDSYNTH_NATIVE=0 (the wasm decoder) and no worker left running.
 */
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFolderCsv } from '../../../datasets/folder-csv/index.js';
import { decodeImage } from '../../../datasets/image/decode.js';
import { decodeJpegLibjpeg, decodeJpegNative, decodeJpegWasm, jpegDecodeCounts, nativeJpegPath, type LibjpegImage } from '../../../datasets/image/libjpeg.js';
import { liveDecodeWorkers } from '../../../datasets/image/sharp.js';
import { DatasetError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { cleanup, expectUserError, greyJpeg8x8, tempDir, writeTree } from '../helpers.js';
import { jpegFromPlanes, testPlane as plane } from '../jpeg-writer.js';
import { withEnv } from '../../helpers/env.js';

const built = nativeJpegPath() !== null;

function subsampled(seed: number, w: number, ht: number, h: 1 | 2, v: 1 | 2): Buffer {
  const rng = new Rng(seed);
  const cw = Math.ceil(w / h);
  const ch = Math.ceil(ht / v);
  return Buffer.from(jpegFromPlanes({ width: w, height: ht, h, v, y: plane(rng, w, ht, 0, 30), cb: plane(rng, cw, ch, 3, 15), cr: plane(rng, cw, ch, 11, 15), q: 3 }));
}

/** Every kind of JPEG the loader hands to libjpeg-turbo, by name. */
async function samples(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  const modes: Array<[string, 1 | 2, 1 | 2]> = [['444', 1, 1], ['422', 2, 1], ['420', 2, 2], ['440', 1, 2]];
  for (const [name, h, v] of modes) {
    for (const [w, ht] of [[97, 83], [64, 48], [6, 5]] as const) out[`${name}_${w}x${ht}`] = subsampled(w * 7 + h * 3 + v, w, ht, h, v);
  }
  const base = subsampled(2, 24, 16, 2, 2);
  // APP14 "Adobe", transform 1 (YCbCr), after SOI
  const app14 = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 1];
  out.adobe = Buffer.concat([base.subarray(0, 2), Buffer.from(app14), base.subarray(2)]);
  const rgbIds = Buffer.from(base);
  const sof = rgbIds.indexOf(Buffer.from([0xff, 0xc0]));
  const sos = rgbIds.indexOf(Buffer.from([0xff, 0xda]));
  [0x52, 0x47, 0x42].forEach((id, k) => {
    rgbIds[sof + 10 + 3 * k] = id;
    rgbIds[sos + 5 + 2 * k] = id;
  });
  out.rgbIds = rgbIds;
  const rng = new Rng(9);
  const [w, h] = [97, 83];
  const planes = [plane(rng, w, h, 0, 20), plane(rng, w, h, 5, 20), plane(rng, w, h, 13, 20)];
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) rgb[3 * p + k] = planes[k]![p]!;
  for (const chromaSubsampling of ['4:2:0', '4:4:4']) {
    out[`sharp${chromaSubsampling.replace(/:/g, '')}`] = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling }).toBuffer();
  }
  out.progressive = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80, progressive: true }).toBuffer();
  out.grey = await sharp(planes[0]!, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 80 }).toBuffer();
  out.grey8x8 = greyJpeg8x8();
  return out;
}

/** A JPEG whose scan data stops half-way, with its end-of-image marker kept (so only libjpeg notices). */
function cutInScan(buf: Buffer): Buffer {
  const sos = buf.lastIndexOf(Buffer.from([0xff, 0xda]));
  const mid = sos + Math.floor((buf.length - sos) / 2);
  return Buffer.concat([buf.subarray(0, mid), Buffer.from([0xff, 0xd9])]);
}

function sameImage(a: LibjpegImage | null, b: LibjpegImage | null): boolean {
  return !!a && !!b && a.width === b.width && a.height === b.height && a.components === b.components && Buffer.from(a.data).equals(Buffer.from(b.data));
}

describe.skipIf(!built)('native libjpeg-turbo decoder (skipped when the addon is not built with decodeJpeg: apt-get install libjpeg62-turbo-dev libdnnl-dev, then npm run build:native)', () => {
  it('gives the wasm decoder\'s samples byte for byte, and is the one decodeJpegLibjpeg uses', async () => {
    const files = await samples();
    for (const [name, buf] of Object.entries(files)) {
      const before = { ...jpegDecodeCounts };
      const wasm = decodeJpegWasm(buf);
      const native = decodeJpegNative(buf);
      expect(sameImage(native, wasm), name).toBe(true);
      expect(native.components, name).toBe(name.startsWith('grey') ? 1 : 3);
      expect(sameImage(decodeJpegLibjpeg(buf), wasm), name).toBe(true);
      expect(jpegDecodeCounts.native - before.native, name).toBe(2);
      expect(jpegDecodeCounts.wasm - before.wasm, name).toBe(1);
      // MEDSYNTH_NATIVE=0: the wasm decoder
      withEnv({ MEDSYNTH_NATIVE: '0' }, () => expect(sameImage(decodeJpegLibjpeg(buf), wasm), name).toBe(true));
      expect(jpegDecodeCounts.wasm - before.wasm, name).toBe(2);
    }
  });

  it('corrupt and truncated files: refused by both with the same one-line error naming the file', () => {
    const good = subsampled(3, 16, 16, 1, 1);
    const noComponents = Buffer.from(good);
    noComponents[noComponents.indexOf(Buffer.from([0xff, 0xc0])) + 9] = 0;
    const cases: Array<[string, Buffer, string]> = [
      ['zero components', noComponents, 'not a readable PNG/JPEG image'],
      ['scan cut, end marker kept', cutInScan(subsampled(5, 97, 83, 2, 2)), 'libjpeg-turbo could not decode it'],
      ['truncated', good.subarray(0, good.length - 20), 'truncated'],
    ];
    for (const [what, buf, part] of cases) {
      const before = { ...jpegDecodeCounts };
      const native = expectUserError(() => decodeImage(buf, 'scans/broken.jpg'), DatasetError, ['scans/broken.jpg', part]);
      const wasm = withEnv({ MEDSYNTH_NATIVE: '0' }, () => expectUserError(() => decodeImage(buf, 'scans/broken.jpg'), DatasetError, ['scans/broken.jpg']));
      expect(native, what).toBe(wasm);
      // only the cut scan reaches libjpeg-turbo (once each build): the frame header and end-marker checks
      // of decode.ts catch the other two before it
      const reached = what === 'scan cut, end marker kept' ? 1 : 0;
      expect([jpegDecodeCounts.native - before.native, jpegDecodeCounts.wasm - before.wasm], what).toEqual([reached, reached]);
    }
    for (const decode of [decodeJpegNative, decodeJpegWasm]) expect(() => decode(noComponents)).toThrow(/^libjpeg-turbo could not decode it/);
    expect(() => decodeJpegNative(cutInScan(good))).toThrow(/^libjpeg-turbo could not decode it \(corrupt or unsupported JPEG data\)$/);
    expect(() => decodeJpegWasm(cutInScan(good))).toThrow(/^libjpeg-turbo could not decode it \(corrupt or unsupported JPEG data\)$/);
  });

  describe('in the decoding workers', () => {
    let dir: string;
    beforeEach(() => {
      dir = tempDir();
    });
    afterEach(() => cleanup(dir));

    it('decodes there (counted), with the loaded pixels of MEDSYNTH_NATIVE=0, and leaves no worker running', async () => {
      const files = await samples();
      // Colour files of one size class would do; every kind goes through, at --channels 3.
      const names = Object.keys(files).map((k) => `${k}.jpg`);
      writeTree(dir, { ...Object.fromEntries(Object.entries(files).map(([k, b]) => [`${k}.jpg`, b])), 'manifest.csv': 'path,label\n' + names.map((f, i) => `${f},${i % 2}`).join('\n') + '\n' });
      const load = (native: string | undefined) =>
        withEnv({ MEDSYNTH_DECODER: 'js', MEDSYNTH_DECODE_WORKERS: '2', MEDSYNTH_NATIVE: native }, () => {
          const before = { ...jpegDecodeCounts };
          const ds = loadFolderCsv({ path: dir, size: 32, channels: 3, cacheDir: null });
          return { ds, native: jpegDecodeCounts.native - before.native, wasm: jpegDecodeCounts.wasm - before.wasm };
        });
      const fast = load(undefined);
      const wasm = load('0');
      expect([fast.native, fast.wasm]).toEqual([names.length, 0]);
      expect([wasm.native, wasm.wasm]).toEqual([0, names.length]);
      expect(fast.ds.n).toBe(names.length);
      expect(Buffer.from(fast.ds.images.buffer, fast.ds.images.byteOffset, fast.ds.images.byteLength).equals(Buffer.from(wasm.ds.images.buffer, wasm.ds.images.byteOffset, wasm.ds.images.byteLength))).toBe(true);
      for (let t = 0; t < 100 && liveDecodeWorkers() > 0; t++) await new Promise((r) => setTimeout(r, 50));
      expect(liveDecodeWorkers()).toBe(0);
    });

    it('a file libjpeg-turbo refuses in a worker: the same one-line error as with the wasm decoder', () => {
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 20; i++) files[`f${i}.jpg`] = subsampled(20 + i, 40, 40, 2, 2);
      files['f13.jpg'] = cutInScan(files['f13.jpg']!);
      const names = Object.keys(files);
      writeTree(dir, { ...files, 'manifest.csv': 'path,label\n' + names.map((f, i) => `${f},${i % 2}`).join('\n') + '\n' });
      const run = (native: string | undefined) =>
        withEnv({ MEDSYNTH_DECODER: 'js', MEDSYNTH_DECODE_WORKERS: '2', MEDSYNTH_NATIVE: native }, () =>
          expectUserError(() => loadFolderCsv({ path: dir, size: 8, cacheDir: null }), DatasetError, ['f13.jpg', 'libjpeg-turbo could not decode it']),
        );
      expect(run(undefined)).toBe(run('0'));
    });
  });
});
