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
 * JPEG: 8-bit precision, baseline and progressive. The number of colour components
 * is read from the frame header (SOFn segment, T.81 Sec. B.2.2): 1 component is grey, otherwise colour.
 * JPEG files with 1 or 3 components are decoded by libjpeg-turbo (libjpeg.ts: the native addon's build
 * when it has one, else compiled to WebAssembly; the same samples):
 * the library sharp decodes with, so both decoders give the same samples. jpeg-js remains for 4-component
 * (CMYK, YCCK) files, which libjpeg-turbo does not convert to RGB, if the wasm module cannot load, and
 * when MEDSYNTH_JPEG_DECODER=jpeg-js asks for it.
 * A file whose last start-of-scan marker is not followed by an end-of-image marker (FF D9) is reported as
 * truncated: jpeg-js would otherwise fill the missing blocks silently.
 *
 * Colour class of the result: grey and grey+alpha → 1 channel; RGB and RGBA → 3; palette → 1 when every
 * palette entry is grey (R = G = B), else 3. Alpha is always dropped.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError, oneLine } from '../../src/core/errors.js';
import { decodeJpegLibjpeg, type LibjpegImage } from './libjpeg.js';

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

/**
 * Version of the pure-JS decoders' pixels, part of the decoded-pixel cache keys (folder-csv, dicom): bump
 * it whenever a change here gives different pixels for some file, so stale cached decodes are not served.
 * 1: jpeg-js for every JPEG. 2: libjpeg-turbo (wasm) for grey and 3-component JPEGs (libjpeg.ts).
 */
export const JS_DECODER_VERSION = 2;

/**
 * `MEDSYNTH_JPEG_DECODER=jpeg-js` keeps every JPEG on jpeg-js, the decoder before libjpeg-turbo: the
 * baseline of bench:load, and a way around the wasm module should it ever fail on a machine.
 */
function jpegJsForced(): boolean {
  return (process.env.MEDSYNTH_JPEG_DECODER ?? '').trim().toLowerCase() === 'jpeg-js';
}

/** The pure-JS decoders' pixel version as the cache keys carry it (JS_DECODER_VERSION, or 1 when jpeg-js is forced). */
export function jsDecoderVersion(): number {
  return jpegJsForced() ? 1 : JS_DECODER_VERSION;
}

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

/**
 * libjpeg-turbo's decode of a JPEG with 1 or 3 components, after the checks every JPEG gets (frame
 * header present, not truncated). Null when jpeg-js is to decode it instead (4 components, the wasm
 * module unavailable, or MEDSYNTH_JPEG_DECODER=jpeg-js). Throws Error with the reason.
 */
/**
 * True when libjpeg-turbo is to decode this JPEG (1 or 3 components, an end-of-image marker after the
 * last scan, jpeg-js not forced); false for anything the checks in `libjpegDecode` would refuse or send to
 * jpeg-js. Never throws.
 */
export function jpegReadyForLibjpeg(bytes: Uint8Array): boolean {
  if (jpegJsForced()) return false;
  try {
    const n = jpegFrame(bytes).count;
    return (n === 1 || n === 3) && endsAfterLastScan(bytes);
  } catch {
    return false;
  }
}

