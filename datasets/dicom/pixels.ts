/**
 * One DICOM file → its frames as float pixels in [0, 1]. The file is parsed by `dicom-parser` (all four
 * native syntaxes; deflated data is inflated with node:zlib); medsynth only walks the pixel pipeline.
 *
 * Grey (MONOCHROME1/2), per frame, following the grayscale pipeline of PS3.3 C.7.6.3.1 and C.11:
 *   stored  s = bits [highBit − bitsStored + 1 … highBit] of each sample, sign-extended when
 *               PixelRepresentation = 1
 *   modality m = s · RescaleSlope + RescaleIntercept                       (C.11.1, default 1 and 0)
 *   VOI      v = VOI LUT(m) / (2^lutBits − 1)      when a VOI LUT Sequence (0028,3010) is present
 *            v = 0                       if m ≤ c − 0.5 − (w − 1)/2            (C.11.2.1.2.1, "LINEAR",
 *              = 1                       if m > c − 0.5 + (w − 1)/2             first window only)
 *              = (m − (c − 0.5))/(w − 1) + 0.5  otherwise
 *            else (no VOI in the file) the named fallback: `minmax` (v = (m − min)/(max − min) over the
 *            frame) or `percentile` (the same between the 0.5th and 99.5th percentiles, clamped)
 *   MONOCHROME1: v ← 1 − v (white is the lowest value)
 * Colour: RGB as stored (PlanarConfiguration 0 or 1), YBR_FULL converted to RGB with the PS3.3
 * C.7.6.3.1.2 equations, each sample divided by 2^bitsAllocated − 1; JPEG frames are colour-converted
 * by their decoder.
 *
 * Compressed syntaxes: RLE Lossless (PS3.5 Annex G: per-segment PackBits, most significant byte segment
 * first) is decoded here; JPEG Baseline frames by libjpeg-turbo in WebAssembly (datasets/image/libjpeg.ts); grey JPEG-LS and JPEG 2000 frames by the CharLS
 * and OpenJPEG WebAssembly builds (codecs.ts). Everything else is refused with a one-line DatasetError
 * naming the file, the syntax's UID and its name.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import jpeg from 'jpeg-js';
import { decodeJpegLibjpeg } from '../image/libjpeg.js';
import { DatasetError, oneLine } from '../../src/core/errors.js';
import { decodeCodecFrame, type CodecFrame, type CodecName } from './codecs.js';
import { supportedSyntaxes, transferSyntax, type TransferSyntax } from './syntax.js';

/** The fallback when a grey file carries no VOI window or LUT. */
export type WindowFallback = 'minmax' | 'percentile';
export const WINDOW_FALLBACKS: readonly WindowFallback[] = ['minmax', 'percentile'];

/** How one frame's grey values were mapped to [0, 1]. */
export type WindowUsed = 'voi-lut' | 'voi-window' | WindowFallback | 'colour';

/** A parsed file: the dicom-parser data set plus the transfer syntax. Keep inside datasets/dicom. */
export interface ParsedDicom {
  ds: dicomParser.DataSet;
  syntax: TransferSyntax;
}

export interface DecodedFrames {
  width: number;
  height: number;
  channels: 1 | 3;
  /** 16 when more than 8 bits are stored, else 8. */
  bitDepth: 8 | 16;
  /** One HWC float32 array in [0, 1] per frame taken. */
  frames: Float32Array[];
  /** How the grey values of each frame were windowed (`colour` for colour images). */
  window: WindowUsed;
}

/** True when `bytes` hold a DICOM Part 10 file (the `DICM` magic after the 128-byte preamble). */
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

const fail = (file: string, what: string, todo: string): DatasetError => new DatasetError(oneLine(`${file}: ${what}; ${todo}`));

/** Parses the whole file (not the pixels). Throws a one-line DatasetError for a corrupt file. */
export function parseDicomFile(bytes: Uint8Array, file: string): ParsedDicom {
  if (!isDicom(bytes)) {
    throw fail(file, 'not a DICOM Part 10 file (no DICM marker at byte 128)', 'export it as a DICOM file with a file meta header, or remove it');
  }
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, {
      inflater: (arr: Uint8Array, position: number) => {
        const inflated = inflateRawSync(arr.subarray(position));
        const full = new Uint8Array(position + inflated.length);
        full.set(arr.subarray(0, position), 0);
        full.set(inflated, position);
        return full;
      },
    } as dicomParser.ParseDicomOptions);
  } catch (err) {
    const reason = err instanceof Error ? err.message : typeof err === 'string' ? err : ((err as { exception?: string })?.exception ?? String(err));
    throw fail(file, `not a readable DICOM file (${reason.replace(/^dicomParser\.\w+: ?/, '')})`, 're-export it or remove it');
  }
  const uid = (ds.string('x00020010') ?? '').replace(/\0/g, '').trim();
  return { ds, syntax: transferSyntax(uid) };
}

