/**
 * DP-MERF: a generator fitted to ONE differentially private release of the data's conditional kernel mean
 * embeddings (Harder, Adamczewski & Park, AISTATS 2021). After the release the generator never reads the
 * data again, so it may train as long as it needs at no further privacy cost (post-processing, Dwork &
 * Roth 2014, Prop. 2.1).
 *
 * Release (src/privacy/release.ts): image i in cell c(i) (the joint class × group condition) contributes
 *   v_i = [a · φ(x_i), b] ⊗ e_{c(i)},   a² + b² = 1,  so ||v_i|| ≤ 1,
 * with φ the random Fourier features of features.ts at each of the pooled `scales`, concatenated with
 * weights sqrt(F_s / F) (so ||φ|| = 1; with the optional `patch` block, whose features are a mean over
 * positions, ||φ|| ≤ 1), and b = `countWeight`; a unit's vectors are summed and clipped to
 * norm 1, and S̃ = Σ_u v̄_u + N(0, σ² I) is released once. Each cell's block of S̃ holds its noisy feature
 * sum (first 2F entries, × a) and its noisy count (last entry, × b):
 *   ñ_c = S̃_c[2F] / b,     μ̃_c = S̃_c[0:2F] / (a · ñ_c)   (the cell's mean embedding)
 * and a class's embedding is the sum of its cells' blocks (post-processing): μ̃_k = Σ_{c∈k} S̃_c / (a Σ ñ_c).
 * Two-level release (`classShare` α² > 0, with a group condition): v_i also goes, × α, to a block of its
 * class, and × β = sqrt(1 − α²) to its cell's, so ||v_i|| stays 1 and ε is unchanged; the cell sums are
 * then the consistent (least-squares) estimates of hierarchy.ts, and a class's sum has noise variance
 * σ² / (α² + β² / K) instead of K σ² (K cells per class), at the price of σ² / β² (less the class block's
 * correction) instead of σ² in each cell.
 * Fitting: for every cell with ñ_c ≥ `minCellCount`, G draws `perCell` images from z ~ N(0, I); the loss
 * is the squared MMD estimate in feature space per cell and per class (the class's generated mean mixes
 * its cells in proportion to ñ_c), each term weighted by its signal share (fitTargets):
 *   L = Σ_c w_c ||m_c − μ̃_c||² + Σ_k w_k ||Σ_{c∈k} π_c m_c − μ̃_k||²,   m_c = (1/m) Σ_j φ(G(z_j, c))
 * (DP-MERF's objective, Sec. 3.2, written per cell and per class). The noisy counts are also the released
 * class × group proportions that sampling draws open conditions from (the run writes them to
 * conditions.json).
 *
 * Sampling: one draw of G per image, or with `resample` K > 1 the image is chosen among K draws by
 * importance resampling towards the release (resample.ts: weights ⟨φ(x), μ̃_c⟩ / ⟨φ(x), m_c⟩, m_c the
 * mean embedding of a fixed draw of REFERENCE_DRAW images of G for cell c); post-processing of the
 * release, so it spends no privacy.
 *
 * Generator: [z ++ condition] → Dense(side² · top) + ReLU → (nearest ×2, Conv k3) + ReLU per stage →
 * the last stage to the channels → sigmoid; widths from the cVAE's table.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { ConfigError, UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { Conv2d, ConvTranspose2d, Dense, disposeLayers, namedVariables, paramsOf, type Layer } from '../../src/nn/layers.js';
import { FusedAdam } from '../../src/nn/optim.js';
import { releaseClippedSum, type ReleaseParams } from '../../src/privacy/release.js';
import { WIDTHS } from '../cvae/index.js';
import { conditionWidth, parseGeneratorConfig, encodeConditions, type ConditionSpec, type Generator, type GeneratorFactory, type ReleaseData } from '../generator.js';
import { patchRffEmbed, poolFlatten, rffEmbed, rffFrequencies } from './features.js';
import { consistentCellSums, consistentSumVariance } from './hierarchy.js';
import { meanEmbeddingLoss } from './mmd.js';
import { importanceWeight, reservoirStep } from './resample.js';

export const DpMerfConfigSchema = z
  .object({
    latent: z.number().int().min(1).max(1024).default(32),
    /** F: random frequencies (the feature vector has 2F entries). */
    frequencies: z.number().int().min(16).max(20000).default(1000),
    /** Kernel bandwidths as per-pixel RMS distances (features.ts); chosen on public PneumoniaMNIST (median 0.16). */
    bandwidths: z.array(z.number().positive()).min(1).default([0.08, 0.16, 0.32]),
    /**
     * Sides the images are average-pooled to before the features, one feature block per scale (each a
     * divisor of the image size; default: the largest divisors up to 8 and up to 16). A coarse scale
     * carries the layout with little noise per unit of signal, a finer one the detail; a 32 px scale let G
     * paint the release's noise into the rare cells as texture. The F frequencies are split evenly.
     */
    scales: z.array(z.number().int().positive()).min(1).optional(),
    /**
     * A block of patch features beside the pooled scales (features.ts patchRffEmbed: the mean over
     * positions of the features of each `size` × `size` patch, at `stride`), taking `share` of the F
     * frequencies and of each image's unit norm. Off by default: without noise it lifted the demo's
     * synthetic-only balanced accuracy (80.0% and 80.3% against 77.1%, one seed each), but at ε = 8 the
     * release's noise took that back (75.8% against 77.5% over three seeds; PneumoniaMNIST at ε = 10,
     * 7 × 7 patches at stride 3, share 0.5: 77.6% against 78.9% over two; HAM10000 at ε = 8: 26.3%
     * against 28.3% over three, with more lesion-like samples), at 2–10× the fitting time
     * (eval/results/private-generators.md, 2026-12-06, tenth session).
     */
    patch: z
      .object({ size: z.number().int().min(2).max(64), stride: z.number().int().min(1).default(4), share: z.number().gt(0).lt(1).default(0.2) })
      .strict()
      .optional(),
    /** Generator ×2 upsampling: nearest-neighbour then conv k3 (`resize`, no checkerboard) or ConvTranspose k4 s2. */
    upsample: z.enum(['resize', 'convT']).default('resize'),
    /** b: the weight of the count entry in each released vector. */
    countWeight: z.number().gt(0).lt(1).default(0.3),
    /**
     * Generated images per cell per fitting step (default: defaultPerCell). More samples per cell give a
     * less noisy, less biased estimate of each generated mean embedding (mmd.ts).
     */
    perCell: z.number().int().min(1).optional(),
    /** Estimate of the squared MMD G minimises (mmd.ts): `unbiased` (no reward for fewer distinct samples) or the plug-in `biased` one. */
    mmd: z.enum(['unbiased', 'biased']).default('biased'),
    /**
     * Candidates per sampled image for importance resampling towards the release (resample.ts); 1 (the
     * default): off, each image is G's first draw. Sampling only: fitting and the release are unchanged.
     * Not the default because 8 changed nothing measurable on the phantom or HAM10000 at 8× the sampling
     * work (eval/results/private-generators.md, 2026-12-05, sixth session).
     */
    resample: z.number().int().min(1).max(64).default(1),
    /**
     * α²: the share of each image's unit norm released in a block of its class beside its class × group
     * cell (hierarchy.ts); 0: the cells alone. Needs a group condition (with the class alone the cells are
     * the classes).
     */
    classShare: z.number().min(0).lt(1).default(0),
    /** Cells whose noisy count is below this are not fitted (and not sampled from released proportions). */
    minCellCount: z.number().min(0).default(5),
    lr: z.number().positive().default(1e-3),
    /** Fitting steps per "epoch" (checkpoint interval). */
    stepsPerEpoch: z.number().int().min(1).default(100),
  })
  .strict();
