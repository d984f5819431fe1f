/**
 * The sharp decoder against the pure-JS one: same pixels within 1/255 after crop and resize for PNG and
 * JPEG (8-bit JPEG samples identical: both paths decode with libjpeg-turbo), the same one-line errors for
 * files sharp declines, and
 * MEDSYNTH_DECODER picking the path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFolderCsv } from '../../../datasets/folder-csv/index.js';
import { decodeImage } from '../../../datasets/image/decode.js';
import { decoderChoice, sharpAvailable } from '../../../datasets/image/sharp.js';
import { DatasetError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { cleanup, expectUserError, jpegRgb, pngjsPng, SHARED_DATA, tempDir, writeTree } from '../helpers.js';

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
