/**
 * Sample grids for the report: one row per class × group cell, `perRow` generated images per row, as a
 * PNG (8-bit) with a 2-px gap. Optional real rows (only when the user asks for training images).
 */
import * as tf from '@tensorflow/tfjs';
import { encodePng } from '../../datasets/image/encode.js';
import { conditionWidth, encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { tileImages } from '../core/grid.js';
import { Rng } from '../core/rng.js';

export interface GridCell {
  label: number;
  codes: number[];
  name: string;
}

/** Every class × value combination of the conditioning attributes, at most `max` (in order). */
export function gridCells(spec: ConditionSpec, max = 16): GridCell[] {
  const combos = spec.attributes.reduce<number[][]>((acc, a) => acc.flatMap((c) => a.values.map((_, v) => [...c, v])), [[]]);
  const out: GridCell[] = [];
  spec.labels.forEach((label, li) => {
    for (const codes of combos) {
      const name = [label, ...codes.map((v, k) => `${spec.attributes[k]!.name}=${spec.attributes[k]!.values[v]}`)].join(' | ');
      out.push({ label: li, codes, name });
    }
  });
  return out.slice(0, max);
}

/** Rows of images [n, s, s, c] (values in [0, 1]) on white with a `gap`-pixel border, as PNG bytes. */
export function tile(rows: Float32Array[], perRow: number, size: number, channels: 1 | 3, gap = 2): Uint8Array {
  const g = tileImages(rows, { perRow, size, channels, gap, background: 1 });
  return encodePng(g.pixels, g.width, g.height, channels, 8);
}

/** Generated images for each cell: `perRow` per cell, from `seed`. */
export function sampleRows(gen: Generator, spec: ConditionSpec, cells: GridCell[], perRow: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return cells.map((cell, i) =>
    tf.tidy(() => {
      const cond = tf.tensor2d(
        encodeConditions(spec, new Array(perRow).fill(cell.label), cell.codes.map((c) => new Array(perRow).fill(c))),
        [perRow, conditionWidth(spec)],
      );
      return gen.sample(cond, rng.derive(`cell-${i}`).nextUint32()).dataSync() as Float32Array;
    }),
  );
}
