/**
 * A minimal baseline JPEG writer for tests: three components (Y, Cb, Cr) given as planes at their own
 * resolution, with any luma sampling factors (chroma 1×1), so tests can make 4:2:2 and other
 * subsamplings that neither sharp (4:2:0, 4:4:4 only) nor jpeg-js's encoder (4:4:4 only) write.
 *
 * Written from ITU-T T.81: frame and scan headers (Annex B.2), interleaved MCU order with sampling factors
 * (Sec. A.2.3), the forward DCT F(u,v) = ¼·C(u)·C(v)·Σx Σy (s(x,y) − 128)·cos((2x+1)uπ/16)·cos((2y+1)vπ/16)
 * with C(0) = 1/√2 else 1 (Sec. A.3.3), zig-zag order (Figure A.6), DC differences and AC run/size symbols
 * (Sec. F.1.2), byte stuffing after 0xFF (Sec. B.1.1.5). Not size-efficient: one flat quantization table
 * for all components, and Huffman tables made for simplicity instead of the spec's typical ones (every DC
 * category 0–11 a 4-bit code, every AC run/size symbol an 8-bit code; canonical codes per Annex C). A
 * block outside the image repeats the image's last column and row.
 */
import type { Rng } from '../../src/core/rng.js';

/** Zig-zag order: index k of the coded sequence → row-major index in the 8×8 block (T.81 Figure A.6). */
const ZIGZAG: number[] = (() => {
  const order: number[] = [];
  for (let s = 0; s < 15; s++) {
    const cells: number[] = [];
    for (let y = 0; y < 8; y++) {
      const x = s - y;
      if (x >= 0 && x < 8) cells.push(y * 8 + x);
    }
    // even diagonals run bottom-left to top-right (y decreasing), odd ones the other way
    order.push(...(s % 2 === 0 ? cells.reverse() : cells));
  }
  return order;
})();

const COS: number[][] = Array.from({ length: 8 }, (_, x) => Array.from({ length: 8 }, (_, u) => Math.cos(((2 * x + 1) * u * Math.PI) / 16)));

/** AC symbols: EOB (0x00), ZRL (0xF0), then run r (0–15) and size s (1–10) as r·16 + s. */
const AC_SYMBOLS: number[] = [0x00, 0xf0];
for (let r = 0; r < 16; r++) for (let s = 1; s <= 10; s++) AC_SYMBOLS.push(r * 16 + s);
const AC_CODE = new Map(AC_SYMBOLS.map((sym, i) => [sym, i])); // 8-bit canonical codes 0, 1, 2, ...

class BitWriter {
  readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, length: number): void {
    for (let b = length - 1; b >= 0; b--) {
      this.acc = (this.acc << 1) | ((value >> b) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0x00);
    this.acc = 0;
    this.n = 0;
  }
  finish(): void {
    while (this.n !== 0) this.put(1, 1);
  }
}

/** Magnitude category (bit length) of |v|, and its additional bits (T.81 Sec. F.1.2.1). */
function category(v: number): [number, number] {
  const a = Math.abs(v);
  const s = a === 0 ? 0 : 32 - Math.clz32(a);
  return [s, v < 0 ? v + (1 << s) - 1 : v];
}

export interface YccPlanes {
  width: number;
  height: number;
  /** Luma sampling factors (H, V), each 1 or 2; chroma is 1×1, so the chroma planes are ⌈W/H⌉ × ⌈H/V⌉. */
  h: 1 | 2;
  v: 1 | 2;
  y: Uint8Array;
  cb: Uint8Array;
  cr: Uint8Array;
  /** The one quantizer step for every coefficient (1 = nearly lossless). */
  q?: number;
}

/** A baseline JFIF JPEG of the given planes. */
export function jpegFromPlanes(p: YccPlanes): Buffer {
  const { width, height, h, v } = p;
  const q = p.q ?? 2;
  const cw = Math.ceil(width / h);
  const chh = Math.ceil(height / v);
  const w = new BitWriter();
  const pred = [0, 0, 0];
  const block = new Float64Array(64);

  const codeBlock = (plane: Uint8Array, pw: number, ph: number, x0: number, y0: number, comp: number): void => {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[Math.min(y0 + y, ph - 1) * pw + Math.min(x0 + x, pw - 1)]! - 128;
    }
    const coef = new Array<number>(64);
    for (let vv = 0; vv < 8; vv++) {
      for (let u = 0; u < 8; u++) {
        let s = 0;
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) s += block[y * 8 + x]! * COS[x]![u]! * COS[y]![vv]!;
        const c = (u === 0 ? Math.SQRT1_2 : 1) * (vv === 0 ? Math.SQRT1_2 : 1) * s / 4;
        coef[vv * 8 + u] = Math.round(c / q);
      }
    }
    const zz = ZIGZAG.map((i) => coef[i]!);
    const [ds, dbits] = category(zz[0]! - pred[comp]!);
    pred[comp] = zz[0]!;
    w.put(ds, 4);
    if (ds > 0) w.put(dbits, ds);
    let run = 0;
    let last = 63;
    while (last > 0 && zz[last] === 0) last--;
    for (let k = 1; k <= last; k++) {
      if (zz[k] === 0) {
        run++;
        continue;
      }
      while (run > 15) {
        w.put(AC_CODE.get(0xf0)!, 8);
        run -= 16;
      }
      const [s, bits] = category(zz[k]!);
      w.put(AC_CODE.get(run * 16 + s)!, 8);
      w.put(bits, s);
      run = 0;
    }
    if (last < 63) w.put(AC_CODE.get(0x00)!, 8);
  };

  const mcusX = Math.ceil(width / (8 * h));
  const mcusY = Math.ceil(height / (8 * v));
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      for (let by = 0; by < v; by++) for (let bx = 0; bx < h; bx++) codeBlock(p.y, width, height, (mx * h + bx) * 8, (my * v + by) * 8, 0);
      codeBlock(p.cb, cw, chh, mx * 8, my * 8, 1);
      codeBlock(p.cr, cw, chh, mx * 8, my * 8, 2);
    }
  }
  w.finish();

  const seg = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const bits16 = (length: number, count: number): number[] => Array.from({ length: 16 }, (_, i) => (i === length - 1 ? count : 0));
  const out = [
    0xff, 0xd8,
    ...seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]), // JFIF 1.01, aspect 1:1, no thumbnail
    ...seg(0xdb, [0x00, ...new Array<number>(64).fill(q)]),
    ...seg(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, (h << 4) | v, 0, 2, 0x11, 0, 3, 0x11, 0]),
    ...seg(0xc4, [0x00, ...bits16(4, 12), ...Array.from({ length: 12 }, (_, i) => i), 0x10, ...bits16(8, AC_SYMBOLS.length), ...AC_SYMBOLS]),
    ...seg(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]),
    ...w.bytes,
    0xff, 0xd9,
  ];
  return Buffer.from(out);
}

/** A smooth pattern plus noise, one 8-bit plane of w × h (test images for the JPEG decoders). */
export function testPlane(rng: Rng, w: number, h: number, phase: number, noise: number): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 128 + 90 * Math.sin((x + phase) / 7) * Math.cos((y - phase) / 9) + rng.range(-noise, noise);
      a[y * w + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return a;
}
