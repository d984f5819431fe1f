/**
 * The last two steps of a colour JPEG decode done the way libjpeg-turbo does them (which is what sharp,
 * through libvips and its mozjpeg build of libjpeg-turbo, gives): "fancy" chroma upsampling and the
 * fixed-point YCbCr → RGB conversion. The pure-JS decoder (decode.ts) takes jpeg-js's unconverted Y, Cb,
 * Cr samples and finishes them here, so both decoders agree to the IDCT's rounding.
 *
 * Upsampling (libjpeg-turbo jdsample.c: comments and formulas of h2v1_fancy_upsample, h1v2_fancy_upsample
 * and h2v2_fancy_upsample, and the choice of method in jinit_upsampler; github.com/libjpeg-turbo/
 * libjpeg-turbo, and mozilla/mozjpeg, the fork sharp's libvips is built with). A
 * chroma plane of cw × ch samples (cw = ⌈W/2⌉ or W, ch = ⌈H/2⌉ or H: libjpeg's `downsampled_width` and
 * `downsampled_height`) becomes W × H by linear interpolation between sample centres (a "triangle
 * filter"): output sample centres lie 1/4 and 3/4 of the way between input centres, so each output is
 * 3/4 of the nearer input plus 1/4 of the farther one. Beyond the plane's edges the edge sample is
 * repeated (the first and last columns are special-cased; libjpeg's main buffer controller repeats the
 * first and last sample rows as context). Integer rounding, with a bias that alternates between the two
 * outputs of each input so that halves do not always round up (an ordered dither):
 *   h2v1 (4:2:2), per row c[0..cw−1], clamping c[−1] = c[0], c[cw] = c[cw−1]:
 *     out[2i]   = (3·c[i] + c[i−1] + 1) >> 2,   except out[0] = c[0]
 *     out[2i+1] = (3·c[i] + c[i+1] + 2) >> 2,   except out[2cw−1] = c[cw−1]
 *   h1v2 (4:4:0), per column, clamping as above (output row 2j takes row j−1 as the farther one,
 *     row 2j+1 takes row j+1): out[2j] = (3·near + far + 1) >> 2, out[2j+1] = (3·near + far + 2) >> 2
 *     (libjpeg-turbo 3.x; older releases used + 1 for both rows. The alternating bias is what the mozjpeg
 *     in sharp 0.35 gives: measured on test files, mean difference 0.15 levels against 0.26 with + 1).
 *   h2v2 (4:2:0): first vertically, without rounding, t[i] = 3·row_near[i] + row_far[i], where for
 *     output row 2j the far row is j−1 and for 2j+1 it is j+1 (clamped to the plane); then horizontally
 *     out[2i]   = (3·t[i] + t[i−1] + 8) >> 4,   except out[0]      = (4·t[0] + 8) >> 4
 *     out[2i+1] = (3·t[i] + t[i+1] + 7) >> 4,   except out[2cw−1] = (4·t[cw−1] + 7) >> 4
 *     (weights 9/16, 3/16, 3/16, 1/16 overall).
 *   libjpeg uses plain replication instead for h2v1 and h2v2 when cw ≤ 2, and so do we (h1v2 is always
 *   fancy). Outputs past W or H (odd sizes) are dropped.
 *
 * Colour conversion (libjpeg-turbo jdcolor.c, build_ycc_rgb_table and ycc_rgb_convert): JFIF / ITU-R
 * BT.601 full range,
 *   R = Y + 1.40200·(Cr − 128),  G = Y − 0.34414·(Cb − 128) − 0.71414·(Cr − 128),  B = Y + 1.77200·(Cb − 128)
 * in 16-bit fixed point: FIX(k) = ⌊k·65536 + 0.5⌋, ONE_HALF = 32768, x = Cb − 128 or Cr − 128,
 *   R = Y + ((FIX(1.402)·x_r + ONE_HALF) >> 16)
 *   B = Y + ((FIX(1.772)·x_b + ONE_HALF) >> 16)
 *   G = Y + ((−FIX(0.34414)·x_b − FIX(0.71414)·x_r + ONE_HALF) >> 16)
 * (>> is an arithmetic shift, i.e. floor), each clamped to [0, 255]. libjpeg's G constants are the JFIF
 * 0.344136 and 0.714136 rounded to 5 digits; FIX(0.34414) = 22554 where FIX(0.344136) would be 22553, so
 * we use libjpeg's.
 *
 * Not handled here (decode.ts keeps jpeg-js's own conversion for them): sampling ratios other than 1 and
 * 2 (4:1:1 and the like, which libjpeg upsamples by plain replication), CMYK/YCCK and other files with
 * an Adobe APP14 marker, and RGB-coded files.
 */

