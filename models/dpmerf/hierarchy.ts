/**
 * Consistent estimates from a two-level release: every class has its own block beside its class × group
 * cells, and the two levels are reconciled by generalised least squares (the consistency step of Hay,
 * Rastogi, Miklau & Suciu, "Boosting the Accuracy of Differentially Private Histograms Through
 * Consistency", VLDB 2010, Sec. 4, here with unequal noise per level). Post-processing of the release.
 *
 * Release (index.ts): image i contributes β·v_i to its cell's block and α·v_i to its class's block,
 * α² + β² = 1, so its vector keeps norm 1 and the Gaussian mechanism's sensitivity and ε are unchanged.
 * For a class with cells c = 1..K (S_c the true per-cell sums of v), the release gives
 *   y_c = D_c / β = S_c + e_c,   Var e_c = σ² / β²   (each cell's block, rescaled)
 *   z   = C / α   = Σ_c S_c + e,  Var e   = σ² / α²   (the class's block, rescaled)
 * with independent noise per coordinate. The GLS estimate minimises
 *   Σ_c (y_c − Ŝ_c)² β² + (z − Σ_c Ŝ_c)² α²,
 * whose solution shifts every cell by the same amount towards agreement with the class block:
 *   Ŝ_c = y_c + g (z − Σ_c' y_c'),   g = α² / (β² + K α²).
 * Ŝ is unbiased; as a linear map of (y, z) the sum over any set A of a class's cells, |A| = m, has
 *   Var Σ_{c∈A} Ŝ_c / σ² = [m (1 − m g)² + (K − m)(m g)²] / β² + (m g)² / α²,
 * which is m / β² for α = 0 (the cells alone) and 1 / (α² + β² / K) for the whole class (the
 * inverse-variance combination of its block and its cells' sum).
 */

/** g = α² / (β² + K α²): the share of the class residual each of its K cells takes. */
export function consistencyGain(alpha2: number, cellsInClass: number): number {
  return alpha2 / (1 - alpha2 + cellsInClass * alpha2);
}

/**
 * Var(Σ_{c∈A} Ŝ_c) / σ² for m = |A| of a class's K cells, with α² the class block's share (α² = 0: the
 * cells alone, m).
 */
export function consistentSumVariance(alpha2: number, cellsInClass: number, m: number): number {
  const beta2 = 1 - alpha2;
  const g = consistencyGain(alpha2, cellsInClass);
  const cellsPart = (m * (1 - m * g) ** 2 + (cellsInClass - m) * (m * g) ** 2) / beta2;
  return alpha2 > 0 ? cellsPart + (m * g) ** 2 / alpha2 : cellsPart;
}

/**
 * Ŝ [cells, dim] from a two-level release `stats` [cells + classes, dim] (the cell blocks, then one block
 * per class; each image's vector weighted β in its cell and α in its class, α² = `alpha2`), with
 * `labelOf[c]` the class of cell c. Every class must have at least one cell.
 */
export function consistentCellSums(stats: Float32Array, dim: number, labelOf: number[], classes: number, alpha2: number): Float64Array {
  const cells = labelOf.length;
  if (stats.length !== (cells + classes) * dim) throw new Error(`internal error: a two-level release of ${cells} cells and ${classes} classes holds ${(cells + classes) * dim} values, not ${stats.length}`);
  if (!(alpha2 > 0 && alpha2 < 1)) throw new Error(`internal error: the class share must be in (0, 1), got ${alpha2}`);
  const alpha = Math.sqrt(alpha2);
  const beta = Math.sqrt(1 - alpha2);
  const out = new Float64Array(cells * dim);
  for (let c = 0; c < cells; c++) for (let j = 0; j < dim; j++) out[c * dim + j] = stats[c * dim + j]! / beta;
  for (let k = 0; k < classes; k++) {
    const members = labelOf.flatMap((l, c) => (l === k ? [c] : []));
    if (members.length === 0) throw new Error(`internal error: class ${k} has no cell`);
    const g = consistencyGain(alpha2, members.length);
    for (let j = 0; j < dim; j++) {
      let sumY = 0;
      for (const c of members) sumY += out[c * dim + j]!;
      const shift = g * (stats[(cells + k) * dim + j]! / alpha - sumY);
      for (const c of members) out[c * dim + j] += shift;
    }
  }
  return out;
}
