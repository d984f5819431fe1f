/**
 * Null control: an "attack" that ignores its input and draws every score independently,
 *
 *   score(x) ~ Uniform[0, 1), i.i.d., from a seeded Rng          (members and non-members alike)
 *
 * Its true AUC is 0.5, its true advantage 0 and its epsilon 0, so on the audit's own sample sizes it
 * shows how far chance alone moves each number: the AUC interval should contain 0.5, TPR at FPR a should
 * be about a, and the epsilon lower bound should be ~0. An audit whose control fails this is miscounting.
 * Not an attack from the literature; it is the sanity row of the report.
 */
import { Rng } from '../../src/core/rng.js';

export function randomControlScores(n: number, seed: number): Float64Array {
  const rng = new Rng(seed).derive('random-control');
  return Float64Array.from({ length: n }, () => rng.uniform());
}
