/**
 * Reads NumPy `.npy` arrays, following the format description in NumPy's documentation
 * ("numpy.lib.format", NEP 1): the magic string `\x93NUMPY`, a major/minor version byte pair, a
 * little-endian header length (2 bytes in version 1.0, 4 bytes in 2.0 and 3.0), then an ASCII (UTF-8 in
 * 3.0) Python dict literal with keys `descr`, `fortran_order` and `shape`, padded with spaces and a
 * newline, then the raw array data.
 *
 * Supported: C order only; little-endian or byte-order-free dtypes `|u1`, `|i1`, `<u2`, `<i2`, `<i4`,
 * `<i8`, `<f4`, `<f8`. `<i8` values are converted to float64 (exact up to 2^53; larger values are
 * refused).
 */
import { DatasetError } from '../src/core/errors.js';

export type NpyDtype = '|u1' | '|i1' | '<u2' | '<i2' | '<i4' | '<i8' | '<f4' | '<f8';

export type NpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Elements in C (row-major) order. `<i8` arrives as Float64Array. */
  data: NpyData;
}

const ITEM_SIZE: Record<NpyDtype, number> = {
  '|u1': 1,
  '|i1': 1,
  '<u2': 2,
  '<i2': 2,
  '<i4': 4,
  '<i8': 8,
  '<f4': 4,
  '<f8': 8,
};

/** dtype strings that mean the same as ours (`<u1`, `=f4` on a little-endian writer, …). */
function normaliseDtype(descr: string): NpyDtype | null {
  const m = /^([<>|=])([uif])(\d)$/.exec(descr);
  if (!m) return null;
  const [, order, kind, bytes] = m;
  const size = Number(bytes);
  if (order === '>' && size > 1) return null;
  const key = `${size === 1 ? '|' : '<'}${kind}${size}` as NpyDtype;
  return key in ITEM_SIZE ? key : null;
}

/** Parses one `.npy` file. `file` names it in errors (e.g. `data.npz:train_images`). */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const fail = (why: string, fix = 'the file is damaged or not a NumPy array; re-create it with numpy.save'): never => {
    throw new DatasetError(`${file}: not a readable .npy array (${why}); ${fix}`);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) fail('no \\x93NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('header is cut short');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`format version ${major}.${bytes[7]} is not supported (only 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail('header is cut short');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  if (descr === undefined) return fail('header has no simple "descr" (structured dtypes are not supported)');
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  if (fortran === undefined) fail('header has no "fortran_order"');
  if (fortran === 'True') {
    fail('fortran_order is True', 'save it in C order, e.g. numpy.save(f, numpy.ascontiguousarray(a))');
  }
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) return fail('header has no "shape"');
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!dims.every((d) => /^\d+L?$/.test(d))) fail(`bad shape (${shapeText.trim()})`);
  const shape = dims.map((d) => parseInt(d, 10));
  const dtype = normaliseDtype(descr);
  if (dtype === null) {
    return fail(`dtype ${descr} is not supported`, 'convert it to uint8, int32, int64, float32 or float64 (little-endian)');
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = ITEM_SIZE[dtype];
  const need = count * itemSize;
  if (bytes.length - dataStart < need) {
    fail(`data is cut short: ${bytes.length - dataStart} bytes for ${need} needed by shape (${shape.join(', ')})`);
  }
  // Copy so the typed array is aligned regardless of where the data starts.
  // (Not bytes.slice: on a Node Buffer that is a view, not a copy.)
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(dataStart, dataStart + need));
  const raw = copy.buffer;
  let data: NpyData;
  switch (dtype) {
    case '|u1':
      data = new Uint8Array(raw);
      break;
    case '|i1':
      data = new Int8Array(raw);
      break;
    case '<u2':
      data = littleEndian(raw, count, 2, (v, o) => v.getUint16(o, true), Uint16Array);
      break;
    case '<i2':
      data = littleEndian(raw, count, 2, (v, o) => v.getInt16(o, true), Int16Array);
      break;
    case '<i4':
      data = littleEndian(raw, count, 4, (v, o) => v.getInt32(o, true), Int32Array);
      break;
    case '<f4':
      data = littleEndian(raw, count, 4, (v, o) => v.getFloat32(o, true), Float32Array);
      break;
    case '<f8':
      data = littleEndian(raw, count, 8, (v, o) => v.getFloat64(o, true), Float64Array);
      break;
    case '<i8': {
      const v = new DataView(raw);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const x = v.getBigInt64(i * 8, true);
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) {
          fail(`int64 value ${x} at element ${i} is too large`, 'store it as a smaller integer type');
        }
        out[i] = Number(x);
      }
      data = out;
      break;
    }
  }
  return { dtype, shape, data };
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndian<T extends Uint16Array | Int16Array | Int32Array | Float32Array | Float64Array>(
  raw: ArrayBuffer,
  count: number,
  size: number,
  get: (v: DataView, offset: number) => number,
  Ctor: { new (buf: ArrayBuffer): T; new (n: number): T },
): T {
  if (HOST_LITTLE_ENDIAN) return new Ctor(raw);
  const v = new DataView(raw);
  const out = new Ctor(count);
  for (let i = 0; i < count; i++) out[i] = get(v, i * size);
  return out;
}
