/**
 * Test helpers for the dataset adapters: temporary folders, small PNG/JPEG files built in the test
 * (with pngjs / jpeg-js, or by hand for the PNG variants pngjs cannot write), npy/npz builders, and the
 * location of the shared real data.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import { zipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { PNG, type ColorType } from 'pngjs';
import { expect } from 'vitest';
import { UserError } from '../../src/core/errors.js';

/** Repository root (two folders above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shared real data folder, beside the repository. */
export const SHARED_DATA = resolve(REPO_ROOT, '../shared/data');

/** A fresh folder under the OS temp dir; remove it with `cleanup`. */
export function tempDir(prefix = 'medsynth-ds-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (relative path → bytes or text) under `dir`. */
export function writeTree(dir: string, files: Record<string, Uint8Array | string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/**
 * PNG written by pngjs. `samples` are in the colour type's own layout (grey: g; grey+alpha: g,a;
 * RGB: r,g,b; RGBA: r,g,b,a), integers at `depth` bits.
 */
export function pngjsPng(colorType: ColorType, depth: 8 | 16, width: number, height: number, samples: number[]): Buffer {
  const hasAlpha = colorType === 4 || colorType === 6;
  const data =
    depth === 8 ? Buffer.from(Uint8Array.from(samples)) : Buffer.from(Uint16Array.from(samples).buffer);
  const png = new PNG({ width, height });
  png.data = data;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: hasAlpha, bitDepth: depth });
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * A hand-built PNG (filter 0 on every row, no interlace). `rows` are the packed scanline bytes without
 * the filter byte. Extra chunks (PLTE, tRNS) go between IHDR and IDAT.
 */
export function rawPng(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  rows: Uint8Array[],
  extra: Array<[string, Uint8Array]> = [],
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...extra.map(([t, b]) => pngChunk(t, b)),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A baseline JPEG (jpeg-js encoder, 3 components) from RGB bytes. */
export function jpegRgb(width: number, height: number, rgb: number[], quality = 95): Buffer {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba[4 * p] = rgb[3 * p]!;
    rgba[4 * p + 1] = rgb[3 * p + 1]!;
    rgba[4 * p + 2] = rgb[3 * p + 2]!;
    rgba[4 * p + 3] = 255;
  }
  return jpeg.encode({ width, height, data: rgba }, quality).data;
}

/** An 8-bit grey PNG of uniform value v (0–255). */
export function greyPng(width: number, height: number, v = 128): Buffer {
  return pngjsPng(0, 8, width, height, new Array(width * height).fill(v));
}

/** An 8-bit RGB PNG of uniform colour. */
export function rgbPng(width: number, height: number, rgb: [number, number, number] = [200, 100, 50]): Buffer {
  const s: number[] = [];
  for (let p = 0; p < width * height; p++) s.push(...rgb);
  return pngjsPng(2, 8, width, height, s);
}

/** A `.npy` v1.0 file. */
export function npyBytes(descr: string, shape: number[], data: ArrayBufferView, opts: { fortran?: boolean; version?: 1 | 2 } = {}): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const version = opts.version ?? 1;
  const pre = version === 1 ? 10 : 12;
  const pad = 64 - ((pre + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(pre + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pre + header.length);
  return out;
}

/** An `.npz` (zip) of the given arrays (name without `.npy` → npy bytes). */
export function npzBytes(arrays: Record<string, Uint8Array>): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(arrays)) files[`${k}.npy`] = v;
  return zipSync(files);
}

/**
 * Runs `fn`, expects it to throw an error of class `cls` whose message is one line and contains every
 * string in `parts`; returns the message.
 */
export function expectUserError(fn: () => unknown, cls: new (...args: never[]) => UserError, parts: string[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(cls);
  const msg = (caught as Error).message;
  expect(msg).not.toContain('\n');
  for (const p of parts) expect(msg).toContain(p);
  return msg;
}

/**
 * A hand-assembled one-component (greyscale) baseline JPEG of 8×8 pixels, all of value 144 (ITU-T T.81:
 * SOI, DQT with all quantisers 1, SOF0 with one component, two tiny Huffman tables, SOS, one entropy-coded
 * block, EOI). With quantiser 1 the DC coefficient is 8 · (144 − 128) = 128: size category 8, coded with
 * the 2-bit DC code `01`, then the 8 bits `10000000`, then the 1-bit AC end-of-block code `0`; the last
 * byte is padded with 1-bits. (jpeg-js can only write 3-component files.)
 */
export function greyJpeg8x8(): Buffer {
  const seg = (marker: number, body: number[]): number[] => {
    const len = body.length + 2;
    return [0xff, marker, len >> 8, len & 0xff, ...body];
  };
  const bits = (counts: Record<number, number>): number[] => Array.from({ length: 16 }, (_, i) => counts[i + 1] ?? 0);
  return Buffer.from([
    0xff, 0xd8,
    ...seg(0xdb, [0x00, ...new Array(64).fill(1)]),
    ...seg(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
    ...seg(0xc4, [0x00, ...bits({ 2: 2 }), 0x00, 0x08]),
    ...seg(0xc4, [0x10, ...bits({ 1: 1 }), 0x00]),
    ...seg(0xda, [1, 1, 0x00, 0, 63, 0]),
    0x60, 0x1f, // 01 10000000 0, then 11111 padding
    0xff, 0xd9,
  ]);
}