export type DpMerfConfig = z.infer<typeof DpMerfConfigSchema>;

/** All joint cells of a spec, in mixed-radix order (label slowest): their labels and attribute codes. */
export function enumerateCells(spec: ConditionSpec): { label: number; codes: number[] }[] {
  const radices = [spec.labels.length, ...spec.attributes.map((a) => a.values.length)];
  const total = radices.reduce((a, b) => a * b, 1);
  const out: { label: number; codes: number[] }[] = [];
  for (let k = 0; k < total; k++) {
    const digits: number[] = [];
    let rest = k;
    for (let r = radices.length - 1; r >= 0; r--) {
      digits.unshift(rest % radices[r]!);
      rest = Math.floor(rest / radices[r]!);
    }
    out.push({ label: digits[0]!, codes: digits.slice(1) });
  }
  return out;
}

/** Cell index of each condition row ([n, width] one-hot blocks, as encodeConditions writes them). */
export function cellsOfConditionRows(spec: ConditionSpec, rows: Float32Array, n: number): Int32Array {
  const width = conditionWidth(spec);
  const sizes = [spec.labels.length, ...spec.attributes.map((a) => a.values.length)];
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let offset = 0;
    let cell = 0;
    for (const s of sizes) {
      let hot = -1;
      for (let j = 0; j < s; j++) if (rows[i * width + offset + j]! > 0.5) hot = j;
      if (hot < 0) throw new Error(`internal error: condition row ${i} has no value in a block`);
      cell = cell * s + hot;
      offset += s;
    }
    out[i] = cell;
  }
  return out;
}

/**
 * The default generated images per cell per fitting step: 256 in all for one or two cells (128 each for
 * two), else 32 per cell. As measured (eval/results/private-generators.md, 2026-12-05, fourth session):
 * on PneumoniaMNIST at ε = 1 (2 cells) 128 per cell beat 32 in each of three training seeds (80.1% vs
 * 78.9% TSTR); on the demo's phantom (4 cells, the smallest 16 images) 64 per cell was no better over three
 * seeds and worse in the demo's own run (balanced accuracy 0.71 → 0.58, FID 9.0× → 10.5× real), so cells
 * beyond two keep 32 until a measurement favours more.
 */
