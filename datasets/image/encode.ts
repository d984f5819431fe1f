/**
 * Writes grey or RGB PNG files (8- or 16-bit) from HWC float pixels in [0, 1]: the project's one PNG
 * encoder (the phantom's images go through it too).
 *
 * The file is written by `pngjs` (`PNG.sync.write`), the stack's PNG library, with fixed options: colour
 * type 0 (grey) or 2 (RGB, no alpha) both as input and output, the Paeth filter on every row
 * (`filterType: 4`), deflate level 9 (pngjs's default strategy and chunk size), no gAMA or other ancillary
 * chunks. So the same pixels always give the same bytes with the same pngjs and zlib; for 8-bit grey these
 * are the options the phantom has always used, so its files (whose sha256 are recorded as data
 * fingerprints) are byte-identical to those written before this encoder existed
 * (test/datasets/phantom/png-bytes.test.ts checks them against test/fixtures/phantom-png-sha256.json).
 *
 * Samples are v · (2^depth − 1) rounded to the nearest integer (halves round up), after clamping v to
 * [0, 1]; 16-bit samples are stored big-endian. pngjs's layout for 16-bit input: `png.data` holds the
 * samples as platform-endian uint16 (a Uint16Array's bytes, starting at offset 0 of its own ArrayBuffer,
 * which pngjs re-reads as `new Uint16Array(data.buffer)`), and it writes them big-endian.
 */
import { PNG } from 'pngjs';

/**
 * Encodes HWC float pixels (clamped to [0, 1]) as a PNG. Throws a plain Error (a bug upstream) on
 * non-finite values or a length that does not match width · height · channels.
 */
export function encodePng(
  data: Float32Array,
  width: number,
  height: number,
  channels: 1 | 3,
  bitDepth: 8 | 16,
): Buffer {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`internal error: encodePng needs a positive integer size, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`internal error: encodePng got ${data.length} values for ${width}x${height}x${channels}`);
  }
  const maxv = bitDepth === 16 ? 65535 : 255;
  // A fresh typed array owns its whole ArrayBuffer from offset 0, as pngjs's 16-bit path needs.
  const samples = bitDepth === 16 ? new Uint16Array(data.length) : new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw new Error(`internal error: encodePng got a non-finite value at index ${i}`);
    samples[i] = Math.floor(Math.min(1, Math.max(0, v)) * maxv + 0.5);
  }
  const colorType = channels === 3 ? 2 : 0;
  const png = new PNG({ width, height });
  png.data = Buffer.from(samples.buffer, 0, samples.byteLength);
  return PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    bitDepth,
    inputHasAlpha: false,
    deflateLevel: 9,
    filterType: 4,
  });
}