function libjpegDecode(bytes: Uint8Array): LibjpegImage | null {
  const frame = jpegFrame(bytes);
  if (!endsAfterLastScan(bytes)) throw new Error('truncated: no end-of-image marker after the last scan');
  return (frame.count === 1 || frame.count === 3) && !jpegJsForced() ? decodeJpegLibjpeg(bytes) : null;
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const lib = libjpegDecode(bytes);
  if (lib) {
    const data = new Float32Array(lib.width * lib.height * lib.components);
    for (let i = 0; i < data.length; i++) data[i] = BYTE_TO_UNIT[lib.data[i]!]!;
    return { width: lib.width, height: lib.height, channels: lib.components, bitDepth: 8, data };
  }
  const channels: 1 | 3 = jpegFrame(bytes).count === 1 ? 1 : 3;
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: true });
  const { width, height } = decoded;
  if (!(width > 0 && height > 0)) throw new Error(`invalid size ${width}x${height}`);
  const npx = width * height;
  const src = decoded.data;
  if (src.length < npx * 3) throw new Error('pixel data is shorter than the image size');
  const data = new Float32Array(npx * channels);
  if (channels === 1) {
    for (let p = 0; p < npx; p++) data[p] = BYTE_TO_UNIT[src[p * 3]!]!;
  } else {
    for (let i = 0; i < npx * 3; i++) data[i] = BYTE_TO_UNIT[src[i]!]!;
  }
  return { width, height, channels, bitDepth: 8, data };
}

/** 8-bit samples as stored, with `scale` = 1/255 mapping them to [0, 1]. */
export interface StoredImage {
  width: number;
  height: number;
  channels: 1 | 3;
  bitDepth: 8;
  data: Uint8Array;
  scale: number;
}

/**
 * `decodeImage` for loaders that resize from stored samples (datasets/image/resize.ts toSquarePixels):
 * a JPEG that libjpeg-turbo decodes keeps its bytes (no float copy; the resize scales them, with the same
 * arithmetic as sharp's samples), anything else is decodeImage's float image with scale 1. Same errors.
 */
export function decodeImageStored(bytes: Uint8Array, file: string): StoredImage | (DecodedImage & { scale: 1 }) {
  if (detectFormat(bytes) === 'jpeg') {
    let lib: LibjpegImage | null;
    try {
      lib = libjpegDecode(bytes);
    } catch (err) {
      throw unreadable(file, `JPEG: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (lib) return { width: lib.width, height: lib.height, channels: lib.components, bitDepth: 8, data: lib.data, scale: 1 / 255 };
  }
  return { ...decodeImage(bytes, file), scale: 1 };
}

/** v / 255 for every byte v, as float32 (a lookup is faster than the division, and gives the same values). */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

interface JpegFrame {
  /** Number of components (Nf). */
  count: number;
  /** Component id and horizontal/vertical sampling factors, in frame-header order (T.81 Sec. B.2.2). */
  components: Array<{ id: number; h: number; v: number }>;
  /** An Adobe APP14 segment was seen before the first scan (it decides the colour transform). */
  adobe: boolean;
}

/** The first frame header (SOF0–SOF15 except DHT C4, JPG C8, DAC CC) and whether an APP14 "Adobe" segment precedes the first scan. */
function jpegFrame(bytes: Uint8Array): JpegFrame {
  let pos = 2;
  let frame: JpegFrame | null = null;
  let adobe = false;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) {
      if (frame) break; // malformed after the frame header: let jpeg-js judge it
      throw new Error(`expected a marker at byte ${pos}`);
    }
    let marker = bytes[pos + 1]!;
    while (marker === 0xff && pos + 2 < bytes.length) {
      pos++; // fill bytes
      marker = bytes[pos + 1]!;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // scan or end
    const len = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && !frame) {
      if (pos + 10 > bytes.length) break;
      const n = bytes[pos + 9]!;
      const components: JpegFrame['components'] = [];
      for (let k = 0; k < n && pos + 12 + 3 * k <= bytes.length; k++) {
        const b = pos + 10 + 3 * k;
        components.push({ id: bytes[b]!, h: bytes[b + 1]! >> 4, v: bytes[b + 1]! & 15 });
      }
      frame = { count: n, components, adobe: false };
    } else if (marker === 0xee && len >= 7 && String.fromCharCode(...bytes.subarray(pos + 4, pos + 9)) === 'Adobe') {
      adobe = true;
    }
    pos += 2 + len;
  }
  if (!frame) throw new Error('no frame header (SOF) found');
  frame.adobe = adobe;
  return frame;
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