export function defaultPerCell(cells: number): number {
  return cells <= 2 ? Math.floor(256 / Math.max(cells, 1)) : 32;
}

/** Images per cell of G's own draw whose mean embedding m_c is the resampling ratio's denominator. */
export const REFERENCE_DRAW = 512;

let instanceCounter = 0;

interface FitTargets {
  /** Active cells (indices into enumerateCells). */
  cells: number[];
  cellMu: tf.Tensor2D;
  classMu: tf.Tensor2D;
  mix: tf.Tensor2D;
  cellW: tf.Tensor1D;
  classW: tf.Tensor1D;
}

export class DpMerf implements Generator {
  readonly kind = 'dpmerf';
  private readonly decIn: Dense;
  private readonly dec: (ConvTranspose2d | Conv2d)[];
  private readonly widths: number[];
  private readonly side: number;
  /** Per scale: pooled side, frequencies Ω [d_s, F_s], and its weight sqrt(F_s / F) (so ||φ|| = 1). */
  private readonly scales: { side: number; omega: tf.Tensor2D; weight: number }[];
  /** The patch block (option `patch`): frequencies Ω [p, p, C, F_p], stride, weight sqrt(F_p / F). */
  private readonly patchBlock: { omega: tf.Tensor4D; stride: number; weight: number } | null;
  private readonly cells: { label: number; codes: number[] }[];
  private readonly cellCond: Float32Array;
  /** S̃ [cells (+ classes, two-level), 2F + 1] (zeros until released) and whether it was released (1) — saved with the weights. */
  private readonly statistics: tf.Variable;
  private readonly released: tf.Variable;
  /** σ of the release (0: exact), saved with it: the fitting weights depend on it. */
  private readonly releaseNoise: tf.Variable;
  private readonly optimizer: FusedAdam;
  private readonly noise: Rng;
  /** Seed of G's reference draw for resampling (a function of the model seed alone). */
  private readonly referenceSeed: number;
  private targets: FitTargets | null = null;
  /** Released μ̃_c of every cell [cells, 2F] (count clamped to ≥ 1) and G's reference mean m_c [2F] of each cell sampled so far; dropped when G changes. */
  private resampleMeans: { data: tf.Tensor2D; generated: Map<number, tf.Tensor1D> } | null = null;

  constructor(
    private readonly cfg: DpMerfConfig & { scales: number[]; perCell: number },
    readonly spec: ConditionSpec,
    readonly imageSize: number,
    readonly channels: 1 | 3,
    seed: number,
  ) {
    const widths = WIDTHS[imageSize];
    if (!widths) throw new ConfigError(`--size ${imageSize}: dpmerf supports ${Object.keys(WIDTHS).join(', ')}`);
    const bad = cfg.scales.find((side) => imageSize % side !== 0);
    if (bad !== undefined) throw new ConfigError(`dpmerf option scales: ${bad} does not divide the image size ${imageSize}; use divisors of ${imageSize} (e.g. ${imageSize / 4}, ${imageSize / 2})`);
    const patchF = cfg.patch ? Math.round(cfg.frequencies * cfg.patch.share) : 0;
    const imageF = cfg.frequencies - patchF;
    if (cfg.patch && cfg.patch.size > imageSize) throw new ConfigError(`dpmerf option patch.size: ${cfg.patch.size} is larger than the ${imageSize} px images; use at most ${imageSize} (e.g. 8)`);
    if (cfg.patch && patchF < 16) throw new ConfigError(`dpmerf option patch.share: ${cfg.patch.share} of ${cfg.frequencies} frequencies is ${patchF}, fewer than 16; raise the share or the frequencies`);
    if (imageF < 16 * cfg.scales.length) throw new ConfigError(`dpmerf option frequencies: ${imageF} is too few for ${cfg.scales.length} scales (at least 16 each)`);
    if (cfg.classShare > 0 && spec.attributes.length === 0) throw new ConfigError(`dpmerf option classShare: ${cfg.classShare} needs a group condition (e.g. --condition label,sex); with the class alone the cells are the classes, so set it to 0`);
    if (cfg.mmd === 'unbiased' && cfg.perCell < 2) throw new ConfigError(`dpmerf option perCell: ${cfg.perCell} is too few for the unbiased MMD estimate (at least 2), or set mmd to "biased"`);
    this.widths = widths;
    this.side = imageSize / 2 ** widths.length;
    const rng = new Rng(seed);
    const init = rng.derive('init');
    this.noise = rng.derive('latent');
    this.referenceSeed = rng.derive('resample-reference').nextUint32();
    const condW = conditionWidth(spec);
    const top = widths[widths.length - 1]!;
    this.decIn = new Dense('generator/in', cfg.latent + condW, this.side * this.side * top, init);
    const rev = [...widths].reverse();
    this.dec = rev.map((ci, i) => {
      const co = i + 1 < rev.length ? rev[i + 1]! : channels;
      return cfg.upsample === 'resize' ? new Conv2d(`generator/conv${i}`, ci, co, 3, 1, 'same', init) : new ConvTranspose2d(`generator/convt${i}`, ci, co, 4, 2, 'same', init);
    });
    // The frequencies are a function of the seed alone (no data), so they are drawn again on load.
    this.scales = cfg.scales.map((side, k) => {
      const f = Math.floor(imageF / cfg.scales.length) + (k < imageF % cfg.scales.length ? 1 : 0);
      const d = side * side * channels;
      return { side, omega: tf.tensor2d(rffFrequencies(d, f, cfg.bandwidths, rng.derive(`frequencies-${side}`)), [d, f]), weight: Math.sqrt(f / cfg.frequencies) };
    });
    const p = cfg.patch?.size ?? 0;
    this.patchBlock = cfg.patch
      ? { omega: tf.tensor4d(rffFrequencies(p * p * channels, patchF, cfg.bandwidths, rng.derive(`frequencies-patch-${p}`)), [p, p, channels, patchF]), stride: cfg.patch.stride, weight: Math.sqrt(patchF / cfg.frequencies) }
      : null;
    this.cells = enumerateCells(spec);
    this.cellCond = encodeConditions(
      spec,
      this.cells.map((c) => c.label),
      spec.attributes.map((_, k) => this.cells.map((c) => c.codes[k]!)),
    );
    const id = instanceCounter++;
    const blocks = this.cells.length + (cfg.classShare > 0 ? spec.labels.length : 0);
    this.statistics = tf.variable(tf.zeros([blocks, 2 * cfg.frequencies + 1]), false, `dpmerf/statistics_${id}`);
    this.released = tf.variable(tf.scalar(0), false, `dpmerf/released_${id}`);
    this.releaseNoise = tf.variable(tf.scalar(0), false, `dpmerf/noise_${id}`);
    this.optimizer = new FusedAdam({ learningRate: cfg.lr });
  }

