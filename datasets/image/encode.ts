/**
 * Writes grey or RGB PNG files (8- or 16-bit) from HWC float pixels in [0, 1].
 *
 * Our own minimal PNG writer, following the PNG specification (W3C / ISO/IEC 15948, 2nd ed.):
 * signature, IHDR, one IDAT (zlib stream from Node's `zlib.deflateSync`, level 9), IEND; each chunk
 * carries a CRC-32 (the ISO 3309 / ITU-T V.42 polynomial 0xEDB88320, table-driven, Sec. 5.5 and Annex D).
 * Per row, the filter type (None, Sub, Up, Average, Paeth; Sec. 9) is chosen by the heuristic the
 * specification suggests (Sec. 12.8): the one whose output has the smallest sum of absolute values when
 * bytes are read as signed. No ancillary chunks (no time stamps), so the same pixels always give the same
 * bytes with the same zlib.
 *
 * Samples are v · (2^depth − 1) rounded to the nearest integer (halves round up), after clamping v to
 * [0, 1]; 16-bit samples are stored big-endian.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of the bytes (PNG / zlib / gzip variant). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

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
  const bytesPerSample = bitDepth === 16 ? 2 : 1;
  const bpp = channels * bytesPerSample; // bytes per complete pixel
  const stride = width * bpp;
  const maxv = bitDepth === 16 ? 65535 : 255;

  // Raw (unfiltered) scanlines.
  const raw = new Uint8Array(height * stride);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw new Error(`internal error: encodePng got a non-finite value at index ${i}`);
    const q = Math.floor(Math.min(1, Math.max(0, v)) * maxv + 0.5);
    if (bitDepth === 16) {
      raw[2 * i] = q >>> 8;
      raw[2 * i + 1] = q & 0xff;
    } else {
      raw[i] = q;
    }
  }

  // Filter each row with the type giving the smallest sum of |signed byte|.
  const filtered = new Uint8Array(height * (stride + 1));
  const candidate = new Uint8Array(stride);
  const best = new Uint8Array(stride);
  const zeroRow = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = raw.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? raw.subarray((y - 1) * stride, y * stride) : zeroRow;
    let bestType = 0;
    let bestScore = Infinity;
    for (let type = 0; type < 5; type++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const x = cur[i]!;
        let f: number;
        switch (type) {
          case 0:
            f = x;
            break;
          case 1:
            f = x - a;
            break;
          case 2:
            f = x - b;
            break;
          case 3:
            f = x - ((a + b) >>> 1);
            break;
          default:
            f = x - paeth(a, b, c);
        }
        f &= 0xff;
        candidate[i] = f;
        score += f < 128 ? f : 256 - f;
      }
      if (score < bestScore) {
        bestScore = score;
        bestType = type;
        best.set(candidate);
      }
    }
    const o = y * (stride + 1);
    filtered[o] = bestType;
    filtered.set(best, o + 1);
  }

  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = channels === 3 ? 2 : 0; // colour type: 2 = RGB, 0 = grey
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(filtered, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