/** Which frames to take from a multi-frame file. */
export type FrameChoice = 'first' | 'all';

/**
 * Decodes the frames of a parsed file. Throws one-line DatasetErrors for a file without pixel data
 * (e.g. an SR document), an unsupported transfer syntax or photometric interpretation, and bad geometry.
 */
export function decodeDicomFrames(p: ParsedDicom, file: string, opts: { frames: FrameChoice; window: WindowFallback }): DecodedFrames {
  const { ds, syntax } = p;
  const pixelEl = ds.elements.x7fe00010;
  if (!pixelEl) {
    const sop = ds.string('x00080016') ?? '';
    const what = sop.startsWith('1.2.840.10008.5.1.4.1.1.88') ? 'a structured report (SR) without pixel data' : 'no pixel data (7FE0,0010)';
    throw fail(file, what, 'remove it from the folder (only image files can be loaded)');
  }
  if (syntax.how === null) {
    const ok = supportedSyntaxes().map((s) => s.name).join(', ');
    throw fail(
      file,
      `transfer syntax ${syntax.uid || '(missing)'} (${syntax.name}) cannot be decoded by medsynth`,
      `convert the file to one of: ${ok} (e.g. with dcmtk: dcmdjpeg / dcmconv +te)`,
    );
  }
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const spp = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const photometric = (ds.string('x00280004') ?? '').trim().toUpperCase();
  const planar = ds.uint16('x00280006') ?? 0;
  const nFrames = Math.max(1, ds.intString('x00280008') ?? 1);
  if (!(rows > 0 && cols > 0)) throw fail(file, `image size ${cols}×${rows} (Rows/Columns missing or 0)`, 're-export the image or remove it');
  if (!(bitsAllocated === 8 || bitsAllocated === 16)) {
    throw fail(file, `BitsAllocated ${bitsAllocated}: medsynth reads 8- or 16-bit samples`, 're-export the image with 8 or 16 bits allocated, or remove it');
  }
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated && highBit >= bitsStored - 1 && highBit < bitsAllocated)) {
    throw fail(file, `BitsStored ${bitsStored} / HighBit ${highBit} do not fit BitsAllocated ${bitsAllocated}`, 're-export the image or remove it');
  }
  const grey = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const colourKinds = ['RGB', 'YBR_FULL', 'YBR_FULL_422'];
  if (!(grey && spp === 1) && !(colourKinds.includes(photometric) && spp === 3)) {
    throw fail(
      file,
      `photometric interpretation ${photometric || '(missing)'} with ${spp} samples per pixel is not supported`,
      'medsynth reads MONOCHROME1, MONOCHROME2, RGB and YBR_FULL (YBR_FULL_422 in JPEG); convert the file or remove it',
    );
  }
  const take = opts.frames === 'all' ? nFrames : 1;
  const frames: Float32Array[] = [];
  let window: WindowUsed = grey ? 'minmax' : 'colour';
  for (let f = 0; f < take; f++) {
    const raw = frameSamples(p, file, f, { rows, cols, spp, bitsAllocated, nFrames, photometric, planar });
    if (raw.kind === 'rgb8') {
      frames.push(raw.data);
      continue;
    }
    if (grey) {
      const values = storedValues(raw.data, bitsStored, highBit, signed);
      const r = greyToUnit(ds, values, signed, opts.window);
      window = r.window;
      if (photometric === 'MONOCHROME1') for (let i = 0; i < r.data.length; i++) r.data[i] = 1 - r.data[i]!;
      frames.push(r.data);
    } else {
      frames.push(colourToUnit(raw.data, photometric, planar, bitsAllocated, rows * cols));
    }
  }
  return { width: cols, height: rows, channels: grey ? 1 : 3, bitDepth: bitsStored > 8 ? 16 : 8, frames, window };
}

interface Geometry {
  rows: number;
  cols: number;
  spp: number;
  bitsAllocated: number;
  nFrames: number;
  photometric: string;
  planar: number;
}

