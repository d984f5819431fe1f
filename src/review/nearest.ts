/**
 * The near-copy check of `medsynth review --show-nearest RUN` (#24): for a synthetic image, the nearest
 * REAL training image of the run (the train split it was fitted on: run.json's data, size, channels and bins,
 * the split from splits.csv; a folder without one gets the split its split seed assigns). Nearest = smallest Euclidean distance in pixel space at the run's size (brute force:
 * N train images × size² × channels values). The real images live in memory only: the server encodes the
 * one it shows per request and never writes it anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { imageLength } from '../../datasets/dataset.js';
import { decodeImage } from '../../datasets/image/decode.js';
import { encodePng } from '../../datasets/image/encode.js';
import { toSquare } from '../../datasets/image/resize.js';
import { loadDataset } from '../../datasets/load.js';
import { assignSplits, splitIndices } from '../../datasets/splits.js';
import { readRunData } from '../train/open.js';
import { parseSplitsCsv } from '../train/records.js';

export interface NearestIndex {
  /** The run folder (for the page). */
  run: string;
  /** PNG bytes of the nearest real training image, and the RMS pixel distance to it. */
  nearest(samplePng: Uint8Array, file: string): { png: Uint8Array; rms: number };
}

export function loadNearestIndex(run: string): NearestIndex {
  const runDir = resolve(run);
  const cfg = readRunData(runDir, '--show-nearest');
  const channels = cfg.channels ?? 1;
  const ds = loadDataset({ path: cfg.data, size: cfg.size, channels, bins: cfg.bins, attributes: cfg.attributes });
  const splitsPath = join(runDir, 'splits.csv');
  const recorded = existsSync(splitsPath) ? parseSplitsCsv(readFileSync(splitsPath, 'utf8'), splitsPath) : null;
  const train = recorded ? ds.ids.flatMap((id, i) => (recorded.get(id) === 'train' ? [i] : [])) : splitIndices(assignSplits(ds, { seed: cfg.splitSeed }), 'train');
  const len = imageLength(ds);
  return {
    run: runDir,
    nearest(samplePng, file) {
      const x = toSquare(decodeImage(samplePng, file), ds.width, ds.channels as 1 | 3);
      let best = -1;
      let bestD = Infinity;
      for (const i of train) {
        const off = i * len;
        let d = 0;
        for (let k = 0; k < len && d < bestD; k++) {
          const t = x[k]! - ds.images[off + k]!;
          d += t * t;
        }
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      const png = encodePng(ds.images.subarray(best * len, (best + 1) * len), ds.width, ds.height, ds.channels as 1 | 3, 8);
      return { png, rms: Math.sqrt(bestD / len) };
    },
  };
}
