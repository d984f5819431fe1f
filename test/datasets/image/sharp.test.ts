/**
 * The sharp decoder against the pure-JS one: same pixels within 1/255 after crop and resize for PNG and
 * JPEG (8-bit JPEG samples identical: both paths decode with libjpeg-turbo), the same one-line errors for
 * files sharp declines, and
 * MEDSYNTH_DECODER picking the path. Then the decoding workers (decode and resize off the loading thread):
 * bit-identical float32 pixels to the same decode and resize on the loading thread, in file order, with the
 * same errors, and no worker left behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFolderCsv } from '../../../datasets/folder-csv/index.js';
import { decodeImage, decodeImageStored } from '../../../datasets/image/decode.js';
import { toSquarePixels } from '../../../datasets/image/resize.js';
import { decodeResizeEach, decoderChoice, decodeWorkers, liveDecodeWorkers, sharpAvailable, type ImageInfo } from '../../../datasets/image/sharp.js';
import { DatasetError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { cleanup, expectUserError, jpegRgb, pngjsPng, SHARED_DATA, tempDir, writeTree } from '../helpers.js';
import { withEnv } from '../../helpers/env.js';

/** Loads `path` once with each decoder. */
function loadBoth(path: string, size: number, extra: { channels?: 1 | 3; limit?: number } = {}) {
  const saved = process.env.MEDSYNTH_DECODER;
  try {
    process.env.MEDSYNTH_DECODER = 'js';
    const js = loadFolderCsv({ path, size, ...extra });
    process.env.MEDSYNTH_DECODER = 'sharp';
    const fast = loadFolderCsv({ path, size, ...extra });
    return { js, fast };
  } finally {
    if (saved === undefined) delete process.env.MEDSYNTH_DECODER;
    else process.env.MEDSYNTH_DECODER = saved;
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Smooth gradients plus noise: enough texture that two decoders could disagree. */
function texture(rng: Rng, n: number, max: number, c: number, w: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < n; p++) {
    const x = p % w;
    const y = Math.floor(p / w);
    for (let k = 0; k < c; k++) {
      const v = (0.5 + 0.3 * Math.sin((x + 7 * k) / 9) * Math.cos(y / 13) + rng.range(-0.15, 0.15)) * max;
      out.push(Math.max(0, Math.min(max, Math.round(v))));
    }
  }
  return out;
}

describe('sharp decoder', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => cleanup(dir));

  it('is installed here (the fast path the benchmarks measure)', () => {
    expect(sharpAvailable({ MEDSYNTH_DECODER: 'auto' })).toBe(true);
    expect(sharpAvailable({ MEDSYNTH_DECODER: 'js' })).toBe(false);
    expect(() => decoderChoice({ MEDSYNTH_DECODER: 'fast' })).toThrow(/MEDSYNTH_DECODER=fast: give auto, sharp or js/);
  });

  it('gives the pure-JS pixels within 1/255 for PNG (grey, RGB, RGBA; 8 and 16 bit) and grey JPEG, after crop and resize', async () => {
    const rng = new Rng(3);
    const [w, h] = [97, 83]; // not square: the centre crop is exercised; 83 → 32 shrinks, 83 → 128 enlarges
    const grey = Buffer.from(Uint8Array.from(texture(rng, w * h, 255, 1, w)));
    const files: Record<string, Uint8Array | string> = {
      'g8.png': pngjsPng(0, 8, w, h, texture(rng, w * h, 255, 1, w)),
      'g16.png': pngjsPng(0, 16, w, h, texture(rng, w * h, 65535, 1, w)),
      'rgb8.png': pngjsPng(2, 8, w, h, texture(rng, w * h, 255, 3, w)),
      'rgb16.png': pngjsPng(2, 16, w, h, texture(rng, w * h, 65535, 3, w)),
      'rgba8.png': pngjsPng(6, 8, w, h, texture(rng, w * h, 255, 4, w)),
      'grey.jpg': await sharp(grey, { raw: { width: w, height: h, channels: 1 } }).jpeg({ quality: 90 }).toBuffer(),
    };
    files['manifest.csv'] = 'path,label\n' + Object.keys(files).map((f, i) => `${f},${i % 2}`).join('\n') + '\n';
    writeTree(dir, files);
    for (const size of [32, 128]) {
      for (const channels of [1, 3] as const) {
        const { js, fast } = loadBoth(dir, size, { channels });
        expect(fast.source.fingerprint).toBe(js.source.fingerprint);
        expect(fast.bitDepth).toBe(16);
        expect(fast.source.sourceDims).toEqual(js.source.sourceDims);
        expect(js.source.preprocessing.decoder).toBe('js');
        expect(fast.source.preprocessing.decoder).toBe('sharp');
        expect(maxAbsDiff(fast.images, js.images)).toBeLessThanOrEqual(1 / 255 + 1e-6); // + float rounding
      }
    }
    // PNG alone agrees to float rounding: both decoders hand over the same stored samples.
    writeTree(dir, { 'png.csv': 'path,label\ng16.png,0\nrgb16.png,0\nrgba8.png,1\n' });
    const png = loadBoth(join(dir, 'png.csv'), 32, { channels: 3 });
    expect(maxAbsDiff(png.fast.images, png.js.images)).toBeLessThanOrEqual(1e-6);
  });

  it('colour JPEG: the same samples at full resolution and the same pixels after resize (both decoders are libjpeg-turbo)', async () => {
    // Before: jpeg-js (its own IDCT, chroma replication, truncating conversion), 1.93/255 max and 0.46/255
    // mean at 64 px.
    const rng = new Rng(5);
    const [w, h] = [97, 83];
    const file = jpegRgb(w, h, texture(rng, w * h, 255, 3, w), 90);
    writeTree(dir, { 'rgb.jpg': file, 'manifest.csv': 'path,label\nrgb.jpg,0\n' });
    const full = await sharp(file).raw().toBuffer();
    const ours = decodeImage(file, 'rgb.jpg').data;
    expect(maxAbsDiff(Float32Array.from(full, (v) => v / 255), ours)).toBe(0);
    const { js, fast } = loadBoth(dir, 64, { channels: 3 });
    expect(maxAbsDiff(fast.images, js.images)).toBeLessThanOrEqual(1e-6); // float rounding of 8- vs 16-bit scaling at most
    // The decoder stays in the named preprocessing: CMYK JPEGs and files sharp declines can still differ.
    expect(fast.source.preprocessing).not.toEqual(js.source.preprocessing);
  });

  it('detects grey and colour the same way (mixed folders still need --channels)', () => {
    const rng = new Rng(4);
    writeTree(dir, {
      'a.png': pngjsPng(0, 8, 16, 16, texture(rng, 256, 255, 1, 16)),
      'b.png': pngjsPng(2, 8, 16, 16, texture(rng, 256, 255, 3, 16)),
      'manifest.csv': 'path,label\na.png,0\nb.png,1\n',
    });
    process.env.MEDSYNTH_DECODER = 'sharp';
    try {
      expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['images mix grey and colour', 'line 2', 'line 3', '--channels']);
    } finally {
      delete process.env.MEDSYNTH_DECODER;
    }
  });

  it('falls back to the pure-JS decoder for files sharp declines, with the same one-line error', () => {
    const good = jpegRgb(16, 16, new Array(16 * 16 * 3).fill(120));
    writeTree(dir, {
      'ok.jpg': good,
      'cut.jpg': good.subarray(0, good.length - 40),
      'manifest.csv': 'path,label\nok.jpg,0\ncut.jpg,1\n',
    });
    const messages = (['js', 'sharp'] as const).map((d) => {
      process.env.MEDSYNTH_DECODER = d;
      try {
        return expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['cut.jpg', 'truncated']);
      } finally {
        delete process.env.MEDSYNTH_DECODER;
      }
    });
    expect(messages[1]).toBe(messages[0]);
    expect(messages[0]).not.toContain('\n');
  });

  const ham = join(SHARED_DATA, 'ham10000-224');
  it.skipIf(!existsSync(join(ham, 'manifest.csv')))('gives the pure-JS pixels on 60 real HAM10000 JPEGs at 64 px, and the same samples at full size', async () => {
    // Measured 2026-12-05 (sharp 0.35.6): identical. With jpeg-js before: at 64 px max 4.12/255, mean
    // 0.442/255; at full size (224 px) max 13, mean 0.601 levels on the first 20.
    const { js, fast } = loadBoth(ham, 64, { limit: 60 });
    expect(fast.n).toBe(60);
    expect(fast.source.fingerprint).toBe(js.source.fingerprint);
    expect(maxAbsDiff(fast.images, js.images)).toBeLessThanOrEqual(1e-6);
    const paths = readFileSync(join(ham, 'manifest.csv'), 'utf8').trim().split('\n').slice(1, 21).map((l) => l.split(',')[0]!);
    let max = 0;
    let sum = 0;
    let n = 0;
    for (const p of paths) {
      const bytes = readFileSync(join(ham, p));
      const full = await sharp(bytes).raw().toBuffer();
      const ours = decodeImage(bytes, p).data;
      expect(ours.length).toBe(full.length);
      for (let i = 0; i < full.length; i++) {
        const d = Math.abs(full[i]! - Math.round(ours[i]! * 255));
        max = Math.max(max, d);
        sum += d;
        n++;
      }
    }
    expect(n).toBe(20 * 224 * 224 * 3);
    expect(max).toBe(0);
    expect(sum).toBe(0);
  });
});

