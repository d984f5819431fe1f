/**
 * Square crop, resize and channel conversion of decoded images.
 *
 * 1. Centre crop: the longer side is cut to the shorter one, removing ⌊d/2⌋ pixels before and ⌈d/2⌉
 *    after (d = difference of the sides).
 * 2. Resize to size × size, separably (first vertically, then horizontally), with a filter chosen per axis:
 *    - shrinking: area filter (the "box" / pixel-mixing reduction, as OpenCV's INTER_AREA): a target pixel
 *      covers the source interval [j·n/m, (j+1)·n/m) and is the exact average of the source pixels over
 *      that footprint, each weighted by the length of its overlap. Overlaps are computed in units of 1/m
 *      source pixel, where they are integers, so the weights are exact rationals (overlap / n).
 *    - enlarging: bilinear interpolation with half-pixel centres: target j samples source coordinate
 *      s = (j + 0.5)·n/m − 0.5, clamped to [0, n − 1], between its two neighbours.
 *    - equal sizes: copy.
 *    Both filters are linear with non-negative weights summing to 1, so [0, 1] inputs stay in [0, 1].
 * 3. Channels: colour → grey uses ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B (Rec. BT.601-7,
 *    Sec. 2.5.1), applied before resizing; grey → RGB replicates the grey value, after resizing. Since
 *    all steps are linear, the order changes only the rounding, not the result.
 *
 * The addon has the same steps in C++ (native/medsynth_resize.cc, `toSquareWith`), used by the decoding
 * workers when it is built: every floating-point operation as here, in the same order, so the pixels are
 * bit-identical (test/datasets/image/native-resize.test.ts). Change one, change the other.
 */
import type { DecodedImage } from './decode.js';

/** 1-D resampling kernel: target j reads `count[j]` source taps starting at `start[j]` with `weights`. */
export interface Kernel {
  start: Int32Array;
  count: Int32Array;
  /** Flattened weights; target j's taps are at weightOffset[j] … weightOffset[j] + count[j] − 1. */
  weights: Float64Array;
  weightOffset: Int32Array;
}

const kernelCache = new Map<string, Kernel>();

/** The 1-D kernel mapping `n` source samples to `m` target samples (area, bilinear or identity). */
export function resampleKernel(n: number, m: number): Kernel {
  const key = `${n}>${m}`;
  const cached = kernelCache.get(key);
  if (cached) return cached;
  const kernel = m < n ? areaKernel(n, m) : m > n ? bilinearKernel(n, m) : identityKernel(n);
  if (kernelCache.size > 256) kernelCache.clear();
  kernelCache.set(key, kernel);
  return kernel;
}

function areaKernel(n: number, m: number): Kernel {
  const start = new Int32Array(m);
  const count = new Int32Array(m);
  const weightOffset = new Int32Array(m);
  const w: number[] = [];
  for (let j = 0; j < m; j++) {
    // Target footprint [j·n, (j+1)·n) and source pixel i at [i·m, (i+1)·m), both in units of 1/m pixel.
    const lo = j * n;
    const hi = (j + 1) * n;
    const first = Math.floor(lo / m);
    const last = Math.min(n - 1, Math.ceil(hi / m) - 1);
    start[j] = first;
    count[j] = last - first + 1;
    weightOffset[j] = w.length;
    for (let i = first; i <= last; i++) {
      const overlap = Math.min(hi, (i + 1) * m) - Math.max(lo, i * m);
      w.push(overlap / n);
    }
  }
  return { start, count, weights: Float64Array.from(w), weightOffset };
}

function bilinearKernel(n: number, m: number): Kernel {
  const start = new Int32Array(m);
  const count = new Int32Array(m);
  const weightOffset = new Int32Array(m);
  const weights = new Float64Array(2 * m);
  for (let j = 0; j < m; j++) {
    const s = Math.min(n - 1, Math.max(0, ((j + 0.5) * n) / m - 0.5));
    const i0 = Math.min(n - 1, Math.floor(s));
    const frac = s - i0;
    start[j] = i0;
    weightOffset[j] = 2 * j;
    if (i0 + 1 < n && frac > 0) {
      count[j] = 2;
      weights[2 * j] = 1 - frac;
      weights[2 * j + 1] = frac;
    } else {
      count[j] = 1;
      weights[2 * j] = 1;
    }
  }
  return { start, count, weights, weightOffset };
}

function identityKernel(n: number): Kernel {
  return {
    start: Int32Array.from({ length: n }, (_, i) => i),
    count: new Int32Array(n).fill(1),
    weights: new Float64Array(n).fill(1),
    weightOffset: Int32Array.from({ length: n }, (_, i) => i),
  };
}

