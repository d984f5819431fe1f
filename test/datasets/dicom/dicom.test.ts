/**
 * The dicom adapter on files written by dcmjs in test/datasets/dicom/write.ts: every transfer syntax and
 * photometric interpretation it claims, the grey pipeline (rescale, VOI window and LUT, fallback windows,
 * MONOCHROME1, signed and 8–16 stored bits), frames, tags → attributes, labels, de-identification, and
 * the one-line errors.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAttribute, type ImageDataset } from '../../../datasets/dataset.js';
import { loadDataset } from '../../../datasets/load.js';
import { DatasetError } from '../../../src/core/errors.js';
import { cleanup, expectUserError, tempDir } from '../helpers.js';
import { dicomFile, encodeGrey, patientTags, type DicomSpec } from './write.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('medsynth-dicom-');
});
afterEach(() => cleanup(dir));

function put(rel: string, bytes: Uint8Array | string): void {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, bytes);
}

/** Loads `dir` at the images' own size (no resize: pixels come out as the pipeline made them). */
const load = (size: number, extra: Partial<Parameters<typeof loadDataset>[0]> = {}): ImageDataset => loadDataset({ path: dir, size, ...extra });

const close = (got: Float32Array, want: number[], tol = 1e-6): void => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `pixel ${i}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(tol));
};

// 2×2 grey, 12 bits stored in 16: min-max window → 0, 1/3, 2/3, 1
const GREY12: DicomSpec = { rows: 2, cols: 2, bitsAllocated: 16, bitsStored: 12, frames: [[100, 1100, 2100, 3100]] };

describe('dicom adapter: transfer syntaxes', () => {
  it.each(['implicit', 'explicit', 'big', 'deflated', 'rle'] as const)('%s gives the same 12-bit grey pixels', (syntax) => {
    put(`a/b/image-${syntax}`, dicomFile({ ...GREY12, syntax })); // nested, no .dcm extension
    put('notes.txt', 'not dicom');
    const ds = load(2);
    expect(ds.source.kind).toBe('dicom');
    expect(ds.n).toBe(1);
    expect(ds.bitDepth).toBe(16);
    expect(ds.source.preprocessing.window).toBe('minmax');
    close(ds.images, [0, 1 / 3, 2 / 3, 1]);
  });

  it('RLE with 8-bit RGB and long runs decodes to the stored colours', () => {
    const px: number[] = [];
    for (let i = 0; i < 16; i++) px.push(i < 10 ? 255 : 0, 128, i * 10); // a 10-pixel repeat run in R
    put('x.dcm', dicomFile({ syntax: 'rle', rows: 4, cols: 4, bitsAllocated: 8, spp: 3, frames: [px] }));
    const ds = load(4);
    expect(ds.channels).toBe(3);
    close(ds.images, px.map((v) => v / 255));
  });

  it('JPEG baseline, colour (YBR_FULL_422) and grey: the decoded JPEG pixels', async () => {
    const w = 16;
    const rgba = new Uint8Array(w * w * 4);
    for (let i = 0; i < w * w; i++) rgba.set([(i * 7) % 256, 90, 255 - ((i * 3) % 256), 255], 4 * i);
    const colour = jpeg.encode({ width: w, height: w, data: rgba }, 95).data;
    // the reference decode: sharp's libjpeg-turbo (the adapter's wasm build of the same library must match it)
    const want = await sharp(Buffer.from(colour)).raw().toBuffer();
    put('c.dcm', dicomFile({ syntax: 'jpeg', rows: w, cols: w, bitsAllocated: 8, spp: 3, photometric: 'YBR_FULL_422', encapsulated: [colour] }));
    const ds = load(w);
    expect(ds.channels).toBe(3);
    close(ds.images, Array.from(want, (v) => v / 255));

    cleanup(dir);
    mkdirSync(dir);
    const greyPx = Uint8Array.from({ length: w * w }, (_, i) => 40 + i);
    const grey = await sharp(Buffer.from(greyPx), { raw: { width: w, height: w, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toBuffer();
    put('g.dcm', dicomFile({ syntax: 'jpeg', rows: w, cols: w, bitsAllocated: 8, spp: 1, encapsulated: [grey], window: [127.5, 256] }));
    const g = load(w);
    expect(g.channels).toBe(1);
    // window c=127.5, w=256 is the identity on 0..255 (up to the 1/255 scale): close to the JPEG's grey values
    g.images.forEach((v, i) => expect(Math.abs(v * 255 - greyPx[i]!)).toBeLessThanOrEqual(3));
  });

  it('a JPEG frame whose component count contradicts SamplesPerPixel: one line naming the file, nothing guessed', () => {
    const w = 8;
    const colour = jpeg.encode({ width: w, height: w, data: new Uint8Array(w * w * 4).fill(128) }, 90).data;
    put('mix.dcm', dicomFile({ syntax: 'jpeg', rows: w, cols: w, bitsAllocated: 8, spp: 1, encapsulated: [colour], window: [127.5, 256] }));
    const msg = expectUserError(() => load(w), DatasetError, ['mix.dcm', 'JPEG frame has 3 component(s) but SamplesPerPixel says 1', 're-export']);
    expect(msg).not.toContain('\n');
  });

  it.each(['jls', 'j2k'] as const)('%s: 12-bit grey frames decode to the stored values (codec round trip)', async (codec) => {
    const side = 64; // OpenJPEG's default resolution levels need at least 32 px
    const px = Array.from({ length: side * side }, (_, i) => (i * 37 + (i >> 6) * 11) % 4096);
    put('x.dcm', dicomFile({ syntax: codec, rows: side, cols: side, bitsStored: 12, window: [2047.5, 4096], encapsulated: [await encodeGrey(codec, px, side, side, 12)] }));
    const ds = load(side);
    // window c = 2047.5, w = 4096: v ↦ (v − 2047)/4095 + 0.5, and 1 above 4094.5; exact only if the frame came back lossless
    close(ds.images, px.map((v) => (v > 4094.5 ? 1 : (v - 2047) / 4095 + 0.5)));
  });

  it('refuses an undecodable syntax in one line naming the file, the UID and the syntax', () => {
    put('jl.dcm', dicomFile({ syntax: 'jpegLossless', rows: 2, cols: 2, bitsAllocated: 8, encapsulated: [new Uint8Array([0xff, 0xd8, 0xff, 0xc3])] }));
    const msg = expectUserError(() => load(2), DatasetError, ['jl.dcm', '1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction', 'convert']);
    expect(msg).not.toContain('\n');
  });

  it('a damaged JPEG 2000 frame and a colour JPEG-LS file are one-line errors', async () => {
    put('bad.dcm', dicomFile({ syntax: 'j2k', rows: 2, cols: 2, bitsAllocated: 8, encapsulated: [new Uint8Array([0xff, 0x4f, 0xff, 0x51, 0, 1])] }));
    expect(expectUserError(() => load(2), DatasetError, ['bad.dcm', 'JPEG 2000 frame', 're-export the image'])).not.toContain('\n');
    cleanup(dir);
    mkdirSync(dir);
    put('rgb.dcm', dicomFile({ syntax: 'jls', rows: 2, cols: 2, bitsAllocated: 8, spp: 3, encapsulated: [new Uint8Array(4)] }));
    expectUserError(() => load(2), DatasetError, ['rgb.dcm', 'colour JPEG-LS frames are not supported']);
  });
});

describe('dicom adapter: grey pipeline', () => {
  it('applies rescale slope/intercept then the VOI window (PS3.3 C.11.2.1.2.1), signed samples', () => {
    // signed 16-bit stored -100, 0, 50, 400; modality m = 2s - 10 → -210, -10, 90, 790
    // window c = 40, w = 401: lo = 39.5 - 200 = -160.5, hi = 239.5; v = (m - 39.5)/400 + 0.5
    const stored = [-100, 0, 50, 400].map((v) => v & 0xffff);
    put('s.dcm', dicomFile({ rows: 2, cols: 2, signed: true, frames: [stored], slope: 2, intercept: -10, window: [40, 401] }));
    const ds = load(2);
    expect(ds.source.preprocessing.window).toBe('voi-window');
    close(ds.images, [0, (-10 - 39.5) / 400 + 0.5, (90 - 39.5) / 400 + 0.5, 1]);
  });

  it('sign-extends from BitsStored and ignores bits above HighBit', () => {
    // 12 bits stored at bits 0..11, signed: 0xFFF is -1, 0x800 is -2048, 0xF7FF is 2047 (top bits are not pixel data)
    // window c = 0, w = 4097: v = (m + 0.5)/4096 + 0.5, inside the window for all of them
    put('s.dcm', dicomFile({ rows: 2, cols: 2, bitsStored: 12, signed: true, window: [0, 4097], frames: [[0xfff, 0x800, 0xf7ff, 0]] }));
    const v = (m: number) => (m + 0.5) / 4096 + 0.5;
    close(load(2).images, [v(-1), v(-2048), v(2047), v(0)]);
  });

  it('uses a VOI LUT when present', () => {
    put('l.dcm', dicomFile({ rows: 2, cols: 2, bitsStored: 16, frames: [[10, 11, 12, 99]], voiLut: { first: 10, bits: 8, data: [0, 51, 255] } }));
    const ds = load(2);
    expect(ds.source.preprocessing.window).toBe('voi-lut');
    close(ds.images, [0, 51 / 255, 1, 1]); // 99 is past the table: its last entry
  });

  it('inverts MONOCHROME1; 8-bit samples; percentile fallback clamps the extremes', () => {
    put('m1.dcm', dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, photometric: 'MONOCHROME1', frames: [[0, 85, 170, 255]] }));
    const ds = load(2);
    expect(ds.bitDepth).toBe(8);
    close(ds.images, [1, 2 / 3, 1 / 3, 0]);

    cleanup(dir);
    mkdirSync(dir);
    const px = Array.from({ length: 400 }, (_, i) => (i === 0 ? 60000 : 1000 + i)); // one hot outlier
    put('p.dcm', dicomFile({ rows: 20, cols: 20, frames: [px] }));
    const mm = load(20);
    const pc = load(20, { window: 'percentile' });
    expect(pc.source.preprocessing.window).toBe('percentile');
    expect(mm.images[1]!).toBeLessThan(0.01); // min-max: the outlier squeezes everything else near 0
    expect(pc.images[0]).toBe(1); // percentile: the outlier is clamped
    expect(pc.images[200]!).toBeGreaterThan(0.4);
  });
});

describe('dicom adapter: colour and frames', () => {
  it('reads RGB (both planar configurations) and YBR_FULL as the same colours', () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128];
    const planar = [255, 0, 0, 128, 0, 255, 0, 128, 0, 0, 255, 128];
    // YBR_FULL of the same pixels (PS3.3 C.7.6.3.1.2), rounded
    const ybr = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [128, 128, 128],
    ].flatMap(([r, g, b]) =>
      [0.299 * r! + 0.587 * g! + 0.114 * b!, -0.168736 * r! - 0.331264 * g! + 0.5 * b! + 128, 0.5 * r! - 0.418688 * g! - 0.081312 * b! + 128].map((v) =>
        Math.min(255, Math.round(v)),
      ),
    );
    put('a.dcm', dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, spp: 3, frames: [rgb] }));
    put('b.dcm', dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, spp: 3, planar: 1, frames: [planar] }));
    put('c.dcm', dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, spp: 3, photometric: 'YBR_FULL', frames: [ybr] }));
    const ds = load(2);
    expect(ds.n).toBe(3);
    const want = rgb.map((v) => v / 255);
    close(ds.images.subarray(0, 12), want);
    close(ds.images.subarray(12, 24), want);
    close(ds.images.subarray(24, 36), want, 3 / 255);
  });

  it('takes the first frame by default and every frame with frames=all, each with its own id', () => {
    put('multi.dcm', dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, frames: [[0, 0, 0, 255], [0, 255, 255, 255], [255, 255, 255, 0]] }));
    const first = load(2);
    expect(first.n).toBe(1);
    close(first.images, [0, 0, 0, 1]);
    const all = load(2, { frames: 'all' });
    expect(all.n).toBe(3);
    expect(all.source.preprocessing.frames).toBe('all');
    expect(new Set(all.ids).size).toBe(3);
    close(all.images.subarray(4, 8), [0, 1, 1, 1]);
  });
});

describe('dicom adapter: tags, labels, de-identification', () => {
  const SECRETS = ['Doe^Jane', 'PID-0042', '19700101', '20240615', '1.2.3.4.5.6.7', '1.2.3.9', 'ACME Imaging', 'St Elsewhere'];

  function writePatients(): void {
    const base = { rows: 2, cols: 2, bitsAllocated: 8 as const, frames: [[0, 1, 2, 3]] };
    put('p1/i1', dicomFile({ ...base, tags: patientTags({ id: 'PID-0042', name: 'Doe^Jane', sex: 'F', age: '045Y', sop: '1.2.3.4.5.6.7', studyUid: '1.2.3.9', manufacturer: 'ACME Imaging', institution: 'St Elsewhere' }) }));
    put('p1/i2', dicomFile({ ...base, frames: [[3, 2, 1, 0]], tags: patientTags({ id: 'PID-0042', sex: 'F', birth: '19700101', study: '20240615', sop: '1.2.3.4.5.6.8' }) }));
    put('p2/i1', dicomFile({ ...base, frames: [[9, 9, 9, 1]], tags: patientTags({ id: 'PID-7', sex: 'M', sop: '1.2.3.4.5.6.9', manufacturer: 'ACME Imaging' }) }));
  }

  it('maps PatientSex/PatientAge (or the dates) to sex/age, Manufacturer to site on request, PatientID to a salted hash', () => {
    writePatients();
    const ds = load(2, { site: 'manufacturer', bins: { age: [40, 60] } });
    expect(ds.n).toBe(3);
    const sex = findAttribute(ds, 'sex')!;
    expect(Array.from(ds.ids.keys(), (i) => sex.values[sex.codes[i]!])).toEqual(['female', 'female', 'male']);
    const age = findAttribute(ds, 'age')!;
    expect(age.binEdges).toEqual([40, 60]);
    // 45 (PatientAge) and 54 (1970-01-01 → 2024-06-15) fall in [40, 60); the third file has no age
    expect(age.values[age.codes[0]!]).toBe(age.values[age.codes[1]!]);
    expect(age.values[age.codes[2]!]).toBe('missing');
    expect(findAttribute(ds, 'site')!.values).toEqual(['ACME Imaging', 'missing']); // asked for: the user's choice
    expect(findAttribute(load(2), 'site')).toBeUndefined(); // not asked for: not read
    expect(ds.patientIds![0]).toBe(ds.patientIds![1]);
    expect(ds.patientIds![0]).not.toBe(ds.patientIds![2]);
    expect(ds.patientIds![0]).toMatch(/^p-[0-9a-f]{16}$/);
    // salted: not the plain hash of the ID; the same data gives the same hashes in every load (so the
    // seeded split is the same in every command); a salt file gives other, equally stable hashes
    const plain = createHash('sha256').update('PID-0042').digest('hex').slice(0, 16);
    expect(ds.patientIds![0]).not.toBe(`p-${plain}`);
    expect(load(2).patientIds).toEqual(ds.patientIds);
    const saltFile = join(dir, '.salt');
    const a = load(2, { saltFile });
    const b = load(2, { saltFile });
    expect(a.patientIds).toEqual(b.patientIds);
    expect(a.patientIds![0]).not.toBe(ds.patientIds![0]);
    expect(readFileSync(saltFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const tags = Object.fromEntries(ds.source.tags!.map((t) => [t.keyword, t.missing]));
    expect(tags).toMatchObject({ PatientID: 0, PatientSex: 0, PatientAge: 2, PatientBirthDate: 2, StudyDate: 2, Manufacturer: 1, WindowCenter: 3 });
  });

  it('no name, ID, date or UID reaches the dataset record (ids, patient ids, attributes, source)', () => {
    writePatients();
    const ds = load(2, { frames: 'all' });
    const { images: _images, ...rest } = ds;
    const text = JSON.stringify(rest, (_k, v) => (v instanceof Int32Array ? Array.from(v) : v));
    for (const s of SECRETS) expect(text).not.toContain(s);
    for (const s of ['p1', 'i1', 'i2']) expect(ds.ids.join(' ')).not.toContain(s); // file names can carry names too
  });

  it('labels by SOPInstanceUID from labels.csv; a missing row is a one-line error; without labels: unlabelled', () => {
    writePatients();
    expect(load(2).labelNames).toEqual(['unlabelled']);
    put('labels.csv', 'SOPInstanceUID,label,label_name\n1.2.3.4.5.6.7,1,effusion\n1.2.3.4.5.6.8,0,normal\n1.2.3.4.5.6.9,1,effusion\n');
    const ds = load(2);
    expect(Array.from(ds.labels)).toEqual([1, 0, 1]);
    expect(ds.labelNames).toEqual(['normal', 'effusion']);
    put('other.csv', 'PatientID,label\nPID-0042,1\n');
    expectUserError(() => load(2, { labels: join(dir, 'other.csv') }), DatasetError, ['other.csv', '1 DICOM file(s) have no row for their PatientID', 'add rows']);
  });
});

describe('dicom adapter: bad files', () => {
  it('a corrupt (truncated) file, a file without pixel data (SR) and a non-DICOM folder: one-line errors naming the file', () => {
    const good = dicomFile({ ...GREY12, frames: [Array.from({ length: 4 }, () => 7)] });
    put('cut.dcm', good.subarray(0, good.length - 6));
    const m1 = expectUserError(() => load(2), DatasetError, ['cut.dcm']);
    expect(m1).not.toContain('\n');

    cleanup(dir);
    mkdirSync(dir);
    put('sr.dcm', dicomFile({ rows: 1, cols: 1, noPixels: true, sopClass: '1.2.840.10008.5.1.4.1.1.88.11' }));
    expectUserError(() => load(2), DatasetError, ['sr.dcm', 'structured report', 'remove it']);
  });

  it('a manifest row may name a DICOM file', () => {
    put('img/x.dcm', dicomFile(GREY12));
    put('manifest.csv', 'path,label\nimg/x.dcm,1\n');
    const ds = load(2);
    expect(ds.source.kind).toBe('folder-csv');
    close(ds.images, [0, 1 / 3, 2 / 3, 1]);
  });
});
