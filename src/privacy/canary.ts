/**
 * Canaries for a one-run privacy audit of DP-SGD (Steinke, Nasr & Jagielski, "Privacy Auditing with One (1)
 * Training Run", NeurIPS 2023, Algorithm 1), white-box "gradient" kind:
 *
 *   - m canaries; canary i is included with probability 1/2, independently (S_i, secret: the key);
 *   - canary i is a Dirac gradient: a vector of norm A = RAW_NORM_FACTOR · C on one coordinate j_i of the
 *     private module's weights (distinct coordinates, weight matrices and filters only: their real
 *     gradients are small and centred, unlike biases and norm scales);
 *   - every DP-SGD step, an included canary is drawn like any privacy unit, with probability q (its own
 *     Poisson draw); a drawn canary joins the per-unit clipping (its norm A > C is clipped to C) and the
 *     clipped sum, before the noise — the sampler, clipping and noise are the run's own;
 *   - the auditor observes all iterates: for every step t and canary i, the released noisy sum at j_i in
 *     units of C, y_{t,i} = (Σ_u g̃_u + N(0, σ²C²))[j_i] / C  (≈ b_{t,i} + N(0, σ²) + the real units' share,
 *     b_{t,i} = 1 when canary i was drawn at step t).
 * Breaks (for tests and the audit's own benchmark only; never reachable from the CLI) change the step as a
 * buggy implementation would: 'noise' draws 0.1× the noise, 'clipping' clips nothing (a canary then adds A),
 * 'double-count' adds every drawn unit's clipped gradient twice.
 *
 * Canaries do not change the real units' guarantee: each real unit is still sampled at q, clipped to C and
 * noised at σ; the canaries are extra units with the same guarantee, which is what the audit tests. An audit
 * run's weights contain the canaries' influence and are not for release.
 */
import { assert } from '../core/errors.js';
import { Rng } from '../core/rng.js';

/** A canary's raw gradient norm in units of the clip norm C (> 1, so clipping is what bounds it). */
export const CANARY_RAW_NORM_FACTOR = 10;

export type CanaryKind = 'gradient' | 'input';
export type AuditBreak = 'noise' | 'clipping' | 'double-count';
export const AUDIT_BREAKS: readonly AuditBreak[] = ['noise', 'clipping', 'double-count'];

/** One canary's coordinate: a weight of the private module (stable name) and a flat index into it. */
export interface CanaryCoordinate {
  weight: string;
  index: number;
}

/**
 * Inclusion bits S_i ∈ {0, 1}, each 1 with probability 1/2, from `seed` (the key's seed). 1 = included.
 */
export function canaryInclusion(m: number, seed: number): Uint8Array {
  assert(Number.isInteger(m) && m >= 1, () => `canaryInclusion: m = ${m}`);
  const rng = new Rng(seed).derive('canary-inclusion');
  return Uint8Array.from({ length: m }, () => (rng.uniform() < 0.5 ? 1 : 0));
}

/**
 * m distinct coordinates, uniformly over the entries of the given weights (each weight: stable name and
 * number of entries), from `seed`. Sorted by weight order, then index.
 */
export function canaryCoordinates(weights: readonly { name: string; size: number }[], m: number, seed: number): CanaryCoordinate[] {
  const total = weights.reduce((a, w) => a + w.size, 0);
  assert(Number.isInteger(m) && m >= 1 && m <= total, () => `canaryCoordinates: ${m} canaries need at least as many weight entries, the private module has ${total}`);
  const rng = new Rng(seed).derive('canary-coordinates');
  const chosen = new Set<number>();
  while (chosen.size < m) chosen.add(rng.int(total));
  const flat = [...chosen].sort((a, b) => a - b);
  const out: CanaryCoordinate[] = [];
  let w = 0;
  let start = 0;
  for (const f of flat) {
    while (f >= start + weights[w]!.size) start += weights[w++]!.size;
    out.push({ weight: weights[w]!.name, index: f - start });
  }
  return out;
}

/**
 * The canaries drawn into step `step`'s Poisson batch: each included canary with probability q, from
 * `Rng(seed).derive('canary-poisson-<step>')` — a stream of its own, so the real units' batches are those
 * of a run without canaries. 1 = drawn.
 */
export function canariesDrawn(included: Uint8Array, q: number, seed: number, step: number): Uint8Array {
  const rng = new Rng(seed).derive(`canary-poisson-${step}`);
  return Uint8Array.from(included, (s) => (rng.uniform() < q && s === 1 ? 1 : 0));
}