/** BT.601 luma weights for R, G, B. */
export const LUMA_BT601 = [0.299, 0.587, 0.114] as const;

/**
 * Centre-crops `img` to a square, converts it to `channels` and resizes it to size × size.
 * Returns HWC float32 of length size · size · channels.
 */
export function toSquare(img: DecodedImage, size: number, channels: 1 | 3): Float32Array {
  return toSquarePixels(img.data, img.width, img.height, img.channels, 1, size, channels);
}

/**
 * `toSquare` on stored samples: `src` is HWC with `sc` channels, and sample · `scale` is the value in
 * [0, 1] (1 for float input, 1/255 or 1/65535 for integers). The arithmetic is the same as on float
 * input that was scaled first, so both decoders' pixels agree.
 */
export function toSquarePixels(
  src: Float32Array | Uint8Array | Uint16Array,
  width: number,
  height: number,
  sc: 1 | 3,
  scale: number,
  size: number,
  channels: 1 | 3,
): Float32Array {
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`internal error: bad target size ${size}`);
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);

  const work: 1 | 3 = sc === 3 && channels === 3 ? 3 : 1;
  if (sc === work && side !== size) {
    // No colour conversion: resize straight from the stored samples (no cropped float copy of a large
    // image), with the scale applied once per output of the first pass.
    const resized = resizeCrop(src, width, x0, y0, side, sc, scale, size);
    return work === channels ? resized : greyToRgb(resized, size);
  }

  // Crop (and convert colour → grey) into a side × side buffer with `work` channels.
  const cropped = new Float32Array(side * side * work);
  for (let y = 0; y < side; y++) {
    let s = ((y0 + y) * width + x0) * sc;
    let d = y * side * work;
    if (sc === work) {
      if (scale === 1 && src instanceof Float32Array) cropped.set(src.subarray(s, s + side * sc), d);
      else for (let k = 0, e = side * sc; k < e; k++) cropped[d++] = src[s++]! * scale;
    } else {
      // sc = 3, work = 1
      const [wr, wg, wb] = LUMA_BT601;
      for (let x = 0; x < side; x++, s += 3) {
        cropped[d++] = wr * (src[s]! * scale) + wg * (src[s + 1]! * scale) + wb * (src[s + 2]! * scale);
      }
    }
  }

  const resized = side === size ? cropped : resize2d(cropped, side, side, work, size, size);
  return work === channels ? resized : greyToRgb(resized, size);
}

/**
 * The addon's resizeSquare (native/medsynth_resize.cc): toSquarePixels in C++, the same operations in the
 * same order and precision, so the same float32 pixels, bit for bit; it takes resampleKernel's kernel.
 */
export type NativeResize = (
  src: Float32Array | Uint8Array | Uint16Array,
  width: number,
  height: number,
  sc: 1 | 3,
  scale: number,
  size: number,
  channels: 1 | 3,
  start: Int32Array,
  count: Int32Array,
  weights: Float64Array,
  weightOffset: Int32Array,
) => Float32Array;

/** toSquarePixels, by `native` when given (the decoding workers and the loading thread), else in JavaScript. */
export function toSquareWith(
  native: NativeResize | null,
  src: Float32Array | Uint8Array | Uint16Array,
  width: number,
  height: number,
  sc: 1 | 3,
  scale: number,
  size: number,
  channels: 1 | 3,
): Float32Array {
  if (native === null) return toSquarePixels(src, width, height, sc, scale, size, channels);
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`internal error: bad target size ${size}`);
  // The kernel is computed here, so its weights are the very doubles the JavaScript resize would use.
  const k = resampleKernel(Math.min(width, height), size);
  return native(src, width, height, sc, scale, size, channels, k.start, k.count, k.weights, k.weightOffset);
}

/** Grey → RGB by replication. */
function greyToRgb(resized: Float32Array, size: number): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    const v = resized[p]!;
    out[3 * p] = v;
    out[3 * p + 1] = v;
    out[3 * p + 2] = v;
  }
  return out;
}

/**
 * The side × side square at (x0, y0) of an HWC image `width` samples wide, resized to size × size with the
 * same kernels as resize2d (first along y on whole rows, then along x). Sample · scale is the value.
 */
