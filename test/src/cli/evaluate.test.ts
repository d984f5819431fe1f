// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth evaluate` as a user runs it, on a tiny phantom, a 1-epoch cVAE and 60 samples: the report
 * sections on stdout, the JSON file with seeds, extractor, fingerprints and split sizes (and no image path
 * or patient id), the oversampling baseline (d) and the comparisons over classifier seeds, (c) from
 * --augmented, same seed → same numbers, and one-line errors that write nothing; the learned-at-all
 * evidence and the fairness intervals over large-enough groups; a balance folder as --synthetic (its
 * synthetic=1 rows only, at the generator's size).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { detectSize } from '../../../src/evaluate/evaluate.js';
import { syntheticSource } from '../../../src/evaluate/synthetic-source.js';

let work: string;
let data: string;
let samples: string;
let cache: string;
let first: Record<string, any>;

const FAST = ['--features', 'pixel-pca', '--classifier-steps', '10'];

/**
 * A manifest in `dir` listing real rows (by reference into the phantom) and, optionally, the samples; with
 * `syntheticSex` false their sex is left empty, as balance writes the rows of a model not conditioned on it.
 */
function augmentedFolder(dir: string, keep: (split: string) => boolean, withSynthetic: boolean, syntheticSex = true): void {
  const split = new Map(readFileSync(join(work, 'run', 'splits.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
  const real = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const lines = ['path,label,label_name,sex,synthetic'];
  for (const [path, label, name, sex] of real) if (keep(split.get(path!)!)) lines.push(`../phantom/${path},${label},${name},${sex},0`);
  if (withSynthetic) {
    for (const row of readFileSync(join(samples, 'manifest.csv'), 'utf8').trim().split('\n').slice(1)) {
      const [path, label, name, sex] = row.split(',');
      lines.push(`../samples/${path},${label},${name},${syntheticSex ? sex : ''},1`);
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
    // Progress on stderr (#19.17): every stage's start, and the bar at the end.
    for (const stage of ['features (1/5): pixel-pca', 'fidelity (2/5): ', 'utility (3/5): training the evaluation classifier 4 ways x 3 seeds', 'diversity (4/5): ', 'fairness (5/5): ']) {
      expect(r.stderr).toContain(`\n${stage}`);
    }
    expect(r.stderr).toContain('[####################] 100%  done; fairness 5/5 100%: done');
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
    expect(r.stdout).toMatch(/Did the generator learn\? \(pixel-pca features; 36 samples vs 36 real test images/);
    expect(r.stdout).toMatch(/distinct nearest records +\d+ +\d+ /);
    expect(r.stdout).toMatch(/learned: (yes|NO)/);
    expect(r.stdout).toMatch(/Fairness over groups with >= 20 real test images \(95% bootstrap intervals, 1000 replicates stratified by group/);
    // 36 test images: 11 female, 25 male; female is below 20, so one group is left and no fairness figure.
    expect(r.stdout).toMatch(/excluded: sex=female \(11\)\n  fewer than 2 groups are large enough: no fairness figure/);
    // A 1-epoch cVAE collapses: the evidence says so.
    expect(r.stdout).toMatch(/learned: NO - 36 samples have \d distinct nearest real training images/);
    expect(r.stdout).toMatch(/KID: KID is shown x 1000/);
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
    // Learned-at-all evidence: M = min(60 synthetic, 36 test), against the real train split.
    expect(first.learned).toMatchObject({ m: 36, seed: first.seeds.learned, thresholds: { distinctRatio: 0.25, modeCoverageRatio: 0.3 } });
    expect(first.learned.distinctNearest.reference).toBeGreaterThan(10);
    expect(first.learned.modeCoverage.k).toBe(16);
    expect(typeof first.learned.learned).toBe('boolean');
    expect(first.learned.reasons.length === 0).toBe(first.learned.learned);
    // Fairness: groups of the 36 test images; all four ways; (c) - (a).
    expect(first.fairness).toMatchObject({ minGroup: 20, replicates: 1000, confidence: 0.95, groups: ['female', 'male'] });
    expect(first.fairness.groupSizes.reduce((a: number, b: number) => a + b, 0)).toBe(36);
    expect(first.fairness.ways.map((w: { key: string }) => w.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(first.fairness.groupSizes).toEqual([11, 25]);
    expect(first.fairness.eligible).toEqual([1]);
    expect(first.fairness.excluded).toEqual([{ group: 0, n: 11 }]);
    expect(first.learned.collapsed).toBe(true);
    expect(first.utility.ways[0].reports[0].confusion).toHaveLength(2);
    expect(first.image).toMatchObject({ size: 28, sizeFrom: 'the first synthetic image' });
    // Aggregates only: no image path, no patient identifier.
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/ph_\d+|syn_\d+|P\d{5}/);
  });

  it('takes (c) from --augmented and gives the same numbers for the same seed', () => {
    const aug = join(work, 'augmented');
    augmentedFolder(aug, (s) => s === 'train', true);
    const r = runCli(['evaluate', '--real', data, '--synthetic', samples, '--augmented', aug, ...FAST, '--cache-dir', cache, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/utility \(3\/5\)|\] +\d+%/); // --json on stdout: no progress lines
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

  it('reads only the synthetic=1 rows of a balance folder, at the size the generator was trained at', () => {
    // Real rows point at a 64 px copy of the data (as balance's rows point at 224 px originals); the
    // synthetic rows are the 28 px samples; plan.json names the run, as balance writes it.
    const big = join(work, 'phantom64');
    expect(runCli(['data', 'phantom', '--out', big, '--n', '240', '--size', '64', '--seed', '2']).status).toBe(0);
    const bal = join(work, 'balanced');
    augmentedFolder(bal, (s) => s === 'train', true);
    writeFileSync(join(bal, 'manifest.csv'), readFileSync(join(bal, 'manifest.csv'), 'utf8').replaceAll('../phantom/', '../phantom64/'));
    const src = syntheticSource(bal);
    try {
      expect(src.rows).toEqual({ total: 227, synthetic: 60 });
      expect(src.run).toBeNull();
      expect(detectSize(src.loadPath)).toBe(28); // the first synthetic image, not the first (64 px) row
    } finally {
      src.cleanup();
    }
    expect(existsSync(src.loadPath)).toBe(false);

    writeFileSync(join(bal, 'plan.json'), JSON.stringify({ model: join(work, 'run') }));
    const r = runCli(['evaluate', '--real', data, '--synthetic', bal, ...FAST, '--classifier-seeds', '1', '--min-group', '10', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.datasets.synthetic).toMatchObject({ n: 60, rows: { total: 227, synthetic: 60 }, perClass: first.datasets.synthetic.perClass });
    expect(j.image.size).toBe(28);
    expect(j.image.sizeFrom).toMatch(/the generator's run \(.*run\/run\.json\)/);
    // --min-group 10: both groups of the 36 test images count, with intervals of (c) - (a).
    expect(j.fairness.minGroup).toBe(10);
    expect(j.fairness.eligible).toEqual([0, 1]);
    const d = j.fairness.differences[0];
    expect(d.of).toEqual(['c', 'a']);
    expect(d.worstGroupAccuracy.lo).toBeLessThanOrEqual(d.worstGroupAccuracy.estimate);
    expect(d.worstGroupAccuracy.hi).toBeGreaterThanOrEqual(d.worstGroupAccuracy.estimate);
    // The same synthetic rows as the sample folder: the same fidelity numbers.
    expect(j.fidelity.rows[0].synthetic.values.fid).toBeCloseTo(first.fidelity.rows[0].synthetic.values.fid, 6);
  });

  it('reads a balance folder whose synthetic rows have no sex (a model conditioned on the class only) without groups', () => {
    // Before: "sex='missing' is not a value of the real data", exit 2, for train --condition label then balance.
    const bal = join(work, 'balanced-label-only');
    augmentedFolder(bal, (s) => s === 'train', true, false);
    const r = runCli(['evaluate', '--real', data, '--synthetic', bal, '--augmented', bal, ...FAST, '--classifier-seeds', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.datasets.synthetic.n).toBe(60);
    expect(j.diversity.cells.synthetic).toBeNull();
    expect(j.diversity.cells.augmented).toBeNull();
    expect(j.diversity.cells.notes.join(' ')).toMatch(/synthetic: no sex value on some or all rows/);
    // (d) replaces the synthetic rows by real duplicates of their class, as they carry no group to match.
    expect(j.utility.oversampling.matchedOn).toBe('class');
    expect(j.utility.ways[3].trainImages).toBe(227);
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
