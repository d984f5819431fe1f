/** The input every fidelity metric takes: n feature vectors of length d, row-major float32. */
import { DatasetError } from '../../src/core/errors.js';

export interface FeatureMatrix {
  /** n × d, row-major: row i is data[i*d .. i*d + d). */
  data: Float32Array;
  n: number;
  d: number;
}

/**
 * Checks a matrix at the library boundary: consistent shape, d ≥ 1, every value finite. `name` says
 * which input it is in the message (e.g. 'real features' or the file it came from).
 */
export function checkFeatureMatrix(m: FeatureMatrix, name: string): void {
  if (!Number.isInteger(m.n) || !Number.isInteger(m.d) || m.n < 1 || m.d < 1 || m.data.length !== m.n * m.d) {
    throw new DatasetError(
      `${name}: expected a non-empty n × d feature matrix but got n = ${m.n}, d = ${m.d} with ${m.data.length} values; pass one feature vector per row`,
    );
  }
  const { data, d } = m;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const what = Number.isNaN(data[i]) ? 'NaN' : String(data[i]);
      throw new DatasetError(
        `${name}: row ${Math.floor(i / d) + 1}, column ${(i % d) + 1} is ${what}; features must be finite numbers (check the feature extractor)`,
      );
    }
  }
}

/** Both sets must live in the same feature space. */
export function checkSameDimension(real: FeatureMatrix, synthetic: FeatureMatrix, names: { real: string; synthetic: string }): void {
  if (real.d !== synthetic.d) {
    throw new DatasetError(
      `${names.synthetic} has ${synthetic.d} features per row but ${names.real} has ${real.d}; extract both sets with the same feature extractor`,
    );
  }
}
