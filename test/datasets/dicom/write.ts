/**
 * Writes DICOM test files with dcmjs (the files the dicom adapter tests read). Native syntaxes are written
 * by dcmjs itself; for big endian the pixel bytes are swapped first (dcmjs copies OW bytes as given), for
 * deflated the explicit-little-endian data set is raw-deflated behind a meta header naming the deflated
 * syntax, and RLE frames are PackBits-encoded here (PS3.5 Annex G).
 */
import { createRequire } from 'node:module';
import { deflateRawSync } from 'node:zlib';
// @ts-expect-error dcmjs ships no type declarations
import dcmjs from 'dcmjs';

export const TS = {
  implicit: '1.2.840.10008.1.2',
  explicit: '1.2.840.10008.1.2.1',
  big: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  rle: '1.2.840.10008.1.2.5',
  jpeg: '1.2.840.10008.1.2.4.50',
  jls: '1.2.840.10008.1.2.4.80',
  j2k: '1.2.840.10008.1.2.4.90',
  jpegLossless: '1.2.840.10008.1.2.4.70',
} as const;
export type SyntaxName = keyof typeof TS;

export interface DicomSpec {
  syntax?: SyntaxName;
  rows: number;
  cols: number;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  signed?: boolean;
  photometric?: string;
  spp?: 1 | 3;
  planar?: 0 | 1;
  /** Stored sample values per frame (native layout for the planar configuration); ignored with `encapsulated`. */
  frames?: number[][];
  /** Already-compressed frames (JPEG) for encapsulated syntaxes. */
  encapsulated?: Uint8Array[];
  slope?: number;
  intercept?: number;
  window?: [number, number];
  voiLut?: { first: number; bits: number; data: number[] };
  /** Extra data elements, dcmjs JSON form: tag hex → { vr, Value }. */
  tags?: Record<string, { vr: string; Value: unknown[] }>;
  /** Leave out Pixel Data (an SR-like document). */
  noPixels?: boolean;
  sopClass?: string;
}

const us = (v: number) => ({ vr: 'US', Value: [v] });

/** Patient and study tags in dcmjs JSON form. */
export function patientTags(t: { id?: string; name?: string; sex?: string; age?: string; birth?: string; study?: string; sop?: string; studyUid?: string; manufacturer?: string; institution?: string }) {
  const out: Record<string, { vr: string; Value: unknown[] }> = {};
  if (t.id !== undefined) out['00100020'] = { vr: 'LO', Value: [t.id] };
  if (t.name !== undefined) out['00100010'] = { vr: 'PN', Value: [{ Alphabetic: t.name }] };
  if (t.sex !== undefined) out['00100040'] = { vr: 'CS', Value: [t.sex] };
  if (t.age !== undefined) out['00101010'] = { vr: 'AS', Value: [t.age] };
  if (t.birth !== undefined) out['00100030'] = { vr: 'DA', Value: [t.birth] };
  if (t.study !== undefined) out['00080020'] = { vr: 'DA', Value: [t.study] };
  if (t.sop !== undefined) out['00080018'] = { vr: 'UI', Value: [t.sop] };
  if (t.studyUid !== undefined) out['0020000D'] = { vr: 'UI', Value: [t.studyUid] };
  if (t.manufacturer !== undefined) out['00080070'] = { vr: 'LO', Value: [t.manufacturer] };
  if (t.institution !== undefined) out['00080080'] = { vr: 'LO', Value: [t.institution] };
  return out;
}

function sampleBytes(values: number[], bitsAllocated: number, bigEndian: boolean): Uint8Array {
  if (bitsAllocated === 8) return Uint8Array.from(values, (v) => v & 0xff);
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v & 0xffff, !bigEndian));
  return out;
}

/** PackBits (PS3.5 G.3.1): repeat runs for 3+ equal bytes, literal runs otherwise; padded to even length. */
export function packBits(plane: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < plane.length) {
    let run = 1;
    while (i + run < plane.length && run < 128 && plane[i + run] === plane[i]) run++;
    if (run >= 3) {
      out.push((1 - run) & 0xff, plane[i]!);
      i += run;
      continue;
    }
    const start = i;
    while (i < plane.length && i - start < 128) {
      if (i + 2 < plane.length && plane[i] === plane[i + 1] && plane[i] === plane[i + 2]) break;
      i++;
    }
    out.push(i - start - 1, ...plane.subarray(start, i));
  }
  if (out.length % 2) out.push(0x80); // -128: no-op padding byte
  return Uint8Array.from(out);
}

/** One RLE frame: header (segment count + offsets) and one PackBits segment per byte plane, MSB first. */
export function rleFrame(values: number[], spp: number, bitsAllocated: number): Uint8Array {
  const n = values.length / spp;
  const bytesPer = bitsAllocated / 8;
  const segments: Uint8Array[] = [];
  for (let c = 0; c < spp; c++) {
    for (let b = bytesPer - 1; b >= 0; b--) {
      const plane = new Uint8Array(n);
      for (let i = 0; i < n; i++) plane[i] = (values[i * spp + c]! >> (8 * b)) & 0xff;
      segments.push(packBits(plane));
    }
  }
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((s, k) => {
    view.setUint32(4 + 4 * k, offset, true);
    offset += s.length;
  });
  const out = new Uint8Array(offset);
  out.set(header, 0);
  let o = 64;
  for (const s of segments) {
    out.set(s, o);
    o += s.length;
  }
  return out;
}