/** FIX(k) of libjpeg: k in 16-bit fixed point, rounded to nearest. */
const fix = (k: number): number => Math.floor(k * 65536 + 0.5);
const ONE_HALF = 1 << 15;

/** Per-sample lookup tables for R, B and G offsets (index: the 8-bit Cb or Cr sample). */
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (fix(1.402) * x + ONE_HALF) >> 16;
  CB_B[i] = (fix(1.772) * x + ONE_HALF) >> 16;
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + ONE_HALF;
}

/**
 * Upsamples one chroma plane (cw × ch, row-major) by `rx` horizontally and `ry` vertically (each 1 or
 * 2) to width × height, with libjpeg's fancy upsampling (formulas in the file header). cw must be
 * ⌈width/rx⌉ and ch ⌈height/ry⌉.
 */
export function upsampleChroma(plane: Uint8Array, cw: number, ch: number, rx: 1 | 2, ry: 1 | 2, width: number, height: number): Uint8Array {
  checkPlane(plane, cw, ch, rx, ry, width, height);
  const out = new Uint8Array(width * height);
  const t = new Int32Array(cw);
  const row = new Uint8Array(rx * cw);
  for (let oy = 0; oy < height; oy++) {
    upsampleRow(plane, cw, ch, rx, ry, oy, t, row);
    out.set(row.subarray(0, width), oy * width);
  }
  return out;
}

function checkPlane(plane: Uint8Array, cw: number, ch: number, rx: 1 | 2, ry: 1 | 2, width: number, height: number): void {
  if (Math.ceil(width / rx) !== cw || Math.ceil(height / ry) !== ch || plane.length < cw * ch) {
    throw new Error(`chroma plane ${cw}x${ch} does not match ${width}x${height} at ${rx}x${ry}`);
  }
}

/**
 * Output row `oy` of `upsampleChroma`, uncropped (rx · cw samples), into `row`; `t` is scratch of cw
 * entries. The one implementation of the formulas, shared by the plane and the fused colour path.
 */
function upsampleRow(plane: Uint8Array, cw: number, ch: number, rx: 1 | 2, ry: 1 | 2, oy: number, t: Int32Array, row: Uint8Array): void {
  if (ry === 1) {
    const n0 = oy * cw;
    if (rx === 1) {
      row.set(plane.subarray(n0, n0 + cw));
      return;
    }
    for (let i = 0; i < cw; i++) t[i] = plane[n0 + i]!;
  } else {
    const j = oy >> 1;
    const fancy = rx === 1 || cw > 2;
    const far = fancy ? (oy & 1 ? Math.min(j + 1, ch - 1) : Math.max(j - 1, 0)) : j;
    const n0 = j * cw;
    const f0 = far * cw;
    for (let i = 0; i < cw; i++) t[i] = 3 * plane[n0 + i]! + plane[f0 + i]!;
    if (rx === 1) {
      const bias = oy & 1 ? 2 : 1;
      for (let i = 0; i < cw; i++) row[i] = (t[i]! + bias) >> 2;
      return;
    }
  }
  // rx = 2
  if (cw <= 2) {
    // replication: t holds 4 · sample (h2v2, near = far) or the sample itself (h2v1)
    const shift = ry === 2 ? 2 : 0;
    for (let i = 0; i < cw; i++) row[2 * i] = row[2 * i + 1] = t[i]! >> shift;
  } else if (ry === 2) {
    // first and last columns as in the header; prev/cur/next slide along t
    let prev = t[0]!;
    let cur = prev;
    row[0] = (4 * cur + 8) >> 4;
    for (let i = 0; i < cw - 1; i++) {
      const next = t[i + 1]!;
      if (i > 0) row[2 * i] = (3 * cur + prev + 8) >> 4;
      row[2 * i + 1] = (3 * cur + next + 7) >> 4;
      prev = cur;
      cur = next;
    }
    row[2 * cw - 2] = (3 * cur + prev + 8) >> 4;
    row[2 * cw - 1] = (4 * cur + 7) >> 4;
  } else {
    let prev = t[0]!;
    let cur = prev;
    row[0] = cur;
    for (let i = 0; i < cw - 1; i++) {
      const next = t[i + 1]!;
      if (i > 0) row[2 * i] = (3 * cur + prev + 1) >> 2;
      row[2 * i + 1] = (3 * cur + next + 2) >> 2;
      prev = cur;
      cur = next;
    }
    row[2 * cw - 2] = (3 * cur + prev + 1) >> 2;
    row[2 * cw - 1] = cur;
  }
}

