/**
 * Decodes PNG and JPEG files into float pixels in [0, 1].
 *
 * Format is detected from the leading magic bytes (PNG signature, ISO/IEC 15948 Sec. 5.2; JPEG SOI marker
 * FF D8, ITU-T T.81 Annex B), never from the file extension.
 *
 * PNG: parsed by `pngjs` with `skipRescale`, so samples arrive at their stored precision (1/2/4/8/16
 * bit); we divide by 2^depth − 1 ourselves, which keeps 16-bit data at full precision. Palette samples are
 * 8-bit palette entries. A `tRNS` chunk in a grey or RGB image is removed before parsing: pngjs would
 * otherwise zero the colour of every pixel matching the transparent colour, and our rule is that alpha is
 * dropped and colour channels are taken as stored.
 *
 * JPEG: decoded by `jpeg-js` (baseline and progressive, 8-bit precision). The number of colour components
 * is read from the frame header (SOFn segment, T.81 Sec. B.2.2): 1 component is grey, otherwise colour.
 * A file whose last start-of-scan marker is not followed by an end-of-image marker (FF D9) is reported as
 * truncated: jpeg-js would otherwise fill the missing blocks silently.
 *
 * Colour class of the result: grey and grey+alpha → 1 channel; RGB and RGBA → 3; palette → 1 when every
 * palette entry is grey (R = G = B), else 3. Alpha is always dropped.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError, oneLine } from '../../src/core/errors.js';

export interface DecodedImage {
  width: number;
  height: number;
  /** Source colour class: 1 = grey, 3 = colour. */
  channels: 1 | 3;
  /** 16 for 16-bit PNGs, else 8. */
  bitDepth: 8 | 16;
  /** HWC float32 in [0, 1], length width · height · channels. */
  data: Float32Array;
}

export type ImageFormat = 'png' | 'jpeg';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Format from magic bytes, or null when neither PNG nor JPEG. */
export function detectFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * Decodes one image. `file` is used only in error messages (pass the path as the user knows it).
 * Throws DatasetError for unknown, corrupt or truncated files.
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = detectFormat(bytes);
  if (format === null) {
    const reason = bytes.length === 0 ? 'the file is empty' : 'unknown format: it does not start with a PNG or JPEG signature';
    throw unreadable(file, reason);
  }
  try {
    return format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    let reason = err instanceof Error ? err.message : String(err);
    // pngjs reports a file that ends early as pending reads on a finished stream.
    if (/read requests wait/i.test(reason) || /unexpected end/i.test(reason)) reason = 'truncated: the file ends early';
    throw unreadable(file, `${format.toUpperCase()}: ${reason}`);
  }
}

function unreadable(file: string, reason: string): DatasetError {
  return new DatasetError(
    oneLine(`${file}: not a readable PNG/JPEG image (${reason}); re-export the image or remove its row`),
  );
}

// ---------------------------------------------------------------------------------------------------
// PNG

interface PngResult {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** pngjs replaces the metadata flag with the palette entries ([r, g, b, a], 8-bit) when PLTE is read. */
  palette: boolean | number[][];
  data: Uint8Array | Uint16Array;
}

