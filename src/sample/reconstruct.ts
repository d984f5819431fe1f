/**
 * A grid of real images beside their reconstructions by an encoder-decoder generator (the cVAE): the
 * quickest look at what the model learned. The grid contains real images, so it is written only when the
 * user asks for it, from the split they name (the test split by default, never trained on).
 */
import * as tf from '@tensorflow/tfjs';
import { encodePng } from '../../datasets/image/encode.js';
import { imageLength, type SplitName } from '../../datasets/dataset.js';
import { conditionWidth, encodeConditions } from '../../models/generator.js';
import { ConfigError } from '../core/errors.js';
import { tileImages } from '../core/grid.js';
import { writeFileAtomic } from '../core/fs.js';
import { Rng } from '../core/rng.js';
import { openRun } from '../train/open.js';

export interface ReconstructRequest {
  run: string;
  split: SplitName;
  n: number;
  seed: number;
  /** PNG path: rows alternate real / reconstruction, 8 images per row. */
  out: string;
}

export async function reconstructionGrid(req: ReconstructRequest): Promise<{ out: string; n: number }> {
  const run = openRun(req.run, { option: '--model' });
  const conditions = run.conditions;
  const gen = run.loadGenerator();
  try {
    if (!gen.reconstruct) throw new ConfigError(`--model ${req.run}: a ${gen.kind} has no encoder, so it cannot reconstruct images`);
    // The run's data (its sha256 checked) and the split training used (splits.csv).
    const ds = run.loadData();
    const pool = new Rng(req.seed).shuffle(run.splitOf(ds).flatMap((s, i) => (s === req.split ? [i] : [])));
    const idx = pool.slice(0, Math.min(req.n, pool.length));
    if (idx.length === 0) throw new ConfigError(`--split ${req.split}: no images in that split`);
    const spec = conditions.spec;
    const attrs = spec.attributes.map((a) => ds.attributes.find((x) => x.name === a.name)!);
    const len = imageLength(ds);
    const real = new Float32Array(idx.length * len);
    idx.forEach((s, d) => real.set(ds.images.subarray(s * len, (s + 1) * len), d * len));
    const recon = tf.tidy(() => {
      const x = tf.tensor4d(real, [idx.length, ds.height, ds.width, ds.channels]);
      const cond = tf.tensor2d(
        encodeConditions(spec, idx.map((i) => ds.labels[i]!), attrs.map((a) => idx.map((i) => a.codes[i]!))),
        [idx.length, conditionWidth(spec)],
      );
      return gen.reconstruct!(x, cond).dataSync() as Float32Array;
    });
    // Rows of 8: a row of real images, then the row of their reconstructions.
    const cols = 8;
    const rows: Float32Array[] = [];
    for (let k = 0; k < idx.length; k += cols) {
      const part = (src: Float32Array) => src.subarray(k * len, Math.min(idx.length, k + cols) * len);
      rows.push(part(real), part(recon));
    }
    const grid = tileImages(rows, { perRow: cols, size: ds.height, channels: ds.channels });
    writeFileAtomic(req.out, encodePng(grid.pixels, grid.width, grid.height, ds.channels, 8));
    return { out: req.out, n: idx.length };
  } finally {
    gen.dispose();
  }
}
