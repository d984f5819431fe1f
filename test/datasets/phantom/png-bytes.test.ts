/**
 * The phantom's PNG files are byte-identical to those written before it moved onto the project's one
 * encoder (datasets/image/encode.ts, #21): their sha256 are the data fingerprints recorded in
 * eval/results/*.md. The fixture was made with the phantom's former own pngjs call (see its `source`); the
 * property below keeps that call here as the reference for arbitrary pixels.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGreyPng, writePhantom } from '../../../datasets/phantom/index.js';
import { loadFixture } from '../../helpers/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'phantom-png-bytes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Fixture {
  args: { n: number; size: number; seed: number };
  files: Record<string, string>;
}

/** The phantom's encoder before #21, verbatim: the reference for byte identity. */
function formerGreyPng(pixels: Uint8Array, size: number): Buffer {
  const png = new PNG({ width: size, height: size, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false, deflateLevel: 9, filterType: 4 });
}

describe('phantom PNG bytes', () => {
  it('writePhantom gives the recorded sha256 of every fixture file', async () => {
    const fx = loadFixture<Fixture>('phantom-png-sha256');
    const out = join(root, 'ph');
    await writePhantom({ out, ...fx.args });
    const got: Record<string, string> = {};
    for (const path of Object.keys(fx.files)) got[path] = createHash('sha256').update(readFileSync(join(out, path))).digest('hex');
    expect(Object.keys(fx.files)).toHaveLength(6);
    expect(got).toEqual(fx.files);
  });

  it('encodeGreyPng equals the former pngjs call for any pixels', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(28, 32, 64).chain((size) =>
          fc.record({ size: fc.constant(size), px: fc.uint8Array({ minLength: size * size, maxLength: size * size }) }),
        ),
        ({ size, px }) => {
          expect(Buffer.compare(encodeGreyPng(px, size), formerGreyPng(px, size))).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });
});