function decodePng(bytes: Uint8Array): DecodedImage {
  if (bytes.length < 33) throw new Error('file is too short to hold a PNG header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const colorType = bytes[25]!;
  const input = colorType === 0 || colorType === 2 ? withoutChunk(bytes, view, 'tRNS') : bytes;
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const png = PNG.sync.read(buf, { skipRescale: true }) as unknown as PngResult;
  const { width, height, depth } = png;
  if (!(width > 0 && height > 0)) throw new Error(`invalid size ${width}x${height}`);
  const npx = width * height;
  const src = png.data;
  if (src.length < npx * 4) throw new Error('pixel data is shorter than the image size');
  const bitDepth: 8 | 16 = depth === 16 ? 16 : 8;

  let grey: boolean;
  let scale: number;
  if (png.colorType === 3) {
    const entries = Array.isArray(png.palette) ? png.palette : [];
    if (entries.length === 0) throw new Error('palette image without a palette');
    grey = entries.every((e) => e[0] === e[1] && e[1] === e[2]);
    scale = 1 / 255;
  } else {
    grey = png.colorType === 0 || png.colorType === 4;
    scale = 1 / (2 ** depth - 1);
  }
  const channels: 1 | 3 = grey ? 1 : 3;
  const data = new Float32Array(npx * channels);
  if (grey) {
    for (let p = 0; p < npx; p++) data[p] = src[p * 4]! * scale;
  } else {
    for (let p = 0, o = 0; p < npx; p++, o += 3) {
      data[o] = src[p * 4]! * scale;
      data[o + 1] = src[p * 4 + 1]! * scale;
      data[o + 2] = src[p * 4 + 2]! * scale;
    }
  }
  return { width, height, channels, bitDepth, data };
}

/** The PNG bytes with every chunk of type `type` removed (other chunks and their CRCs are untouched). */
function withoutChunk(bytes: Uint8Array, view: DataView, type: string): Uint8Array {
  const keep: Array<[number, number]> = [];
  let pos = 8;
  let found = false;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    const end = pos + 12 + len;
    if (end > bytes.length) break; // truncated: let the parser report it
    const name = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    if (name === type) found = true;
    else keep.push([pos, end]);
    pos = end;
  }
  if (!found) return bytes;
  if (pos < bytes.length) keep.push([pos, bytes.length]);
  const total = 8 + keep.reduce((s, [a, b]) => s + (b - a), 0);
  const out = new Uint8Array(total);
  out.set(bytes.subarray(0, 8), 0);
  let o = 8;
  for (const [a, b] of keep) {
    out.set(bytes.subarray(a, b), o);
    o += b - a;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// JPEG

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const components = jpegComponentCount(bytes);
  if (!endsAfterLastScan(bytes)) throw new Error('truncated: no end-of-image marker after the last scan');
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: true });
  const { width, height } = decoded;
  if (!(width > 0 && height > 0)) throw new Error(`invalid size ${width}x${height}`);
  const npx = width * height;
  const src = decoded.data;
  if (src.length < npx * 3) throw new Error('pixel data is shorter than the image size');
  const channels: 1 | 3 = components === 1 ? 1 : 3;
  const data = new Float32Array(npx * channels);
  if (channels === 1) {
    for (let p = 0; p < npx; p++) data[p] = src[p * 3]! / 255;
  } else {
    for (let i = 0; i < npx * 3; i++) data[i] = src[i]! / 255;
  }
  return { width, height, channels, bitDepth: 8, data };
}

/** Number of components in the first frame header (SOF0–SOF15 except DHT C4, JPG C8, DAC CC). */
function jpegComponentCount(bytes: Uint8Array): number {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw new Error(`expected a marker at byte ${pos}`);
    let marker = bytes[pos + 1]!;
    while (marker === 0xff && pos + 2 < bytes.length) {
      pos++; // fill bytes
      marker = bytes[pos + 1]!;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // scan or end before any frame header
    const len = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (pos + 10 > bytes.length) break;
      return bytes[pos + 9]!;
    }
    pos += 2 + len;
  }
  throw new Error('no frame header (SOF) found');
}

/** True when an FF D9 end-of-image marker follows the last FF DA start-of-scan marker. */
function endsAfterLastScan(bytes: Uint8Array): boolean {
  let lastSos = -1;
  let lastEoi = -1;
  for (let i = bytes.length - 2; i >= 0; i--) {
    if (bytes[i] !== 0xff) continue;
    const m = bytes[i + 1];
    if (m === 0xd9 && lastEoi < 0) lastEoi = i;
    else if (m === 0xda) {
      lastSos = i;
      break;
    }
  }
  return lastSos >= 0 && lastEoi > lastSos;
}