/** Raw samples of frame f: native or RLE → integers as stored; JPEG → RGB/grey floats already in [0, 1]. */
function frameSamples(
  p: ParsedDicom,
  file: string,
  f: number,
  g: Geometry,
): { kind: 'samples'; data: Uint8Array | Uint16Array } | { kind: 'rgb8'; data: Float32Array } {
  const { ds, syntax } = p;
  const el = ds.elements.x7fe00010!;
  const perFrame = g.rows * g.cols * g.spp;
  const bytesPer = g.bitsAllocated / 8;
  if (syntax.how === 'native-le' || syntax.how === 'native-be' || syntax.how === 'deflated') {
    if (el.encapsulatedPixelData) throw fail(file, `encapsulated pixel data in a native transfer syntax (${syntax.name})`, 're-export the file');
    const start = el.dataOffset + f * perFrame * bytesPer;
    const end = start + perFrame * bytesPer;
    if (end > el.dataOffset + el.length || end > ds.byteArray.length) {
      throw fail(file, `pixel data is shorter than ${g.nFrames} frame(s) of ${g.cols}×${g.rows}×${g.spp} at ${g.bitsAllocated} bits (truncated file?)`, 're-export the image or remove it');
    }
    const bytes = ds.byteArray.subarray(start, end);
    if (bytesPer === 1) return { kind: 'samples', data: bytes.slice() };
    const out = new Uint16Array(perFrame);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const little = syntax.how !== 'native-be';
    for (let i = 0; i < perFrame; i++) out[i] = view.getUint16(2 * i, little);
    return { kind: 'samples', data: out };
  }
  let fragment: Uint8Array;
  try {
    fragment = encapsulatedFrame(ds, el, f, g.nFrames);
  } catch (err) {
    throw fail(file, `cannot read compressed frame ${f + 1} (${err instanceof Error ? err.message : String(err)})`, 're-export the image or remove it');
  }
  if (syntax.how === 'rle') return { kind: 'samples', data: decodeRle(fragment, file, g) };
  if (syntax.how === 'jpeg-ls' || syntax.how === 'j2k') return { kind: 'samples', data: decodeWasmFrame(syntax.how, fragment, file, f, g) };
  // JPEG baseline: 8-bit, 1 or 3 components; libjpeg-turbo (wasm; jpeg-js if it cannot load) applies the
  // YCbCr → RGB transform itself.
  let img: { width: number; height: number; components: number; data: Uint8Array };
  try {
    const lib = decodeJpegLibjpeg(fragment);
    if (lib) img = lib;
    else img = { ...jpeg.decode(fragment, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false }), components: 0 };
  } catch (err) {
    throw fail(file, `JPEG frame ${f + 1} cannot be decoded (${err instanceof Error ? err.message : String(err)})`, 're-export the image or remove it');
  }
  if (img.width !== g.cols || img.height !== g.rows) {
    throw fail(file, `JPEG frame is ${img.width}×${img.height} but Rows/Columns say ${g.cols}×${g.rows}`, 're-export the image or remove it');
  }
  if (img.components !== 0 && img.components !== g.spp) {
    throw fail(file, `JPEG frame has ${img.components} component(s) but SamplesPerPixel says ${g.spp}`, 're-export the image or remove it');
  }
  // jpeg-js (components 0 here) always hands over RGB triples; libjpeg-turbo hands over what is stored.
  const stride = img.components === 0 ? 3 : img.components;
  const n = g.rows * g.cols;
  if (g.spp === 1) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = img.data[stride * i]!;
    return { kind: 'samples', data: out };
  }
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) out[i] = img.data[i]! / 255;
  return { kind: 'rgb8', data: out };
}

