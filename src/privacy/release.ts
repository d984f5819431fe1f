/**
 * One-shot release of a clipped sum with the Gaussian mechanism: the private statistic of a one-shot
 * generator (DP-MERF, models/dpmerf), released once, after which the generator never reads the data again.
 *
 * Each image i contributes a vector v_i ∈ R^D to one cell c(i) of K cells (class × group). A privacy unit
 * u (an image, or every image of one patient) contributes the K×D block vector
 *   V_u = Σ_{i ∈ u} v_i ⊗ e_{c(i)},   clipped to  V̄_u = V_u · min(1, C / ||V_u||_2),
 * and the release is
 *   S̃ = Σ_u V̄_u + N(0, σ² C² I_{K·D})
 * (Dwork & Roth, "The Algorithmic Foundations of Differential Privacy", 2014, Thm. A.1; per-unit clipping
 * as in DP-SGD, Abadi et al. 2016, Alg. 1). Adding or removing one unit changes Σ_u V̄_u by ||V̄_u|| ≤ C, so
 * the L2 sensitivity is C and the release is the Gaussian mechanism with noise multiplier σ. Its privacy
 * is that of ONE step of the subsampled Gaussian at sampling rate q = 1, which both accountants compute:
 * RDP ε(α) = α / (2σ²) (Mironov 2017, Prop. 7), converted to (ε, δ) as for DP-SGD.
 *
 * With v_i of norm ≤ C for every image (DP-MERF's features have norm exactly 1), a unit of one image is
 * never clipped; a patient's images are clipped together, so a patient with m images in one cell weighs at
 * most as much as one image.
 *
 * Levels: an image may contribute to one cell of each of several disjoint sets of cells (say its class ×
 * group cell and its class), with weight w_l in level l:
 *   V_u = Σ_{i ∈ u} Σ_l w_l · v_i ⊗ e_{c_l(i)},
 * clipped and noised as above, so the sensitivity is still C and the ε is the same. With Σ_l w_l² = 1
 * an image's vector keeps its norm, so a unit of one image is still never clipped.
 */
import { assert } from '../core/errors.js';
import { Rng } from '../core/rng.js';

export interface ReleaseInput {
  /** Per-image vectors, row-major [n, dim]. */
  vectors: Float32Array;
  dim: number;
  /** Per level: the cell of each image, in [0, cells), and the weight of its vector there (one level of weight 1: each image in one cell). */
  levels: { cellOf: Int32Array; weight: number }[];
  cells: number;
  /** Unit of each image, in [0, units); null: every image is its own unit. */
  unitOf: Int32Array | null;
}

export interface ReleaseParams {
  clipNorm: number;
  /** σ; 0 releases the exact clipped sum (non-private runs, and tests). */
  noiseMultiplier: number;
  /** Seed of the Gaussian noise (drawn with src/core/rng.ts, in float64, then stored as float32). */
  seed: number;
}

/** S̃ as above, row-major [cells, dim], and the share of units whose vector was clipped. */
export function releaseClippedSum(input: ReleaseInput, p: ReleaseParams): { sum: Float32Array; clippedShare: number } {
  const { dim, cells } = input;
  assert(input.levels.length > 0, () => 'a release needs at least one level of cells');
  const n = input.levels[0]!.cellOf.length;
  assert(input.levels.every((l) => l.cellOf.length === n), () => 'every level must give a cell for every image');
  assert(input.vectors.length === n * dim, () => `vectors hold ${input.vectors.length} values, expected ${n} x ${dim}`);
  assert(p.clipNorm > 0 && p.noiseMultiplier >= 0, () => 'clip norm must be > 0 and noise multiplier >= 0');
  const unitOf = input.unitOf ?? Int32Array.from({ length: n }, (_, i) => i);
  const units = unitOf.reduce((m, u) => Math.max(m, u + 1), 0);
  // Images of a unit by unit; a unit's block vector is accumulated per (unit, cell) pair in float64.
  const byUnit: number[][] = Array.from({ length: units }, () => []);
  for (let i = 0; i < n; i++) byUnit[unitOf[i]!]!.push(i);
  const out = new Float64Array(cells * dim);
  let clipped = 0;
  for (const members of byUnit) {
    if (members.length === 0) continue;
    const blocks = new Map<number, Float64Array>();
    for (const i of members) {
      for (const level of input.levels) {
        const c = level.cellOf[i]!;
        assert(c >= 0 && c < cells, () => `cell ${c} out of range`);
        let b = blocks.get(c);
        if (!b) blocks.set(c, (b = new Float64Array(dim)));
        for (let j = 0; j < dim; j++) b[j] += level.weight * input.vectors[i * dim + j]!;
      }
    }
    let sq = 0;
    for (const b of blocks.values()) for (let j = 0; j < dim; j++) sq += b[j]! * b[j]!;
    const norm = Math.sqrt(sq);
    const factor = norm > p.clipNorm ? p.clipNorm / norm : 1; // min(1, C / ||V_u||)
    if (factor < 1 - 1e-6) clipped++; // float32 inputs: a norm within 1e-6 of C counts as unclipped
    for (const [c, b] of blocks) for (let j = 0; j < dim; j++) out[c * dim + j] += factor * b[j]!;
  }
  const rng = new Rng(p.seed);
  const scale = p.noiseMultiplier * p.clipNorm;
  const sum = new Float32Array(cells * dim);
  for (let k = 0; k < sum.length; k++) sum[k] = out[k]! + (scale > 0 ? scale * rng.normal() : 0);
  return { sum, clippedShare: units > 0 ? clipped / units : 0 };
}
