/**
 * Checks that a DP-SGD setup keeps its guarantee. Returns every violation (not just the first), each with
 * the reason and the fix, so a user can correct them all at once (opacus's validators do the same).
 *   - BatchNorm in a private module: its batch statistics mix examples, so one example's influence is no
 *     longer confined to its own clipped gradient. Use GroupNorm or LayerNorm.
 *   - δ ≥ 1/N (N privacy units): a mechanism that publishes one random unit's data in full satisfies
 *     (0, 1/N)-DP, so such a δ promises nothing. Use δ well below 1/N (e.g. 1/N^1.1 or 1e-5).
 *   - N < MIN_DP_UNITS: DP hides one unit among the others. With a handful of units, noise that hides any
 *     one of them also hides what they have in common, so the model learns nothing; a budget loose enough
 *     to learn protects no one, and a claim like "ε = 8" on one image means nothing. 20 is medsynth's
 *     floor, not a sufficient size: useful DP generators need hundreds to thousands of units.
 *   - sampling that is not Poisson: the subsampled-Gaussian accountant assumes each unit is included
 *     independently with probability q; fixed-size shuffled batches need a different analysis.
 *   - clipping norm ≤ 0 or noise multiplier ≤ 0: no bound on sensitivity, or no noise.
 */
import { PrivacyAssumptionError } from '../core/errors.js';
import { BatchNorm, type Layer } from '../nn/layers.js';

/** The fewest privacy units in the train split for which medsynth will make a DP claim. */
export const MIN_DP_UNITS = 20;

/** What the validators need to know about the data: how many units, and δ. */
export interface DpUnits {
  /** Number of privacy units (images or patients) in the training set. */
  units: number;
  delta: number;
  /** What a unit is ('patient', 'image'), for messages. */
  unitName?: string;
}

export interface DpSetup extends DpUnits {
  /** Layers that see private data (for a GAN: the discriminator). */
  privateLayers: Layer[];
  sampling: 'poisson' | 'shuffle';
  clipNorm: number;
  noiseMultiplier: number;
}

/**
 * The violations that depend on the data alone (δ against N, and N itself), so a run can refuse before it
 * calibrates noise or builds a model.
 */
export function unitViolations(s: DpUnits): string[] {
  const out: string[] = [];
  if (!(s.delta > 0) || s.delta >= 1 / s.units) {
    out.push(`delta ${s.delta} is not below 1/N = ${(1 / s.units).toPrecision(3)} for N = ${s.units} privacy units, so it promises nothing; use --delta ${Math.min(1e-5, 1 / s.units ** 1.1).toPrecision(2)} or smaller`);
  }
  if (s.units < MIN_DP_UNITS) {
    const what = `privacy unit${s.units === 1 ? '' : 's'}${s.unitName ? ` (${s.unitName})` : ''}`;
    out.push(
      `N = ${s.units} ${what} in the train split; differential privacy needs at least ${MIN_DP_UNITS}: it hides each unit among the others, and with so few the noise that hides one also hides what they share (the model learns nothing), while a budget loose enough to learn protects no one; add data (about 70% of the units go to the train split)`,
    );
  }
  return out;
}

/** Throws one PrivacyAssumptionError listing every violation of `unitViolations`. */
export function assertDpUnits(s: DpUnits): void {
  const v = unitViolations(s);
  if (v.length) throw new PrivacyAssumptionError(`this setup would break the privacy guarantee: ${v.join('; ')}`);
}

export function dpViolations(s: DpSetup): string[] {
  const out: string[] = [];
  for (const l of s.privateLayers) {
    if (l instanceof BatchNorm) {
      out.push(`${l.name} is a BatchNorm layer in a module that sees private data: its batch statistics mix examples and break per-example clipping; use GroupNorm or LayerNorm`);
    }
  }
  out.push(...unitViolations(s));
  if (s.sampling !== 'poisson') {
    out.push(`sampling '${s.sampling}' is not Poisson: the accountant assumes each unit joins a batch independently with probability q; use Poisson sampling`);
  }
  if (!(s.clipNorm > 0)) out.push(`clipping norm ${s.clipNorm} must be > 0: without it one example's influence is unbounded`);
  if (!(s.noiseMultiplier > 0)) out.push(`noise multiplier ${s.noiseMultiplier} must be > 0: without noise there is no privacy`);
  return out;
}

/** Throws one PrivacyAssumptionError listing every violation. */
export function assertDpSetup(s: DpSetup): void {
  const v = dpViolations(s);
  if (v.length) throw new PrivacyAssumptionError(`this setup would break the privacy guarantee: ${v.join('; ')}`);
}