function dictFor(spec: DicomSpec, bigEndian: boolean): Record<string, unknown> {
  const ba = spec.bitsAllocated ?? 16;
  const bs = spec.bitsStored ?? ba;
  const spp = spec.spp ?? 1;
  const nFrames = spec.encapsulated?.length ?? spec.frames?.length ?? 1;
  const d: Record<string, unknown> = {
    '00080016': { vr: 'UI', Value: [spec.sopClass ?? '1.2.840.10008.5.1.4.1.1.7'] },
    '00280002': us(spp),
    '00280004': { vr: 'CS', Value: [spec.photometric ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')] },
    '00280010': us(spec.rows),
    '00280011': us(spec.cols),
    '00280100': us(ba),
    '00280101': us(bs),
    '00280102': us(spec.highBit ?? bs - 1),
    '00280103': us(spec.signed ? 1 : 0),
    ...spec.tags,
  };
  if (spp === 3) d['00280006'] = us(spec.planar ?? 0);
  if (nFrames > 1) d['00280008'] = { vr: 'IS', Value: [nFrames] };
  if (spec.slope !== undefined) d['00281053'] = { vr: 'DS', Value: [spec.slope] };
  if (spec.intercept !== undefined) d['00281052'] = { vr: 'DS', Value: [spec.intercept] };
  if (spec.window) {
    d['00281050'] = { vr: 'DS', Value: [spec.window[0]] };
    d['00281051'] = { vr: 'DS', Value: [spec.window[1]] };
  }
  if (spec.voiLut) {
    const l = spec.voiLut;
    d['00283010'] = {
      vr: 'SQ',
      Value: [{ '00283002': { vr: 'US', Value: [l.data.length, l.first & 0xffff, l.bits] }, '00283006': { vr: 'US', Value: l.data } }],
    };
  }
  if (!spec.noPixels) {
    if (spec.syntax === 'rle') {
      d['7FE00010'] = { vr: 'OB', Value: spec.frames!.map((f) => rleFrame(f, spp, ba).buffer) };
    } else if (spec.encapsulated) {
      d['7FE00010'] = { vr: 'OB', Value: spec.encapsulated.map((f) => new Uint8Array(f).buffer) }; // a copy: a Buffer's .buffer is its pool
    } else {
      const all = spec.frames!.flat();
      d['7FE00010'] = { vr: ba === 8 ? 'OB' : 'OW', Value: [sampleBytes(all, ba, bigEndian).buffer] };
    }
  }
  return d;
}

function write(dict: Record<string, unknown>, syntax: string): Uint8Array {
  const meta = {
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': { vr: 'UI', Value: [(dict['00080016'] as { Value: string[] } | undefined)?.Value[0] ?? '1.2.840.10008.5.1.4.1.1.7'] },
    '00020003': { vr: 'UI', Value: ['1.2.826.0.1.3680043.2.1125.1'] },
    '00020010': { vr: 'UI', Value: [syntax] },
  };
  const file = new dcmjs.data.DicomDict(meta);
  file.dict = dict;
  return new Uint8Array(file.write());
}

/** A complete DICOM Part 10 file. */
export function dicomFile(spec: DicomSpec): Uint8Array {
  const syntax = spec.syntax ?? 'explicit';
  if (syntax === 'deflated') {
    const plain = write(dictFor(spec, false), TS.explicit);
    const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
    const metaEnd = 132 + 12 + view.getUint32(140, true);
    const header = write({}, TS.deflated);
    const body = deflateRawSync(plain.subarray(metaEnd));
    const out = new Uint8Array(header.length + body.length);
    out.set(header, 0);
    out.set(body, header.length);
    return out;
  }
  return write(dictFor(spec, syntax === 'big'), TS[syntax]);
}

interface WasmEncoder {
  getDecodedBuffer(info: Record<string, unknown>): Uint8Array;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

/**
 * A grey frame compressed losslessly by the codec's own encoder (CharLS for JPEG-LS, OpenJPEG for
 * JPEG 2000): the test files for those syntaxes.
 */
export async function encodeGrey(codec: 'jls' | 'j2k', samples: number[], width: number, height: number, bits: number): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const m = (await require(codec === 'jls' ? '@cornerstonejs/codec-charls' : '@cornerstonejs/codec-openjpeg')()) as Record<string, new () => WasmEncoder>;
  const e = codec === 'jls' ? new m.JpegLSEncoder!() : new m.J2KEncoder!();
  try {
    const raw = bits > 8 ? new Uint8Array(Uint16Array.from(samples).buffer) : Uint8Array.from(samples);
    e.getDecodedBuffer({ width, height, bitsPerSample: bits, componentCount: 1, isSigned: false, isUsingColorTransform: false }).set(raw);
    e.encode();
    return e.getEncodedBuffer().slice();
  } finally {
    e.delete();
  }
}
