/**
 * Poisson subsampling of privacy units (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
 * Sec. 3.1 "lots"; the sampling the RDP accountant's subsampled-Gaussian analysis assumes: Mironov et al.
 * 2019, Sec. 3). Every unit is included in a batch independently with probability q, so batch sizes vary
 * (Binomial(N, q)); the images of the chosen units form the batch.
 *
 * Units: `image` makes every image its own unit. `patient` makes all images of one patient_id one unit,
 * so the guarantee covers a whole patient; the DP-SGD step then clips the SUM of a patient's image
 * gradients, so a patient contributes at most C however many images they have.
 */
import { PrivacyAssumptionError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

export type PrivacyUnit = 'image' | 'patient';

export interface UnitIndex {
  unit: PrivacyUnit;
  /** Image indices (into the caller's list) of each unit. */
  members: number[][];
}

/** Groups images into privacy units. `patientIds[i]` is the patient of image i (needed for 'patient'). */
export function privacyUnits(n: number, unit: PrivacyUnit, patientIds?: readonly string[]): UnitIndex {
  if (unit === 'image') return { unit, members: Array.from({ length: n }, (_, i) => [i]) };
  if (!patientIds) {
    throw new PrivacyAssumptionError("--privacy-unit patient needs a patient_id column; add one to the manifest or use --privacy-unit image");
  }
  const byPatient = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const p = patientIds[i]!;
    if (!byPatient.has(p)) byPatient.set(p, []);
    byPatient.get(p)!.push(i);
  }
  // Order units by their first image so the result does not depend on Map iteration details.
  return { unit, members: [...byPatient.values()].sort((a, b) => a[0]! - b[0]!) };
}

/** One Poisson draw: the units in this step's batch (indices into `units.members`). */
export function poissonSample(units: UnitIndex, q: number, rng: Rng): number[] {
  if (!(q > 0 && q <= 1)) throw new PrivacyAssumptionError(`sample rate ${q} must be in (0, 1]`);
  const chosen: number[] = [];
  for (let u = 0; u < units.members.length; u++) if (rng.uniform() < q) chosen.push(u);
  return chosen;
}