/** A JPEG-LS or JPEG 2000 frame (grey only) as stored samples; its geometry must match the header's. */
function decodeWasmFrame(codec: CodecName, fragment: Uint8Array, file: string, f: number, g: Geometry): Uint8Array | Uint16Array {
  const what = codec === 'jpeg-ls' ? 'JPEG-LS' : 'JPEG 2000';
  if (g.spp !== 1) throw fail(file, `colour ${what} frames are not supported (only grey ones were tested)`, 'convert the file to an uncompressed syntax (dcmtk: dcmdjpls / dcmconv +te) or remove it');
  let out: CodecFrame;
  try {
    out = decodeCodecFrame(codec, fragment);
  } catch (err) {
    throw fail(file, `${what} frame ${f + 1} cannot be decoded (${err instanceof Error ? err.message : String(err)})`, 're-export the image or remove it');
  }
  const bytesPer = out.bitsPerSample > 8 ? 2 : 1;
  if (out.width !== g.cols || out.height !== g.rows || out.componentCount !== 1 || bytesPer !== g.bitsAllocated / 8) {
    throw fail(
      file,
      `${what} frame is ${out.width}×${out.height}, ${out.componentCount} component(s) of ${out.bitsPerSample} bits, but the header says ${g.cols}×${g.rows}, 1 sample of ${g.bitsAllocated} bits allocated`,
      're-export the image or remove it',
    );
  }
  if (bytesPer === 1) return out.bytes;
  const view = new DataView(out.bytes.buffer, out.bytes.byteOffset, out.bytes.byteLength);
  const samples = new Uint16Array(g.rows * g.cols);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getUint16(2 * i, true);
  return samples;
}

/** The bytes of compressed frame f (one fragment per frame, or all fragments for a single frame). */
function encapsulatedFrame(ds: dicomParser.DataSet, el: dicomParser.Element, f: number, nFrames: number): Uint8Array {
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) throw new Error('no fragments');
  if (nFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length) as Uint8Array;
  const table = el.basicOffsetTable && el.basicOffsetTable.length > 0 ? el.basicOffsetTable : undefined;
  if (!table && fragments.length === nFrames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, f, 1) as Uint8Array;
  return dicomParser.readEncapsulatedImageFrame(ds, el, f, table ?? dicomParser.createJPEGBasicOffsetTable(ds, el)) as Uint8Array;
}

/**
 * RLE Lossless (PS3.5 Annex G). The frame starts with a 64-byte header: the number of segments and 15
 * segment offsets (uint32 little endian). Each segment is PackBits-coded (G.3.1: header n in 0…127 →
 * copy n + 1 literal bytes; n in −127…−1 → repeat the next byte 1 − n times; −128 → no-op) and holds one
 * byte plane: for 16-bit samples the most significant bytes first; for colour, one plane per sample
 * (always colour-by-plane, whatever PlanarConfiguration says).
 */
function decodeRle(frame: Uint8Array, file: string, g: Geometry): Uint8Array | Uint16Array {
  const bad = (why: string) => fail(file, `RLE frame cannot be decoded (${why})`, 're-export the image or remove it');
  if (frame.length < 64) throw bad('frame shorter than its 64-byte header');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nSeg = view.getUint32(0, true);
  const bytesPer = g.bitsAllocated / 8;
  if (nSeg !== g.spp * bytesPer) throw bad(`${nSeg} segments, expected ${g.spp * bytesPer}`);
  const n = g.rows * g.cols;
  const planes: Uint8Array[] = [];
  for (let s = 0; s < nSeg; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < nSeg ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (!(start >= 64 && start <= end && end <= frame.length)) throw bad(`segment ${s + 1} offsets out of range`);
    const plane = new Uint8Array(n);
    let o = 0;
    let i = start;
    while (o < n && i < end) {
      const h = (frame[i++]! << 24) >> 24; // signed byte
      if (h >= 0) {
        const len = h + 1;
        if (i + len > end || o + len > n) throw bad(`literal run overflows segment ${s + 1}`);
        plane.set(frame.subarray(i, i + len), o);
        i += len;
        o += len;
      } else if (h !== -128) {
        const len = 1 - h;
        if (i >= end || o + len > n) throw bad(`repeat run overflows segment ${s + 1}`);
        plane.fill(frame[i++]!, o, o + len);
        o += len;
      }
    }
    if (o < n) throw bad(`segment ${s + 1} is short (${o} of ${n} bytes)`);
    planes.push(plane);
  }
  // Interleave to the native layout (PlanarConfiguration 0): sample-by-pixel.
  if (bytesPer === 1) {
    if (g.spp === 1) return planes[0]!;
    const out = new Uint8Array(n * g.spp);
    for (let c = 0; c < g.spp; c++) for (let i = 0; i < n; i++) out[i * g.spp + c] = planes[c]![i]!;
    return out;
  }
  const out = new Uint16Array(n * g.spp);
  for (let c = 0; c < g.spp; c++) {
    const hi = planes[2 * c]!;
    const lo = planes[2 * c + 1]!;
    for (let i = 0; i < n; i++) out[i * g.spp + c] = (hi[i]! << 8) | lo[i]!;
  }
  return out;
}

