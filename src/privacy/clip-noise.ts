/**
 * The DP-SGD aggregation step (Abadi et al., CCS 2016, Algorithm 1, lines "clip gradient" and "add
 * noise"), on per-unit gradients that are already summed within each unit:
 *   g̃_u  = g_u · min(1, C / ||g_u||₂)                 (clip each unit's whole gradient, all layers together)
 *   ĝ    = ( Σ_u g̃_u + N(0, σ² C² I) ) / (q · N)        (noise once per step; divide by the EXPECTED batch)
 * Dividing by the expected batch size q·N rather than the realised one keeps the sensitivity of the
 * released sum at C under Poisson sampling (the realised size would itself leak membership).
 * Input layout: one Float32Array per unit, all parameters flattened in a fixed order.
 */
import type { Rng } from '../core/rng.js';

/** Clipping factors min(1, C / ||g_u||) for per-unit squared norms. */
export function clipFactors(squaredNorms: ArrayLike<number>, clipNorm: number): Float64Array {
  const out = new Float64Array(squaredNorms.length);
  for (let u = 0; u < squaredNorms.length; u++) {
    const norm = Math.sqrt(squaredNorms[u]!);
    out[u] = norm > clipNorm ? clipNorm / norm : 1;
  }
  return out;
}

/** The noisy clipped mean of one step (see the header). `expectedBatch` = q · N. */
export function clipAndNoise(
  perUnit: readonly Float32Array[],
  opts: { clipNorm: number; noiseMultiplier: number; expectedBatch: number; rng: Rng; dim: number },
): Float32Array {
  const sum = new Float64Array(opts.dim);
  for (const g of perUnit) {
    let sq = 0;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    const f = clipFactors([sq], opts.clipNorm)[0]!;
    for (let i = 0; i < g.length; i++) sum[i]! += f * g[i]!;
  }
  const sd = opts.noiseMultiplier * opts.clipNorm;
  const out = new Float32Array(opts.dim);
  for (let i = 0; i < opts.dim; i++) out[i] = (sum[i]! + sd * opts.rng.normal()) / opts.expectedBatch;
  return out;
}
