/**
 * The addon's resizeSquare (native/medsynth_resize.cc) against resize.ts's toSquarePixels, which it
 * replaces in the decoding workers when built: the float32 outputs must be equal bit for bit (they are
 * hashed into the cache keys), on shrinking, enlarging and equal sizes, square and non-square crops (odd
 * differences too), grey and colour in, 1 and 3 channels out, 8-bit, 16-bit and float samples. Every call
 * is counted, so a silent fallback to the JavaScript resize fails; and a load through the workers uses it
 * (counted) with the pixels of MEDSYNTH_NATIVE=0.
 */
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFolderCsv } from '../../../datasets/folder-csv/index.js';
import { toSquarePixels, toSquareWith, type NativeResize } from '../../../datasets/image/resize.js';
import { liveDecodeWorkers, nativeResize, nativeResizeCount } from '../../../datasets/image/sharp.js';
import { Rng } from '../../../src/core/rng.js';
import { cleanup, tempDir, writeTree } from '../helpers.js';
import { withEnv } from '../../helpers/env.js';

const addon = nativeResize();

function bits(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function samples(kind: 'u8' | 'u16' | 'f32', n: number, rng: Rng): Uint8Array | Uint16Array | Float32Array {
  if (kind === 'u8') return Uint8Array.from({ length: n }, () => Math.floor(rng.range(0, 256)));
  if (kind === 'u16') return Uint16Array.from({ length: n }, () => Math.floor(rng.range(0, 65536)));
  return Float32Array.from({ length: n }, () => rng.range(0, 1));
}

describe.skipIf(!addon)('native resize (skipped when the addon is not built: apt-get install libdnnl-dev, then npm run build:native)', () => {
  it('gives resize.ts\'s float32 pixels bit for bit, for every size, crop, channel count and sample type', () => {
    let calls = 0;
    const counted: NativeResize = (...args) => {
      calls++;
      return addon!(...args);
    };
    const rng = new Rng(22);
    // Shrinking (integer and non-integer ratios), enlarging, equal; square, wide, tall, odd differences.
    const shapes: Array<[number, number]> = [[224, 224], [97, 83], [83, 97], [64, 64], [65, 40], [5, 9], [1, 1], [300, 201], [28, 28], [31, 30]];
    const sizes = [1, 7, 28, 31, 32, 64, 100];
    let cases = 0;
    for (const [w, h] of shapes) {
      for (const kind of ['u8', 'u16', 'f32'] as const) {
        const scale = kind === 'u8' ? 1 / 255 : kind === 'u16' ? 1 / 65535 : 1;
        for (const sc of [1, 3] as const) {
          const src = samples(kind, w * h * sc, rng);
          for (const size of sizes) {
            for (const channels of [1, 3] as const) {
              const js = toSquarePixels(src, w, h, sc, scale, size, channels);
              const nat = toSquareWith(counted, src, w, h, sc, scale, size, channels);
              expect(nat.length, `${kind} ${w}x${h}x${sc} → ${size}x${channels}`).toBe(js.length);
              expect(bits(nat).equals(bits(js)), `${kind} ${w}x${h}x${sc} → ${size}x${channels}`).toBe(true);
              cases++;
            }
          }
        }
      }
    }
    expect(calls).toBe(cases);
    // A view into a larger buffer (the workers' reused decode buffer) reads from its own start.
    const big = samples('u8', 50 * 40 * 3 + 17, rng) as Uint8Array;
    const view = big.subarray(17);
    expect(bits(toSquareWith(counted, view, 50, 40, 3, 1 / 255, 16, 3)).equals(bits(toSquarePixels(view, 50, 40, 3, 1 / 255, 16, 3)))).toBe(true);
  });

  it('refuses samples shorter than the image and a kernel that does not fit', () => {
    const src = new Uint8Array(10);
    expect(() => toSquareWith(addon, src, 4, 4, 1, 1 / 255, 2, 1)).toThrow(/geometry/);
    const k = { start: new Int32Array([3]), count: new Int32Array([2]), weights: new Float64Array([0.5, 0.5]), offset: new Int32Array([0]) };
    expect(() => addon!(new Uint8Array(16), 4, 4, 1, 1 / 255, 1, 1, k.start, k.count, k.weights, k.offset)).toThrow(/kernel/);
  });

  describe('in a load', () => {
    let dir: string;
    beforeEach(() => {
      dir = tempDir();
    });
    afterEach(() => cleanup(dir));

    it('resizes in the workers (counted), 8-bit JPEG and 16-bit PNG, with the pixels of MEDSYNTH_NATIVE=0', async () => {
      const rng = new Rng(5);
      const files: Record<string, Buffer> = {};
      const names: string[] = [];
      for (let i = 0; i < 6; i++) {
        const [w, h] = [40 + 7 * i, 33 + 5 * i];
        const rgb = Buffer.from(samples('u8', w * h * 3, rng) as Uint8Array);
        files[`c${i}.jpg`] = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
        const deep = Buffer.from((samples('u16', w * h * 3, rng) as Uint16Array).buffer);
        files[`d${i}.png`] = await sharp(deep, { raw: { width: w, height: h, channels: 3, premultiplied: false } }).toColourspace('rgb16').png().toBuffer();
        names.push(`c${i}.jpg`, `d${i}.png`);
      }
      writeTree(dir, { ...files, 'manifest.csv': 'path,label\n' + names.map((f, i) => `${f},${i % 2}`).join('\n') + '\n' });
      for (const channels of [1, 3] as const) {
        for (const size of [28, 64]) {
          const load = (native: string | undefined) =>
            withEnv({ MEDSYNTH_DECODER: 'auto', MEDSYNTH_DECODE_WORKERS: '2', MEDSYNTH_NATIVE: native }, () => {
              const before = nativeResizeCount.n;
              const ds = loadFolderCsv({ path: dir, size, channels, cacheDir: null });
              return { ds, resized: nativeResizeCount.n - before };
            });
          const fast = load(undefined);
          const js = load('0');
          expect([fast.resized, js.resized]).toEqual([names.length, 0]);
          expect(fast.ds.n).toBe(names.length);
          expect(bits(fast.ds.images).equals(bits(js.ds.images)), `${size} px, ${channels} channels`).toBe(true);
        }
      }
      for (let t = 0; t < 100 && liveDecodeWorkers() > 0; t++) await new Promise((r) => setTimeout(r, 50));
      expect(liveDecodeWorkers()).toBe(0);
    });
  });
});