/**
 * Converts one pixel's Y, Cb, Cr samples (0–255) to R, G, B (0–255) with libjpeg's fixed-point tables
 * (formulas in the file header). Writes into `out` at `o`.
 */
export function ycbcrToRgbPixel(y: number, cb: number, cr: number, out: Uint8Array | Uint8ClampedArray, o: number): void {
  out[o] = clamp255(y + CR_R[cr]!);
  out[o + 1] = clamp255(y + ((CB_G[cb]! + CR_G[cr]!) >> 16));
  out[o + 2] = clamp255(y + CB_B[cb]!);
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * libjpeg-turbo's RGB from jpeg-js's unconverted output: `ycc` is the W × H × 3 interleaved Y, Cb, Cr
 * samples jpeg-js gives with `colorTransform: false`, where each chroma sample is repeated over its
 * rx × ry block (jpeg-js samples chroma line ⌊y/ry⌋, column ⌊x/rx⌋). The native chroma planes are read
 * back from the top-left pixel of each block, upsampled row by row as `upsampleChroma` does and converted
 * as `ycbcrToRgbPixel` does (inlined here). Returns
 * W × H × 3 RGB.
 */
export function libjpegRgbFromYcc(ycc: Uint8Array, width: number, height: number, rx: 1 | 2, ry: 1 | 2): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  if (rx === 1 && ry === 1) {
    for (let o = 0; o < rgb.length; o += 3) {
      const y = ycc[o]!;
      const b = ycc[o + 1]!;
      const r = ycc[o + 2]!;
      rgb[o] = clamp255(y + CR_R[r]!);
      rgb[o + 1] = clamp255(y + ((CB_G[b]! + CR_G[r]!) >> 16));
      rgb[o + 2] = clamp255(y + CB_B[b]!);
    }
    return rgb;
  }
  const cw = Math.ceil(width / rx);
  const ch = Math.ceil(height / ry);
  const cb = new Uint8Array(cw * ch);
  const cr = new Uint8Array(cw * ch);
  for (let j = 0; j < ch; j++) {
    const base = j * ry * width;
    for (let i = 0; i < cw; i++) {
      const o = (base + i * rx) * 3;
      cb[j * cw + i] = ycc[o + 1]!;
      cr[j * cw + i] = ycc[o + 2]!;
    }
  }
  const t = new Int32Array(cw);
  const cbRow = new Uint8Array(rx * cw);
  const crRow = new Uint8Array(rx * cw);
  for (let oy = 0; oy < height; oy++) {
    upsampleRow(cb, cw, ch, rx, ry, oy, t, cbRow);
    upsampleRow(cr, cw, ch, rx, ry, oy, t, crRow);
    for (let x = 0, o = oy * width * 3; x < width; x++, o += 3) {
      const y = ycc[o]!;
      const b = cbRow[x]!;
      const r = crRow[x]!;
      rgb[o] = clamp255(y + CR_R[r]!);
      rgb[o + 1] = clamp255(y + ((CB_G[b]! + CR_G[r]!) >> 16));
      rgb[o + 2] = clamp255(y + CB_B[b]!);
    }
  }
  return rgb;
}