/** True when two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('decoding workers (decode and resize off the loading thread)', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => cleanup(dir));

  const [w, h] = [97, 83]; // not square (the crop), 83 → 32 shrinks, 83 → 128 enlarges
  /**
   * 40 files, five rounds of PNG grey/RGB/RGBA at 8 and 16 bits and JPEG grey/RGB 4:4:4/4:2:0, so several
   * batches go to each worker and file order is tested; `stored` has the samples as stored (alpha dropped)
   * of each PNG sharp decodes, from which the in-thread resize of sharp's decode is computed.
   */
  async function fixtures(): Promise<{ names: string[]; stored: Map<string, { data: Uint8Array | Uint16Array; c: 1 | 3; scale: number }> }> {
    const rng = new Rng(11);
    const files: Record<string, Uint8Array> = {};
    const stored = new Map<string, { data: Uint8Array | Uint16Array; c: 1 | 3; scale: number }>();
    for (let r = 0; r < 5; r++) {
      const g8 = texture(rng, w * h, 255, 1, w);
      const g16 = texture(rng, w * h, 65535, 1, w);
      const c8 = texture(rng, w * h, 255, 3, w);
      const c16 = texture(rng, w * h, 65535, 3, w);
      const a8 = texture(rng, w * h, 255, 4, w);
      // No `stored` entry: sharp hands an 8-bit grey PNG over as 3 channels (it keeps the ICC profile), so
      // the worker declines it and the loading thread decodes it with pngjs, as before the workers resized.
      files[`g8_${r}.png`] = pngjsPng(0, 8, w, h, g8);
      files[`g16_${r}.png`] = pngjsPng(0, 16, w, h, g16);
      stored.set(`g16_${r}.png`, { data: Uint16Array.from(g16), c: 1, scale: 1 / 65535 });
      files[`rgb8_${r}.png`] = pngjsPng(2, 8, w, h, c8);
      stored.set(`rgb8_${r}.png`, { data: Uint8Array.from(c8), c: 3, scale: 1 / 255 });
      files[`rgb16_${r}.png`] = pngjsPng(2, 16, w, h, c16);
      stored.set(`rgb16_${r}.png`, { data: Uint16Array.from(c16), c: 3, scale: 1 / 65535 });
      files[`rgba8_${r}.png`] = pngjsPng(6, 8, w, h, a8);
      stored.set(`rgba8_${r}.png`, { data: Uint8Array.from(a8.filter((_, k) => k % 4 !== 3)), c: 3, scale: 1 / 255 });
      files[`grey_${r}.jpg`] = await sharp(Buffer.from(Uint8Array.from(texture(rng, w * h, 255, 1, w))), { raw: { width: w, height: h, channels: 1 } }).jpeg({ quality: 90 }).toBuffer();
      files[`rgb_${r}.jpg`] = jpegRgb(w, h, texture(rng, w * h, 255, 3, w), 90);
      files[`s420_${r}.jpg`] = await sharp(Buffer.from(Uint8Array.from(c8)), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85, chromaSubsampling: '4:2:0' }).toBuffer();
    }
    const names = Object.keys(files);
    writeTree(dir, { ...files, 'manifest.csv': 'path,label\n' + names.map((f, i) => `${f},${i % 2}`).join('\n') + '\n' });
    return { names, stored };
  }

  /** decodeResizeEach over the fixture files with `workers` threads (0: all on this thread), in file order. */
  function run(names: string[], size: number, channels: 1 | 3 | undefined, workers: number): Array<{ i: number; info: ImageInfo; pixels: Float32Array }> {
    const out: Array<{ i: number; info: ImageInfo; pixels: Float32Array }> = [];
    decodeResizeEach(
      names.length,
      (i) => readFileSync(join(dir, names[i]!)),
      (i) => names[i]!,
      size,
      channels,
      (i, info, pixels) => out.push({ i, info: { width: info.width, height: info.height, channels: info.channels, bitDepth: info.bitDepth }, pixels: pixels.slice() }),
      { workers },
    );
    return out;
  }

  it('pure-JS decoders: the same float32 bits and image descriptions in worker threads as on the loading thread, in file order', async () => {
    const { names } = await fixtures();
    withEnv({ MEDSYNTH_DECODER: 'js' }, () => {
      for (const size of [32, 128]) {
        for (const channels of [1, 3, undefined] as const) {
          const here = run(names, size, channels, 0);
          expect(here.map((r) => r.i)).toEqual(names.map((_, i) => i));
          for (const workers of [1, 2]) {
            const there = run(names, size, channels, workers);
            expect(there.map((r) => r.i)).toEqual(names.map((_, i) => i));
            expect(there.map((r) => r.info)).toEqual(here.map((r) => r.info));
            here.forEach((r, k) => expect(sameBits(there[k]!.pixels, r.pixels), `${names[k]} at ${size} px, channels ${channels}, ${workers} workers`).toBe(true));
          }
        }
      }
    });
  });

  it("sharp: the loaded images are bit-identical to resize.ts on this thread over sharp's samples (PNG) and libjpeg-turbo's (JPEG)", async () => {
    const { names, stored } = await fixtures();
    for (const size of [32, 128]) {
      for (const channels of [1, 3] as const) {
        const expected = new Float32Array(names.length * size * size * channels);
        names.forEach((f, i) => {
          const s = stored.get(f);
          const img = s ? { data: s.data, width: w, height: h, channels: s.c, scale: s.scale } : decodeImageStored(readFileSync(join(dir, f)), f);
          expected.set(toSquarePixels(img.data, img.width, img.height, img.channels, img.scale, size, channels), i * size * size * channels);
        });
        for (const workers of ['1', undefined]) {
          const ds = withEnv({ MEDSYNTH_DECODER: 'sharp', MEDSYNTH_DECODE_WORKERS: workers }, () => loadFolderCsv({ path: dir, size, channels, cacheDir: null }));
          expect(ds.source.preprocessing.decoder).toBe('sharp');
          expect(ds.bitDepth).toBe(16);
          expect(sameBits(ds.images, expected), `${size} px, channels ${channels}, MEDSYNTH_DECODE_WORKERS ${workers}`).toBe(true);
        }
      }
    }
  });

  it('a bad file among many: the first in file order is reported, in one line naming it, whichever thread met it', () => {
    const rng = new Rng(12);
    const good = (k: number) => jpegRgb(24, 20, texture(rng, 24 * 20, 255, 3, 24), 80 + k);
    const files: Record<string, Uint8Array> = {};
    for (let k = 0; k < 30; k++) files[`f${k}.jpg`] = good(k);
    files['f13.jpg'] = files['f13.jpg']!.subarray(0, files['f13.jpg']!.length - 30); // truncated
    files['f25.jpg'] = Buffer.from('not an image'); // unknown format: decoded (and refused) on the loading thread
    const names = Object.keys(files);
    writeTree(dir, { ...files, 'manifest.csv': 'path,label\n' + names.map((f) => `${f},0`).join('\n') + '\n' });
    const messages = (['js', 'sharp'] as const).map((decoder) =>
      withEnv({ MEDSYNTH_DECODER: decoder }, () => expectUserError(() => loadFolderCsv({ path: dir, size: 8, cacheDir: null }), DatasetError, ['line 15', 'f13.jpg', 'truncated'])),
    );
    expect(messages[1]).toBe(messages[0]);
    let here = '';
    try {
      run(names, 8, 3, 0);
    } catch (err) {
      here = (err as Error).message;
    }
    expect(here).toMatch(/^f13\.jpg: not a readable PNG\/JPEG image \(JPEG: truncated/);
    expect(messages[0]).toContain(here);
  });

  it('MEDSYNTH_DECODE_WORKERS sets the thread count; anything but a whole number from 1 to 64 is refused in one line', () => {
    expect(decodeWorkers({})).toBeGreaterThanOrEqual(1);
    expect(decodeWorkers({})).toBeLessThanOrEqual(4);
    expect(decodeWorkers({ MEDSYNTH_DECODE_WORKERS: ' 3 ' })).toBe(3);
    for (const bad of ['0', '2.5', 'many', '65']) {
      expect(() => decodeWorkers({ MEDSYNTH_DECODE_WORKERS: bad })).toThrow(new RegExp(`^MEDSYNTH_DECODE_WORKERS=${bad}: give a whole number of threads from 1 to 64`));
    }
  });

  it('leaves no worker running after a load, and a second load in the same process gives the same bits', async () => {
    const { names } = await fixtures();
    const first = withEnv({ MEDSYNTH_DECODER: 'sharp' }, () => loadFolderCsv({ path: dir, size: 32, channels: 3, cacheDir: null }));
    const second = withEnv({ MEDSYNTH_DECODER: 'sharp' }, () => loadFolderCsv({ path: dir, size: 32, channels: 3, cacheDir: null }));
    expect(second.n).toBe(names.length);
    expect(sameBits(second.images, first.images)).toBe(true);
    // terminate() is asynchronous: the workers' exit events follow within moments.
    for (let t = 0; t < 100 && liveDecodeWorkers() > 0; t++) await new Promise((r) => setTimeout(r, 50));
    expect(liveDecodeWorkers()).toBe(0);
  });
});