function resizeCrop(
  src: Float32Array | Uint8Array | Uint16Array,
  width: number,
  x0: number,
  y0: number,
  side: number,
  c: number,
  scale: number,
  size: number,
): Float32Array {
  const k = resampleKernel(side, size);
  const rowLen = side * c;
  const tmp = new Float64Array(size * rowLen);
  // Each output sample sums its taps in tap order from 0, then is scaled: the same float64 operations, in
  // the same order, as adding tap after tap into a zeroed row and scaling the row afterwards (so the pixels
  // do not change), with the sum kept in a register instead of read and written back once per tap.
  const stride = width * c;
  for (let j = 0; j < size; j++) {
    const cnt = k.count[j]!;
    const wo = k.weightOffset[j]!;
    const o = j * rowLen;
    const r0 = ((y0 + k.start[j]!) * width + x0) * c;
    if (cnt === 4) {
      const [w0, w1, w2, w3] = [k.weights[wo]!, k.weights[wo + 1]!, k.weights[wo + 2]!, k.weights[wo + 3]!];
      for (let q = 0; q < rowLen; q++) {
        const r = r0 + q;
        tmp[o + q] = (0 + w0 * src[r]! + w1 * src[r + stride]! + w2 * src[r + 2 * stride]! + w3 * src[r + 3 * stride]!) * scale;
      }
    } else {
      for (let q = 0; q < rowLen; q++) {
        let acc = 0;
        for (let t = 0, r = r0 + q; t < cnt; t++, r += stride) acc += k.weights[wo + t]! * src[r]!;
        tmp[o + q] = acc * scale;
      }
    }
  }
  return resizeRows(tmp, side, c, size, size, k);
}

/**
 * Separable resize of an HWC image from (w, h) to (tw, th) with the per-axis kernels above: first along
 * y (whole contiguous rows at a time), then along x.
 */
export function resize2d(
  src: Float32Array,
  w: number,
  h: number,
  c: number,
  tw: number,
  th: number,
): Float32Array {
  const kx = resampleKernel(w, tw);
  const ky = resampleKernel(h, th);
  // Pass 1: along y, th rows of w pixels.
  const rowLen = w * c;
  const tmp = new Float64Array(th * rowLen);
  for (let j = 0; j < th; j++) {
    const first = ky.start[j]!;
    const cnt = ky.count[j]!;
    const wo = ky.weightOffset[j]!;
    const o = j * rowLen;
    for (let t = 0; t < cnt; t++) {
      const wt = ky.weights[wo + t]!;
      const r = (first + t) * rowLen;
      for (let k = 0; k < rowLen; k++) tmp[o + k] += wt * src[r + k]!;
    }
  }
  return resizeRows(tmp, w, c, tw, th, kx);
}

/** Pass 2 of the separable resize: each of the th rows of `tmp` (w pixels of c channels) along x to tw. */
function resizeRows(tmp: Float64Array, w: number, c: number, tw: number, th: number, kx: Kernel): Float32Array {
  const rowLen = w * c;
  const out = new Float32Array(th * tw * c);
  const { start, count, weights, weightOffset } = kx;
  for (let y = 0; y < th; y++) {
    const rowIn = y * rowLen;
    let o = y * tw * c;
    for (let j = 0; j < tw; j++) {
      const cnt = count[j]!;
      const wo = weightOffset[j]!;
      let s = rowIn + start[j]! * c;
      if (c === 3) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        for (let t = 0; t < cnt; t++, s += 3) {
          const wt = weights[wo + t]!;
          a0 += wt * tmp[s]!;
          a1 += wt * tmp[s + 1]!;
          a2 += wt * tmp[s + 2]!;
        }
        out[o++] = a0;
        out[o++] = a1;
        out[o++] = a2;
      } else if (c === 1) {
        let a = 0;
        for (let t = 0; t < cnt; t++, s++) a += weights[wo + t]! * tmp[s]!;
        out[o++] = a;
      } else {
        for (let ch = 0; ch < c; ch++) {
          let a = 0;
          for (let t = 0; t < cnt; t++) a += weights[wo + t]! * tmp[s + t * c + ch]!;
          out[o++] = a;
        }
      }
    }
  }
  return out;
}

/**
 * This module's resize as JavaScript source, for the decoding worker threads (datasets/image/sharp.ts):
 * they run the very functions above, so a worker's pixels are bit-identical to this thread's and the
 * cache keys stay valid. The source is taken from the functions themselves (as compiled: tsc's output, or
 * the test runner's transform), never kept as a second copy; it defines `toSquarePixels`, `toSquareWith`
 * and what they call.
 */
export function resizeSource(): string {
  const fns = [resampleKernel, areaKernel, bilinearKernel, identityKernel, toSquarePixels, toSquareWith, greyToRgb, resizeCrop, resize2d, resizeRows];
  return [
    'const kernelCache = new Map();',
    `const LUMA_BT601 = ${JSON.stringify(LUMA_BT601)};`,
    ...fns.map((f) => f.toString()),
  ].join('\n');
}