  private get layers(): Layer[] {
    return [this.decIn, ...this.dec];
  }

  private get a(): number {
    return Math.sqrt(1 - this.cfg.countWeight ** 2);
  }

  decode(zs: tf.Tensor2D, cond: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const b = zs.shape[0];
      const top = this.widths[this.widths.length - 1]!;
      let h: tf.Tensor = tf.reshape(tf.relu(this.decIn.apply(tf.concat([zs, cond], 1))), [b, this.side, this.side, top]);
      this.dec.forEach((l, i) => {
        if (l instanceof Conv2d) h = tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [h.shape[1]! * 2, h.shape[2]! * 2]); // [B, 2s, 2s, C]
        h = l.apply(h);
        if (i + 1 < this.dec.length) h = tf.relu(h);
      });
      return tf.sigmoid(h) as tf.Tensor4D;
    });
  }

  /** φ of images [B, H, W, C] → [B, 2F]: the scales' features, then the patch block's, each × sqrt(F_s / F). The caller owns the tensor. */
  features(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const blocks = this.scales.map((s) => tf.mul(rffEmbed(poolFlatten(images, s.side), s.omega), s.weight));
      if (this.patchBlock) blocks.push(tf.mul(patchRffEmbed(images, this.patchBlock.omega, this.patchBlock.stride), this.patchBlock.weight));
      return tf.concat(blocks, 1) as tf.Tensor2D;
    });
  }

  isReleased(): boolean {
    return this.released.dataSync()[0] === 1;
  }

  /**
   * The one access to the data: computes every image's [a·φ(x), b] in chunks and releases the clipped,
   * noised per-cell sum (clip norm 1: the vectors have norm at most 1), two-level with `classShare` > 0. Returns
   * the clipped share of units.
   */
  releaseStatistics(data: ReleaseData, p: ReleaseParams): Record<string, number> {
    if (this.isReleased()) throw new Error('internal error: dpmerf statistics released twice');
    if (p.clipNorm !== 1) throw new Error('internal error: dpmerf releases unit-norm vectors with clip norm 1');
    const n = data.images.shape[0];
    const condRows = data.cond.dataSync() as Float32Array; // sync point: cells of the train images
    const cellOf = cellsOfConditionRows(this.spec, condRows, n);
    const chunk = 256;
    const parts: tf.Tensor2D[] = [];
    try {
      for (let s = 0; s < n; s += chunk) {
        const e = Math.min(n, s + chunk);
        parts.push(
          tf.tidy(() => {
            const x = tf.slice(data.images, [s, 0, 0, 0], [e - s, -1, -1, -1]) as tf.Tensor4D;
            const phi = this.features(x);
            return tf.concat([tf.mul(phi, this.a), tf.fill([e - s, 1], this.cfg.countWeight)], 1) as tf.Tensor2D;
          }),
        );
      }
      const dim = 2 * this.cfg.frequencies + 1;
      const vectors = new Float32Array(n * dim);
      let offset = 0;
      for (const part of parts) {
        vectors.set(part.dataSync(), offset); // sync point: the release is computed on the CPU
        offset += part.size;
      }
      const share = this.cfg.classShare;
      const levels = share > 0 ? [{ cellOf, weight: Math.sqrt(1 - share) }, { cellOf: Int32Array.from(cellOf, (c) => this.cells.length + this.cells[c]!.label), weight: Math.sqrt(share) }] : [{ cellOf, weight: 1 }];
      const blocks = this.statistics.shape[0];
      const r = releaseClippedSum({ vectors, dim, levels, cells: blocks, unitOf: data.unitOf }, p);
      tf.tidy(() => {
        this.statistics.assign(tf.tensor2d(r.sum, [blocks, dim]));
        this.released.assign(tf.scalar(1));
        this.releaseNoise.assign(tf.scalar(p.noiseMultiplier));
      });
      return { clipped: r.clippedShare };
    } finally {
      tf.dispose(parts);
    }
  }

  /**
   * Every cell's released sum of [a·φ(x), b], [cells, 2F + 1] row-major: the cells' blocks, or with a
   * two-level release their consistent estimates (hierarchy.ts). Post-processing of the release.
   */
  private cellSums(): Float32Array | Float64Array {
    const s = this.statistics.dataSync() as Float32Array; // sync point
    if (this.cfg.classShare === 0) return s;
    return consistentCellSums(s, 2 * this.cfg.frequencies + 1, this.cells.map((c) => c.label), this.spec.labels.length, this.cfg.classShare);
  }

  /** ñ_c of every cell from its row of `sums` (cellSums): the last entry over b. */
  private countsOf(sums: Float32Array | Float64Array): number[] {
    const w = 2 * this.cfg.frequencies + 1;
    return this.cells.map((_, c) => sums[c * w + w - 1]! / this.cfg.countWeight);
  }

  /** The first 2F entries (a × the feature sum) of the rows of `sums` for `cells`, [cells.length, 2F] row-major. */
  private featureRows(sums: Float32Array | Float64Array, cells: ArrayLike<number>): Float32Array {
    const f2 = 2 * this.cfg.frequencies;
    const out = new Float32Array(cells.length * f2);
    for (let j = 0; j < cells.length; j++) out.set(sums.subarray(cells[j]! * (f2 + 1), cells[j]! * (f2 + 1) + f2), j * f2);
    return out;
  }

  /** ñ_c: the released (noisy) count of every cell, post-processing of the release. */
  releasedCounts(): number[] {
    return this.countsOf(this.cellSums());
  }

  /** The released counts per cell, as conditions.json lists condition counts (rounded, ≥ 0). */
  releasedConditionCounts(): { label: number; codes: number[]; count: number }[] {
    return this.releasedCounts().map((n, c) => ({ label: this.cells[c]!.label, codes: this.cells[c]!.codes, count: Math.max(0, Math.round(n)) }));
  }

  /**
   * The fitting targets: the active cells (ñ_c ≥ minCellCount), their noisy mean embeddings μ̃_c, and the
   * same for each class (the sum of its active cells' blocks: post-processing). Each term is weighted by
   * its signal share w = ñ² / (ñ² + v τ²), τ² = σ² · 2F / a² being the expected squared norm of the noise
   * in a block's feature sum measured in counts, and v the term's noise variance in blocks (a cell: 1; a
   * class: its active cells' count; two-level: hierarchy.ts consistentSumVariance). A cell of few units
   * is mostly noise and weighs little; its class, pooled over groups, weighs more. Exact releases (σ = 0)
   * weigh every term 1.
   */
  private fitTargets(): FitTargets {
    if (this.targets) return this.targets;
    if (!this.isReleased()) throw new Error('internal error: dpmerf fitted before its statistics were released');
    const sums = this.cellSums();
    const counts = this.countsOf(sums);
    const minCount = Math.max(this.cfg.minCellCount, 1);
    const cells = counts.map((n, c) => (n >= minCount ? c : -1)).filter((c) => c >= 0);
    if (cells.length === 0) {
      throw new UserError(`dpmerf: no condition cell has a released count of at least ${minCount}; the data is too small for this privacy budget (raise --target-epsilon or use more data)`);
    }
    const f2 = 2 * this.cfg.frequencies;
    const sigma = this.releaseNoise.dataSync()[0]!; // sync point
    const tau2 = (sigma * sigma * f2) / (this.a * this.a);
    const share = (n: number, variance: number) => (n * n) / (n * n + variance * tau2);
    const labels = [...new Set(cells.map((c) => this.cells[c]!.label))].sort((x, y) => x - y);
    const classOf = cells.map((c) => labels.indexOf(this.cells[c]!.label));
    const classCount = labels.map((_, k) => cells.reduce((acc, c, j) => acc + (classOf[j] === k ? counts[c]! : 0), 0));
    const classBlocks = labels.map((_, k) => classOf.filter((x) => x === k).length);
    const cellsOfLabel = (label: number) => this.cells.filter((c) => c.label === label).length;
    const variance = (label: number, m: number) => consistentSumVariance(this.cfg.classShare, cellsOfLabel(label), m);
    const cellWeights = cells.map((c) => share(counts[c]!, variance(this.cells[c]!.label, 1)));
    const classWeights = labels.map((label, k) => share(classCount[k]!, variance(label, classBlocks[k]!)));
    const total = cellWeights.reduce((a, b) => a + b, 0) + classWeights.reduce((a, b) => a + b, 0);
    // mix[k][j]: the share of active cell j in class k's generated mean (its noisy count share).
    const mix = labels.map((_, k) => cells.map((c, j) => (classOf[j] === k ? counts[c]! / classCount[k]! : 0)));
    const rowsData = this.featureRows(sums, cells);
    const targets = tf.tidy(() => {
      const rows = tf.tensor2d(rowsData, [cells.length, f2]); // [K', 2F]
      const mixT = tf.tensor2d(mix.flat(), [labels.length, cells.length]);
      const membership = tf.tensor2d(labels.flatMap((_, k) => classOf.map((x) => (x === k ? 1 : 0))), [labels.length, cells.length]);
      return {
        cellMu: tf.keep(tf.div(rows, tf.tensor2d(cells.map((c) => this.a * counts[c]!), [cells.length, 1])) as tf.Tensor2D),
        classMu: tf.keep(tf.div(tf.matMul(membership, rows), tf.tensor2d(classCount.map((n) => this.a * n), [labels.length, 1])) as tf.Tensor2D),
        mix: tf.keep(mixT),
        cellW: tf.keep(tf.tensor1d(cellWeights.map((w) => w / total))),
        classW: tf.keep(tf.tensor1d(classWeights.map((w) => w / total))),
      };
    });
    this.targets = { cells, ...targets };
    return this.targets;
  }

  /** One fitting step against the released statistics; reads no data. */
  fitStep(step: number): Record<string, number> {
    this.dropResampleMeans(); // G changes: its reference draw for resampling is drawn again when next sampled
    const t = this.fitTargets();
    const { cells } = t;
    const m = this.cfg.perCell;
    const condW = conditionWidth(this.spec);
    const seed = this.noise.derive(step).nextUint32();
    const cond = new Float32Array(cells.length * m * condW);
    cells.forEach((c, k) => {
      for (let j = 0; j < m; j++) cond.set(this.cellCond.subarray(c * condW, (c + 1) * condW), (k * m + j) * condW);
    });
    const condT = tf.tensor2d(cond, [cells.length * m, condW]);
    try {
      const loss = this.optimizer.minimize(
        () =>
          tf.tidy(() => {
            const zs = tf.randomNormal([cells.length * m, this.cfg.latent], 0, 1, 'float32', seed) as tf.Tensor2D;
            const phi = this.features(this.decode(zs, condT)); // [K'·m, 2F]
            return meanEmbeddingLoss(tf.reshape(phi, [cells.length, m, -1]) as tf.Tensor3D, t, this.cfg.mmd === 'unbiased');
          }),
        paramsOf(this.layers),
      );
      try {
        return { loss: loss.dataSync()[0]!, batch: cells.length * m };
      } finally {
        loss.dispose();
      }
    } finally {
      condT.dispose();
    }
  }

  /**
   * White-box audit score [B]: φ(x) · μ̃_{c(x)}, each image's features against the released mean embedding
   * of its own cell (count clamped to ≥ 1), as eval/privacy/whitebox.ts releaseAlignmentScores reads it.
   * Reads only the release, so it spends no privacy. The caller owns the tensor.
   */
  releaseAlignment(images: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor1D {
    const n = images.shape[0];
    const cellOf = cellsOfConditionRows(this.spec, cond.dataSync() as Float32Array, n); // sync point
    return tf.tidy(() => {
      const rows = tf.gather(this.releasedMeans(), tf.tensor1d(cellOf, 'int32')); // [B, 2F]
      return tf.sum(tf.mul(this.features(images), rows), 1) as tf.Tensor1D;
    });
  }

  /** μ̃_c [cells, 2F]: every cell's released mean embedding, its count clamped to ≥ 1. The caller owns the tensor. */
  private releasedMeans(): tf.Tensor2D {
    const f2 = 2 * this.cfg.frequencies;
    const sums = this.cellSums();
    const counts = this.countsOf(sums);
    const rows = this.featureRows(sums, this.cells.map((_, c) => c));
    return tf.tidy(() => tf.div(tf.tensor2d(rows, [this.cells.length, f2]), tf.tensor2d(counts.map((c) => this.a * Math.max(c, 1)), [this.cells.length, 1])) as tf.Tensor2D);
  }

  /**
   * The resampling ratio's two embeddings for the cells in `cells`, [n, 2F] each, row i for cells[i]:
   * released μ̃_c, and G's reference mean m_c over REFERENCE_DRAW images drawn with the cell's own
   * sub-stream of the reference seed (so a cell's m_c does not depend on which other cells were sampled;
   * each is drawn once per G and kept). The caller owns the returned tensors.
   */
  private resamplingMeans(cells: Int32Array): { data: tf.Tensor2D; generated: tf.Tensor2D } {
    // Kept: sample() is usually called inside the caller's tidy, which must not dispose the cache.
    this.resampleMeans ??= { data: tf.keep(this.releasedMeans()), generated: new Map() };
    const cache = this.resampleMeans.generated;
    const condW = conditionWidth(this.spec);
    const chunk = 256;
    for (const c of new Set(cells)) {
      if (cache.has(c)) continue;
      const rng = new Rng(this.referenceSeed).derive(`cell-${c}`);
      const mean = tf.tidy(() => {
        let sum: tf.Tensor = tf.zeros([2 * this.cfg.frequencies]);
        for (let s = 0; s < REFERENCE_DRAW; s += chunk) {
          const m = Math.min(chunk, REFERENCE_DRAW - s);
          const cond = tf.tile(tf.tensor2d(this.cellCond.subarray(c * condW, (c + 1) * condW), [1, condW]), [m, 1]) as tf.Tensor2D;
          const zs = tf.randomNormal([m, this.cfg.latent], 0, 1, 'float32', rng.nextUint32()) as tf.Tensor2D;
          sum = tf.add(sum, tf.sum(this.features(this.decode(zs, cond)), 0));
        }
        return tf.div(sum, REFERENCE_DRAW) as tf.Tensor1D;
      });
      cache.set(c, tf.keep(mean));
    }
    const data = this.resampleMeans.data;
    return tf.tidy(() => {
      const index = tf.tensor1d(cells, 'int32');
      return { data: tf.gather(data, index) as tf.Tensor2D, generated: tf.stack(Array.from(cells, (c) => cache.get(c)!)) as tf.Tensor2D };
    });
  }

  private dropResampleMeans(): void {
    if (this.resampleMeans) tf.dispose([this.resampleMeans.data, ...this.resampleMeans.generated.values()]);
    this.resampleMeans = null;
  }

  trainStep(): Record<string, number> {
    throw new Error('internal error: dpmerf trains by releaseStatistics + fitStep, never on batches');
  }

  /**
   * cond rows → images. With `resample` K > 1 and a release, each row's image is chosen among K draws of G
   * for its cell by importance resampling towards the release (resample.ts); rows of cells below
   * minCellCount (not fitted) weigh their candidates equally. Candidate k is drawn with the seed's
   * sub-stream `candidate-k` (K = 1: G's draw with `seed` itself, as before resampling existed).
   */
  sample(cond: tf.Tensor2D, seed: number): tf.Tensor4D {
    const draw = (s: number) => tf.tidy(() => this.decode(tf.randomNormal([cond.shape[0], this.cfg.latent], 0, 1, 'float32', s) as tf.Tensor2D, cond));
    const k = this.cfg.resample;
    if (k === 1 || !this.isReleased()) return draw(seed);
    const n = cond.shape[0];
    const cellOf = cellsOfConditionRows(this.spec, cond.dataSync() as Float32Array, n); // sync point
    const counts = this.releasedCounts();
    const active = Array.from(cellOf, (c) => counts[c]! >= Math.max(this.cfg.minCellCount, 1));
    const means = this.resamplingMeans(cellOf); // [n, 2F] each, row i for row i's cell
    const rng = new Rng(seed);
    const pick = rng.derive('pick');
    const totals = new Float64Array(n);
    let kept: tf.Tensor4D | null = null;
    try {
      for (let j = 0; j < k; j++) {
        const candidate = draw(rng.derive(`candidate-${j}`).nextUint32());
        const [p, q] = tf.tidy(() => {
          const phi = this.features(candidate);
          return [tf.sum(tf.mul(phi, means.data), 1), tf.sum(tf.mul(phi, means.generated), 1)];
        });
        const pv = p.dataSync(); // sync point: the weights are chosen on the CPU
        const qv = q.dataSync();
        tf.dispose([p, q]);
        // Row i of [kept; candidate]: i keeps the kept image, n + i takes the candidate's.
        const rows = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const step = reservoirStep(totals[i]!, active[i] ? importanceWeight(pv[i]!, qv[i]!) : 1, pick.uniform());
          totals[i] = step.total;
          rows[i] = step.take ? n + i : i;
        }
        if (kept === null) {
          kept = candidate; // candidate 1 is kept until a positive weight replaces it
          continue;
        }
        const previous: tf.Tensor4D = kept;
        kept = tf.tidy(() => tf.gather(tf.concat([previous, candidate], 0), tf.tensor1d(rows, 'int32')) as tf.Tensor4D); // (tf.where with a 1-D mask is ~200x slower on wasm)
        tf.dispose([previous, candidate]);
      }
      const out = kept!;
      kept = null;
      return out;
    } finally {
      tf.dispose([means.data, means.generated]);
      if (kept) kept.dispose();
    }
  }

  weights(): Map<string, tf.Variable> {
    const m = namedVariables(this.layers);
    m.set('release/statistics', this.statistics);
    m.set('release/released', this.released);
    m.set('release/noise_multiplier', this.releaseNoise);
    return m;
  }

  optimizerState(): { step: number; slots: Map<string, tf.Variable> } {
    return { step: this.optimizer.step, slots: this.optimizer.namedSlots(namedVariables(this.layers)) };
  }

  restoreOptimizerState(state: { step: number; slots: Map<string, tf.Tensor> }): void {
    this.optimizer.restoreNamedSlots(namedVariables(this.layers), state);
    this.dropTargets();
  }

  private dropTargets(): void {
    this.dropResampleMeans();
    if (this.targets) tf.dispose([this.targets.cellMu, this.targets.classMu, this.targets.mix, this.targets.cellW, this.targets.classW]);
    this.targets = null;
  }

  architecture(): Record<string, unknown> {
    const top = this.widths[this.widths.length - 1]!;
    return {
      release: [
        `features: ${this.cfg.frequencies} random Fourier frequencies (cos, sin) of a Gaussian-kernel mixture, bandwidths ${this.cfg.bandwidths.join(', ')} (per-pixel RMS), on images average-pooled to ${this.cfg.scales.map((x) => `${x}x${x}`).join(' and ')}${this.cfg.patch ? `, and (${this.patchBlock!.omega.shape[3]} of them) averaged over the ${this.cfg.patch.size}x${this.cfg.patch.size} patches at stride ${this.cfg.patch.stride}` : ''}`,
        this.cfg.classShare > 0
          ? `released once: sums of [${this.a.toFixed(4)}·phi(x), ${this.cfg.countWeight}] per class x group cell (x ${Math.sqrt(1 - this.cfg.classShare).toFixed(4)}, ${this.cells.length} cells) and per class (x ${Math.sqrt(this.cfg.classShare).toFixed(4)}, ${this.spec.labels.length} classes), each unit clipped to norm 1, plus Gaussian noise; cells reconciled with their class by least squares`
          : `released once: per-cell sums of [${this.a.toFixed(4)}·phi(x), ${this.cfg.countWeight}] over ${this.cells.length} class x group cells, each unit clipped to norm 1, plus Gaussian noise`,
      ],
      generator: [
        `input z(${this.cfg.latent}) ++ condition(${conditionWidth(this.spec)})`,
        `dense -> ${this.side}x${this.side}x${top}, relu`,
        ...[...this.widths].reverse().map((_, i, rev) => `${this.cfg.upsample === 'resize' ? 'nearest x2, conv k3 s1' : 'convT k4 s2'} -> ${i + 1 < rev.length ? rev[i + 1] : this.channels} ch${i + 1 < rev.length ? ', relu' : ', sigmoid'}`),
      ],
      objective: 'per-cell squared MMD between generated and released mean embeddings (DP-MERF)',
      sampling: this.cfg.resample > 1 ? `each image chosen among ${this.cfg.resample} draws of G by importance resampling, weights <phi(x), released cell mean> / <phi(x), mean of ${REFERENCE_DRAW} draws of G> (reads only the release)` : 'one draw of G per image',
      parameters: paramsOf(this.layers).reduce((a, v) => a + v.size, 0),
    };
  }

  config(): Record<string, unknown> {
    return { ...this.cfg };
  }

  dispose(): void {
    disposeLayers(this.layers);
    this.dropTargets();
    if (this.patchBlock) this.patchBlock.omega.dispose();
    tf.dispose([...this.scales.map((x) => x.omega), this.statistics, this.released, this.releaseNoise]);
    this.optimizer.dispose();
  }
}

export const dpmerfFactory: GeneratorFactory = {
  kind: 'dpmerf',
  mechanism: 'one-shot',
  create(config, spec, shape, seed) {
    const options = parseGeneratorConfig('dpmerf', DpMerfConfigSchema, config);
    const divisorUpTo = (cap: number) => Math.max(...Array.from({ length: Math.min(cap, shape.size) }, (_, i) => i + 1).filter((d) => shape.size % d === 0));
    const scales = options.scales ?? [...new Set([divisorUpTo(8), divisorUpTo(16)])];
    const perCell = options.perCell ?? defaultPerCell(enumerateCells(spec).length);
    return new DpMerf({ ...options, scales, perCell }, spec, shape.size, shape.channels, seed);
  },
};
