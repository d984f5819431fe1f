// @module-tag slow (reads the real data sets; see vitest.config.ts)
/**
 * Loads the real datasets in ../shared/data (beside the repository) and checks the counts their READMEs
 * state. Skipped, with a warning, when the data is not there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findAttribute, type Attribute, type ImageDataset } from '../../datasets/dataset.js';
import { loadDataset } from '../../datasets/load.js';
import { SHARED_DATA } from './helpers.js';

const HAM = join(SHARED_DATA, 'ham10000-224');
const PNEUMONIA = join(SHARED_DATA, 'pneumoniamnist/pneumoniamnist.npz');
const hasHam = existsSync(join(HAM, 'manifest.csv'));
const hasPneumonia = existsSync(PNEUMONIA);
if (!hasHam) console.warn(`skipping: ${HAM} not found`);
if (!hasPneumonia) console.warn(`skipping: ${PNEUMONIA} not found`);

function counts<T>(items: Iterable<T>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[String(x)] = (out[String(x)] ?? 0) + 1;
  return out;
}
const attributeCounts = (a: Attribute): Record<string, number> => counts(Array.from(a.codes, (c) => a.values[c]!));

describe.skipIf(!hasHam)('HAM10000 subset (folder-csv, 64×64 RGB)', () => {
  let ds: ImageDataset;
  beforeAll(() => {
    ds = loadDataset({ path: HAM, size: 64, bins: { age: [30, 45, 60, 75] } });
  });

  it('has 3000 RGB images at 64×64 in [0, 1]', () => {
    expect([ds.n, ds.height, ds.width, ds.channels, ds.bitDepth]).toEqual([3000, 64, 64, 3, 8]);
    expect(ds.images.length).toBe(3000 * 64 * 64 * 3);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of ds.images) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    // Dermoscopy images are mid-bright skin, not black or white frames.
    expect(sum / ds.images.length).toBeGreaterThan(0.3);
    expect(sum / ds.images.length).toBeLessThan(0.85);
    expect(ds.source.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('has the 7 DermaMNIST classes with the README counts', () => {
    expect(ds.labelNames).toEqual(['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
    expect(counts(ds.labels)).toEqual({ 0: 137, 1: 198, 2: 437, 3: 45, 4: 368, 5: 1755, 6: 60 });
  });

  it('maps val to holdout: train 2100 / holdout 301 / test 599', () => {
    expect(counts(ds.sourceSplits!)).toEqual({ train: 2100, holdout: 301, test: 599 });
  });

  it('has sex and binned age with the README counts; identifiers are not attributes', () => {
    expect(attributeCounts(findAttribute(ds, 'sex')!)).toEqual({ male: 1626, female: 1358, unknown: 16 });
    const age = findAttribute(ds, 'age')!;
    expect(age.values).toEqual(['<30', '30-44', '45-59', '60-74', '75+', 'missing']);
    expect(attributeCounts(age)).toEqual({ '<30': 138, '30-44': 563, '45-59': 1079, '60-74': 736, '75+': 468, missing: 16 });
    expect(attributeCounts(findAttribute(ds, 'site')!)).toEqual({ vidir_molemax: 1351, rosendahl: 790, vidir_modern: 755, vienna_dias: 104 });
    expect(findAttribute(ds, 'lesion_id')).toBeUndefined();
    expect(findAttribute(ds, 'image_id')).toBeUndefined();
    expect(ds.attributes.map((a) => a.name)).toEqual(['sex', 'age', 'localization', 'site', 'dx_type']);
    expect(ds.patientIds).toBeUndefined();
  });

  it('ids are the manifest paths', () => {
    expect(ds.ids[0]).toBe('images/ISIC_0024306.jpg');
    expect(new Set(ds.ids).size).toBe(3000);
  });
});

describe.skipIf(!hasPneumonia)('PneumoniaMNIST (medmnist-npz, 28×28 grey)', () => {
  let ds: ImageDataset;
  beforeAll(() => {
    ds = loadDataset({ path: PNEUMONIA, size: 28 });
  });

  it('has the official split sizes: train 4708 / holdout 524 / test 624', () => {
    expect([ds.n, ds.height, ds.width, ds.channels, ds.bitDepth]).toEqual([5856, 28, 28, 1, 8]);
    expect(counts(ds.sourceSplits!)).toEqual({ train: 4708, holdout: 524, test: 624 });
    expect(ds.ids[0]).toBe('npz:train:0');
    expect(ds.ids[4708]).toBe('npz:val:0');
  });

  it('has the README class counts per split', () => {
    const perSplit: Record<string, Record<string, number>> = {};
    ds.sourceSplits!.forEach((s, i) => {
      const c = (perSplit[s!] ??= {});
      c[ds.labels[i]!] = (c[ds.labels[i]!] ?? 0) + 1;
    });
    expect(perSplit).toEqual({
      train: { 0: 1214, 1: 3494 },
      holdout: { 0: 135, 1: 389 },
      test: { 0: 234, 1: 390 },
    });
    expect(ds.labelNames).toEqual(['class_0', 'class_1']);
  });

  it('keeps 28×28 uint8 pixels exactly (no resize at the native size)', () => {
    for (const v of ds.images.subarray(0, 28 * 28 * 10)) expect(Math.abs(v * 255 - Math.round(v * 255))).toBeLessThan(1e-4);
  });

  it('resizes to 64×64 with the same code', () => {
    const big = loadDataset({ path: PNEUMONIA, size: 64, limit: 50 });
    expect([big.n, big.height, big.channels]).toEqual([50, 64, 1]);
    expect(big.images.length).toBe(50 * 64 * 64);
  });
});
