/**
 * The fitting objective of DP-MERF per cell and per class: the squared MMD between the generator's
 * samples and a released mean embedding, estimated from m generated samples per cell.
 *
 * For samples φ_1..φ_m of one cell (i.i.d. from the generator) and a fixed target μ:
 *   MMD² = ||E φ − μ||² = E[φ]·E[φ'] − 2 E[φ]·μ + ||μ||².
 * The plug-in ("biased", V-statistic) estimate ||m̂ − μ||², m̂ = (1/m) Σ_i φ_i, has expectation
 *   MMD² + b,   b = (E||φ||² − ||E φ||²) / m = tr Cov(φ) / m,
 * so minimising it also rewards a generator for LOWER feature variance — fewer distinct samples — by
 * an amount that, at m = 32, is of the order of the fitted loss itself. The unbiased estimate
 * (Gretton, Borgwardt, Rasch, Schölkopf & Smola, "A Kernel Two-Sample Test", JMLR 2012, Lemma 6,
 * MMD²_u with the second sample replaced by the fixed released mean) averages φ_i·φ_j over i ≠ j only:
 *   ||m̂ − μ||² − b̂,   b̂ = (S/m − ||m̂||²) / (m − 1),   S = Σ_i ||φ_i||²,
 * since (1/(m(m−1))) Σ_{i≠j} φ_i·φ_j = ||m̂||² − b̂. A class's generated mean mixes its cells,
 * Σ_c π_c m̂_c, with independent samples per cell, so only the c = c' products are biased:
 *   ||Σ_c π_c m̂_c − μ_k||² − Σ_c π_c² b̂_c.
 * Both estimates have the same minimiser in expectation over the generator only when b is constant;
 * the unbiased one removes the pull towards collapse. (The released μ̃ holds the privacy noise; it is a
 * constant here, so neither estimate reads data.)
 */
import * as tf from '@tensorflow/tfjs';

export interface MmdTargets {
  /** Released cell mean embeddings μ̃_c [K, D]. */
  cellMu: tf.Tensor2D;
  /** Per-cell weights w_c [K]. */
  cellW: tf.Tensor1D;
  /** mix[k][c] = π_c for the cells c of class k, else 0 [L, K]. */
  mix: tf.Tensor2D;
  /** Released class mean embeddings μ̃_k [L, D]. */
  classMu: tf.Tensor2D;
  /** Per-class weights w_k [L]. */
  classW: tf.Tensor1D;
}

/**
 * L = Σ_c w_c (||m̂_c − μ̃_c||² − u b̂_c) + Σ_k w_k (||Σ_c π_kc m̂_c − μ̃_k||² − u Σ_c π_kc² b̂_c),
 * u = 1 for the unbiased estimate, 0 for the plug-in one; phi [K, m, D] holds m samples' features per
 * cell (m ≥ 2 for the unbiased estimate). Returns a scalar (inside the caller's tidy / gradient scope).
 */
export function meanEmbeddingLoss(phi: tf.Tensor3D, t: MmdTargets, unbiased: boolean): tf.Scalar {
  return tf.tidy(() => {
    const m = phi.shape[1];
    const means = tf.mean(phi, 1) as tf.Tensor2D; // [K, D]
    const classMeans = tf.matMul(t.mix, means); // [L, D]
    let cellDist: tf.Tensor = tf.sum(tf.square(tf.sub(means, t.cellMu)), 1); // [K]
    let classDist: tf.Tensor = tf.sum(tf.square(tf.sub(classMeans, t.classMu)), 1); // [L]
    if (unbiased) {
      if (m < 2) throw new Error('internal error: the unbiased MMD estimate needs at least 2 samples per cell');
      const s = tf.div(tf.sum(tf.square(phi), [1, 2]), m); // S/m [K]
      const bias = tf.div(tf.sub(s, tf.sum(tf.square(means), 1)), m - 1); // b̂_c [K]
      cellDist = tf.sub(cellDist, bias);
      classDist = tf.sub(classDist, tf.squeeze(tf.matMul(tf.square(t.mix), tf.expandDims(bias, 1)), [1]));
    }
    return tf.add(tf.sum(tf.mul(t.cellW, cellDist)), tf.sum(tf.mul(t.classW, classDist))) as tf.Scalar;
  });
}