/** Stored values: the bitsStored bits ending at highBit, sign-extended when signed. */
function storedValues(data: Uint8Array | Uint16Array, bitsStored: number, highBit: number, signed: boolean): Float64Array {
  const shift = highBit - bitsStored + 1;
  const mask = 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    let v = (data[i]! >> shift) & mask;
    if (signed && v >= signBit) v -= 2 ** bitsStored;
    out[i] = v;
  }
  return out;
}

/** Modality rescale, then the VOI LUT, the first VOI window, or the named fallback. */
function greyToUnit(ds: dicomParser.DataSet, stored: Float64Array, signed: boolean, fallback: WindowFallback): { data: Float32Array; window: WindowUsed } {
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const m = stored;
  if (slope !== 1 || intercept !== 0) for (let i = 0; i < m.length; i++) m[i] = m[i]! * slope + intercept;
  const out = new Float32Array(m.length);

  const lutSeq = ds.elements.x00283010?.items?.[0]?.dataSet;
  if (lutSeq && lutSeq.elements.x00283002 && lutSeq.elements.x00283006) {
    const entries = lutSeq.uint16('x00283002', 0) || 65536; // 0 means 2^16 entries (C.11.2.1.1)
    let first = lutSeq.uint16('x00283002', 1) ?? 0;
    if (signed && first >= 32768) first -= 65536;
    const bits = lutSeq.uint16('x00283002', 2) ?? 16;
    const top = 2 ** bits - 1;
    const lut = new Float32Array(entries);
    for (let k = 0; k < entries; k++) lut[k] = (lutSeq.uint16('x00283006', k) ?? 0) / top;
    for (let i = 0; i < m.length; i++) {
      const k = Math.min(entries - 1, Math.max(0, Math.round(m[i]!) - first));
      out[i] = Math.min(1, Math.max(0, lut[k]!));
    }
    return { data: out, window: 'voi-lut' };
  }

  const c = ds.floatString('x00281050', 0);
  const w = ds.floatString('x00281051', 0);
  if (c !== undefined && w !== undefined && Number.isFinite(c) && Number.isFinite(w) && w >= 1) {
    const lo = c - 0.5 - (w - 1) / 2;
    const hi = c - 0.5 + (w - 1) / 2;
    for (let i = 0; i < m.length; i++) {
      const x = m[i]!;
      out[i] = x <= lo ? 0 : x > hi ? 1 : w === 1 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    }
    return { data: out, window: 'voi-window' };
  }

  let lo: number;
  let hi: number;
  if (fallback === 'percentile') {
    const sorted = Float64Array.from(m).sort();
    lo = sorted[Math.floor(0.005 * (sorted.length - 1))]!;
    hi = sorted[Math.ceil(0.995 * (sorted.length - 1))]!;
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (const x of m) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  const span = hi - lo;
  for (let i = 0; i < m.length; i++) out[i] = span > 0 ? Math.min(1, Math.max(0, (m[i]! - lo) / span)) : 0;
  return { data: out, window: fallback };
}

/** Native RGB / YBR_FULL samples → interleaved RGB floats in [0, 1]. */
function colourToUnit(data: Uint8Array | Uint16Array, photometric: string, planar: number, bitsAllocated: number, n: number): Float32Array {
  const max = 2 ** bitsAllocated - 1;
  const out = new Float32Array(n * 3);
  const at = (i: number, c: number): number => (planar === 1 ? data[c * n + i]! : data[3 * i + c]!);
  const half = (max + 1) / 2;
  for (let i = 0; i < n; i++) {
    let r = at(i, 0);
    let g = at(i, 1);
    let b = at(i, 2);
    if (photometric !== 'RGB') {
      // YBR_FULL (PS3.3 C.7.6.3.1.2), inverted: R = Y + 1.402 Cr', G = Y − 0.344136 Cb' − 0.714136 Cr', B = Y + 1.772 Cb'
      const y = r;
      const cb = g - half;
      const cr = b - half;
      r = y + 1.402 * cr;
      g = y - 0.344136 * cb - 0.714136 * cr;
      b = y + 1.772 * cb;
    }
    out[3 * i] = Math.min(1, Math.max(0, r / max));
    out[3 * i + 1] = Math.min(1, Math.max(0, g / max));
    out[3 * i + 2] = Math.min(1, Math.max(0, b / max));
  }
  return out;
}
