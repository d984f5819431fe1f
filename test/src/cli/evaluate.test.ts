/**
 * `medsynth evaluate` as a user runs it, on a tiny phantom, a 1-epoch cVAE and 60 samples: the report
 * sections on stdout, the JSON file with seeds, extractor, fingerprints and split sizes (and no image path
 * or patient id), the oversampling baseline (d) and the comparisons over classifier seeds, (c) from
 * --augmented, same seed → same numbers, and one-line errors that write nothing.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
let samples: string;
let cache: string;
let first: Record<string, any>;

const FAST = ['--features', 'pixel-pca', '--classifier-steps', '10'];

/** A manifest in `dir` listing real rows (by reference into the phantom) and, optionally, the samples. */
function augmentedFolder(dir: string, keep: (split: string) => boolean, withSynthetic: boolean): void {
  const split = new Map(readFileSync(join(work, 'run', 'splits.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
  const real = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const lines = ['path,label,label_name,sex,synthetic'];
  for (const [path, label, name, sex] of real) if (keep(split.get(path!)!)) lines.push(`../phantom/${path},${label},${name},${sex},0`);
  if (withSynthetic) {
    for (const row of readFileSync(join(samples, 'manifest.csv'), 'utf8').trim().split('\n').slice(1)) {
      const [path, label, name, sex] = row.split(',');
      lines.push(`../samples/${path},${label},${name},${sex},1`);
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.csv'), lines.join('\n') + '\n');
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-evaluate-'));
  data = join(work, 'phantom');
  samples = join(work, 'samples');
  cache = join(work, 'cache');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
  const t = runCli(['train', '--data', data, '--out', join(work, 'run'), '--size', '28', '--condition', 'label,sex', '--epochs', '1', '--batch-size', '32']);
  expect(t.status, t.stderr).toBe(0);
  const s = runCli(['sample', '--model', join(work, 'run'), '--n', '60', '--out', samples]);
  expect(s.status, s.stderr).toBe(0);
});

describe('medsynth evaluate', () => {
  it('prints fidelity with baselines, the (a)|(b)|(c)|(d) table with intervals, the comparisons and diversity, and writes the JSON file', () => {
    const file = join(work, 'out', 'eval.json');
    const r = runCli(['evaluate', '--real', data, '--synthetic', samples, ...FAST, '--cache-dir', cache, '--json', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Fidelity vs the real train split \(features: pixel-pca, 64-d, fitted on real train split \(167 images\)/);
    expect(r.stdout).toMatch(/all +synthetic +60 +[\d.]+ /);
    expect(r.stdout).toMatch(/real test \(baseline\) +36 +[\d.]+ /);
    expect(r.stdout).toMatch(/metric +\(a\) real train +\(b\) synthetic only \(TSTR\) +\(c\) real \+ synthetic +\(d\) real \+ oversampled real/);
    expect(r.stdout).toMatch(/mean \[95% t-interval\] over 3 classifier seeds/);
    expect(r.stdout).toMatch(/balanced accuracy +[\d.]+ \[-?[\d.]+, [\d.]+\]/);
    expect(r.stdout).toMatch(/\(d\) = \(c\) with its 60 synthetic rows replaced by real train images of the same class x sex cell/);
    expect(r.stdout).toMatch(/\(c\) vs \(d\) oversampling: balanced accuracy [+-][\d.]+ points \[[+-][\d.]+, [+-][\d.]+\] -> (augmentation better|within 1 point|oversampling is better here)/);
    expect(r.stdout).toMatch(/\(c\) vs \(a\) real only: balanced accuracy/);
    for (const row of ['balanced accuracy', 'recall disease', 'TPR sex=female', 'worst-group accuracy', 'demographic-parity diff.', 'equalized-odds diff.']) {
      expect(r.stdout).toContain(row);
    }
    expect(r.stdout).toMatch(/Mode coverage: k-means, K = 16/);
    expect(r.stdout).toMatch(/Intra-class mean pairwise distance/);
    expect(r.stderr).toContain(`wrote ${file}`);

    first = JSON.parse(readFileSync(file, 'utf8'));
    expect(first.command).toBe('evaluate');
    expect(first.seeds.evaluation).toBe(1);
    expect(first.seeds.split).toBe(1);
    expect(first.features).toMatchObject({ name: 'pixel-pca', dim: 64, fittedOn: 'real train split (167 images)' });
    expect(first.features.preprocessing).toMatch(/principal components/);
    expect(first.datasets.real.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.datasets.synthetic.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.splits.sizes).toEqual({ train: 167, holdout: 37, test: 36 });
    expect(first.backend.name).toBeTruthy();
    const overall = first.fidelity.rows[0];
    expect(overall).toMatchObject({ slice: 'overall', reference: 167, synthetic: { n: 60 }, baseline: { n: 36 } });
    // A 1-epoch model is far from the real data; a real sample is close to it.
    expect(overall.synthetic.values.fid).toBeGreaterThan(overall.baseline.values.fid);
    expect(first.fidelity.rows.map((x: { slice: string; name: string }) => `${x.slice}:${x.name}`)).toEqual([
      'overall:all', 'class:healthy', 'class:disease', 'group:female', 'group:male',
    ]);
    expect(first.utility.ways.map((w: { key: string; trainImages: number }) => [w.key, w.trainImages])).toEqual([['a', 167], ['b', 60], ['c', 227], ['d', 227]]);
    // (d): the synthetic rows of (c) replaced by real train duplicates, per cell the same counts as (c).
    const [, , c, d] = first.utility.ways;
    expect(d.trainPerClass).toEqual(c.trainPerClass);
    expect(d.reports).toHaveLength(3);
    expect(d.summary.balancedAccuracy).toMatchObject({ n: 3, mean: expect.any(Number), lo: expect.any(Number), hi: expect.any(Number) });
    expect(d.summary.recall).toHaveLength(2);
    expect(d.summary.worstGroupAccuracy.n).toBe(3);
    const o = first.utility.oversampling;
    expect(o).toMatchObject({ seed: first.seeds.oversampling, matchedOn: 'class x sex', replaced: 60 });
    expect(o.filled + o.leftOut).toBe(60);
    expect(o.cells.reduce((s: number, x: { rows: number }) => s + x.rows, 0)).toBe(60);
    expect(first.diversity.cells.augmented.counts.flat().reduce((s: number, x: number) => s + x, 0)).toBe(227);
    expect(first.utility.classifier.seeds).toHaveLength(3);
    expect(first.utility.classifier.seeds[0]).toBe(first.seeds.classifier);
    for (const cmp of [first.utility.augmentedVsOversampling, first.utility.augmentedVsReal]) {
      expect(cmp.deltaBalancedAccuracy).toBeCloseTo(cmp.perSeed.reduce((s: number, x: number) => s + x, 0) / 3, 12);
      expect(cmp.ci.lo).toBeLessThanOrEqual(cmp.deltaBalancedAccuracy);
    }
    const dba = d.summary.balancedAccuracy.values;
    const cba = c.summary.balancedAccuracy.values;
    expect(first.utility.augmentedVsOversampling.perSeed.map((x: number) => x.toFixed(12))).toEqual(cba.map((x: number, i: number) => (x - dba[i]).toFixed(12)));
    expect(['augmentation better', 'within 1 point', 'oversampling is better here']).toContain(first.utility.augmentedVsOversampling.verdict);
    expect(first.utility.positiveName).toBe('disease');
    expect(first.diversity.cells.synthetic.indices.total).toBe(60);
    expect(first.diversity.modes.baseline.counts.reduce((a: number, b: number) => a + b, 0)).toBe(36);
    // Aggregates only: no image path, no patient identifier.
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/ph_\d+|syn_\d+|P\d{5}/);
  });

  it('takes (c) from --augmented and gives the same numbers for the same seed', () => {
    const aug = join(work, 'augmented');
    augmentedFolder(aug, (s) => s === 'train', true);
    const r = runCli(['evaluate', '--real', data, '--synthetic', samples, '--augmented', aug, ...FAST, '--cache-dir', cache, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.datasets.augmented.n).toBe(227);
    expect(j.utility.augmentedSource).toContain(aug);
    // The same real rows and synthetic rows in the same order: all four ways, (d)'s duplicates included, agree.
    for (const k of [0, 1, 2, 3]) expect(j.utility.ways[k].reports).toEqual(first.utility.ways[k].reports);
    expect(j.utility.oversampling).toEqual(first.utility.oversampling);
    expect(j.fidelity.rows).toEqual(first.fidelity.rows.map((row: Record<string, any>) => ({
      ...row,
      synthetic: { ...row.synthetic, values: row.synthetic.values && { ...row.synthetic.values, seconds: expect.anything() } },
      baseline: { ...row.baseline, values: row.baseline.values && { ...row.baseline.values, seconds: expect.anything() } },
    })));
    expect(j.diversity.cells.augmented).toEqual(first.diversity.cells.augmented);
  });

  it('refuses an augmented set holding test images, an unknown class, and a bad extractor, writing nothing', () => {
    const file = join(work, 'bad', 'eval.json');
    const leak = join(work, 'leaky');
    augmentedFolder(leak, () => true, false);
    const r = runCli(['evaluate', '--real', data, '--synthetic', samples, '--augmented', leak, ...FAST, '--json', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: --augmented .*leaky: 36 of its real images are in the real test split \(--split-seed 1\)/);
    expect(r.stderr.trim().split('\n').filter((l) => l.includes('error'))).toHaveLength(1);

    const renamed = join(work, 'renamed');
    cpSync(samples, renamed, { recursive: true });
    writeFileSync(join(renamed, 'manifest.csv'), readFileSync(join(samples, 'manifest.csv'), 'utf8').replaceAll(',disease,', ',tumour,'));
    const c = runCli(['evaluate', '--real', data, '--synthetic', renamed, ...FAST, '--json', file]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/error: --synthetic .*renamed: class 'tumour' is not a class of the real data \(healthy, disease\)/);

    const f = runCli(['evaluate', '--real', data, '--synthetic', samples, '--features', 'inception', '--json', file]);
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/--features.*use domain-cnn, pixel-pca or a FILE\.npy/);

    const z = runCli(['evaluate', '--real', data, '--synthetic', samples, ...FAST, '--classifier-seeds', '0', '--json', file]);
    expect(z.status).toBe(2);
    expect(z.stderr).toMatch(/--classifier-seeds/);
    expect(existsSync(file)).toBe(false);
  });
});
