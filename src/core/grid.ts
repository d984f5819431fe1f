/**
 * Image grids: rows of images side by side in one image, for sample sheets (the report's sample grids,
 * the benchmarks' grids).
 *
 * Input: `rows[r]` holds row r's images, NHWC float32, size·size·channels values each; the first `perRow`
 * of them are drawn left to right (a row may hold fewer). Output: one HWC float32 image, values as given,
 *   width  = perRow·size + (perRow + 1)·gap
 *   height = rows.length·size + (rows.length + 1)·gap
 * where the gaps, the border (gap wide) and the places of missing images hold `background`.
 */
export interface TileOptions {
  perRow: number;
  size: number;
  channels: number;
  /** Pixels between images and around the grid (default 0). */
  gap?: number;
  /** Value of the gaps and empty places (default 0: black for images in [0, 1]). */
  background?: number;
}

export function tileImages(rows: readonly Float32Array[], opts: TileOptions): { pixels: Float32Array; width: number; height: number } {
  const { perRow, size, channels } = opts;
  const gap = opts.gap ?? 0;
  const width = perRow * size + (perRow + 1) * gap;
  const height = rows.length * size + (rows.length + 1) * gap;
  const pixels = new Float32Array(width * height * channels).fill(opts.background ?? 0);
  const len = size * size * channels;
  const line = size * channels;
  rows.forEach((row, r) => {
    const n = Math.min(perRow, Math.floor(row.length / len));
    const oy = gap + r * (size + gap);
    for (let i = 0; i < n; i++) {
      const ox = gap + i * (size + gap);
      for (let y = 0; y < size; y++) {
        const from = i * len + y * line;
        pixels.set(row.subarray(from, from + line), ((oy + y) * width + ox) * channels);
      }
    }
  });
  return { pixels, width, height };
}
