/**
 * Sampling-importance-resampling towards the release (post-processing: it reads only the released
 * embeddings and the generator, never the data, so it costs no privacy; Dwork & Roth 2014, Prop. 2.1).
 *
 * With a characteristic kernel k(x, y) = ⟨φ(x), φ(y)⟩, a cell's mean embedding evaluated at x is a kernel
 * density estimate of that cell at x: ⟨φ(x), μ_c⟩ = (1/n_c) Σ_i k(x, x_i). So with μ̃_c the released
 * (noisy) mean embedding of the data's cell c and m_c the mean embedding of the generator's own draw for c,
 *   p̂_c(x) = ⟨φ(x), μ̃_c⟩,   q̂_c(x) = ⟨φ(x), m_c⟩,   w(x) = max(p̂_c(x), 0) / max(q̂_c(x), q_min)
 * estimates the density ratio p_c / q_c at the kernel's resolution. Drawing K candidates x_1..x_K from G
 * and keeping x_k with probability w(x_k) / Σ_j w(x_j) is sampling-importance-resampling (Rubin 1988): as
 * K grows, the kept images tend to a draw from q_c · p̂_c / q̂_c, moving mass from where G over-generates
 * to where the release says the data lies. It is the idea of discriminator rejection sampling (Azadi et
 * al., ICLR 2019) with the kernel density ratio in place of a discriminator's.
 *
 * The choice is made in one pass over the K candidates (weighted reservoir of size one: keep candidate k
 * with probability w_k / W_k, W_k = w_1 + … + w_k), so that only the kept image and the current candidate
 * are held at once; P(keep k) = w_k / W_K exactly. When every weight is 0 the first candidate is kept.
 */

/** q̂ below this is treated as this (the ratio's denominator; the features have norm 1, so q̂ ≤ 1). */
export const DENSITY_FLOOR = 1e-6;

/** w(x) = max(p̂, 0) / max(q̂, DENSITY_FLOOR): the estimated density ratio of one candidate. */
export function importanceWeight(p: number, q: number): number {
  return Math.max(p, 0) / Math.max(q, DENSITY_FLOOR);
}

/**
 * One step of the size-one weighted reservoir: given the running total W before this candidate, its
 * weight w and a uniform u ∈ [0, 1), whether it replaces the kept image, and the new total. The caller
 * starts by keeping candidate 1; a zero weight never replaces, and the first positive weight always does,
 * so a row whose weights are all 0 keeps candidate 1.
 */
export function reservoirStep(total: number, w: number, u: number): { take: boolean; total: number } {
  if (!(w > 0)) return { take: false, total };
  const next = total + w;
  return { take: u * next < w, total: next };
}
