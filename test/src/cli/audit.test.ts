// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth audit` as a user runs it, with the three sanity checks of the audit (seeds fixed):
 *  1. power: a deliberately overfit non-DP cVAE (about 200 phantom images at 28 px, many epochs, weak
 *     KL) is caught: the best attack reaches AUC >= 0.7;
 *  2. honesty under DP: a DP cVAE at epsilon <= 1 is not: best AUC <= 0.6, and every empirical epsilon
 *     lower bound stays below the accountant's epsilon;
 *  3. chance: the random-score control has AUC ≈ 0.5 inside its CI and an epsilon bound of ~0.
 * Plus: the JSON holds no image ids or patient ids, the table, and one-line user errors that write nothing.
 *
 * Data: 600 phantom images with a manifest split column (patients in thirds: ~200 train, ~200 holdout,
 * ~200 test), so members, non-members and the reference set are each about 200 images.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
let overfitRun: string;
const BASE = ['--size', '28', '--condition', 'label,sex', '--seed', '5'];
/** Overfitting on purpose: small data, many epochs, small batches, a high learning rate and a weak KL. */
const OVERFIT = ['--epochs', '60', '--batch-size', '8', '--beta', '0.1', '--lr', '0.003'];
/** The same model at epsilon <= 1 per patient (the phantom's privacy unit). */
const DP = ['--model', 'cvae', '--epochs', '10', '--batch-size', '64', '--beta', '0.1', '--lr', '0.003', '--dp', '--target-epsilon', '1'];

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** Adds a split column to the phantom manifest: patient k (in id order) → train, holdout, test by k mod 3. */
function splitByPatient(dir: string): void {
  const path = join(dir, 'manifest.csv');
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const p = header.indexOf('patient_id');
  const rows = lines.slice(1).map((l) => l.split(','));
  const patients = [...new Set(rows.map((r) => r[p]!))].sort();
  const index = new Map(patients.map((id, k) => [id, k]));
  const names = ['train', 'holdout', 'test'];
  writeFileSync(path, [[...header, 'split'].join(','), ...rows.map((r) => [...r, names[index.get(r[p]!)! % 3]].join(','))].join('\n') + '\n');
}

/** Room for a machine shared with other jobs; on an idle 2-core machine the hook takes well under a minute. */
const SLOW = 900_000;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-audit-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '600', '--size', '28', '--seed', '2']).status).toBe(0);
  splitByPatient(data);
  overfitRun = join(work, 'overfit');
  const r = runCli(['train', '--data', data, '--out', overfitRun, ...BASE, ...OVERFIT]);
  expect(r.status, r.stderr).toBe(0);
}, SLOW);

describe('medsynth audit', () => {
  it('catches a deliberately overfit non-DP cVAE (best AUC >= 0.7), and writes no identifiers', () => {
    const json = join(work, 'overfit-audit.json');
    const r = runCli(['audit', '--model', overfitRun, '--data', data, '--json', json, '--bootstrap', '300', '--seed', '3']);
    expect(r.status, r.stderr).toBe(0);
    const a = readJson(json);
    expect(a.sizes.members).toBe(a.sizes.nonMembers);
    expect(a.sizes.members).toBeGreaterThan(180);
    expect(a.sizes.reference).toBeGreaterThan(180);
    expect(a.sizes.synthetic).toBe(a.sizes.members);
    expect(a.seeds).toEqual({ audit: 3, split: 1, training: 5 });
    expect(a.privacy.differentialPrivacy).toBe(false);
    expect(a.attacks.map((x: { name: string }) => x.name)).toEqual([
      'gan-leaks-pixel',
      'gan-leaks-feature',
      'logan-black-box',
      'domias',
      'cvae-elbo',
      'cvae-reconstruction',
      'random-control',
    ]);
    expect(a.best.auc).toBeGreaterThanOrEqual(0.7);
    expect(a.dcr).toHaveLength(2);
    for (const x of a.attacks) {
      expect(x.overall.auc.lower).toBeLessThanOrEqual(x.overall.auc.estimate);
      expect(x.overall.auc.upper).toBeGreaterThanOrEqual(x.overall.auc.estimate);
      // Groups of the conditioning variables: label (healthy / disease) and sex.
      expect(new Set(x.groups.map((g: { variable: string }) => g.variable))).toEqual(new Set(['label', 'sex']));
    }
    // Nothing that identifies an image or a patient.
    const text = readFileSync(json, 'utf8');
    expect(text).not.toMatch(/ph_\d{6}|P\d{5}/);
    // The table on stdout.
    expect(r.stdout).toMatch(/attack\s+AUC \[95% CI\]\s+TPR@1%FPR\s+TPR@0.1%FPR\s+max adv\s+eps_lb/);
    expect(r.stdout).toMatch(/DCR share \(pixel\): [\d.]+% of \d+ synthetic samples/);
    expect(r.stdout).toMatch(/WITHOUT differential privacy/);
  }, SLOW);

  it('random scores (the control): AUC ≈ 0.5 inside its CI, epsilon bound ≈ 0', () => {
    const json = join(work, 'control.json');
    const r = runCli(['audit', '--model', overfitRun, '--data', data, '--attacks', 'control', '--json', json, '--bootstrap', '500', '--seed', '4', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const c = readJson(json).attacks[0];
    expect(c.name).toBe('random-control');
    expect(c.overall.auc.lower).toBeLessThanOrEqual(0.5);
    expect(c.overall.auc.upper).toBeGreaterThanOrEqual(0.5);
    expect(Math.abs(c.overall.auc.estimate - 0.5)).toBeLessThan(0.08);
    expect(c.overall.epsilon.epsilon).toBeLessThan(0.5);
    expect(readJson(json).sizes.synthetic).toBe(0); // no sampling needed for the control
  }, SLOW);

  it('does not catch a DP cVAE at epsilon <= 1 (best AUC <= 0.6), and eps_lb <= the accountant epsilon', () => {
    const run = join(work, 'dp');
    const t = runCli(['train', '--data', data, '--out', run, ...BASE, ...DP]);
    expect(t.status, t.stderr).toBe(0);
    const json = join(work, 'dp-audit.json');
    const r = runCli(['audit', '--model', run, '--data', data, '--json', json, '--bootstrap', '300', '--seed', '3', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const a = readJson(json);
    expect(a.privacy.differentialPrivacy).toBe(true);
    expect(a.privacy.epsilon).toBeLessThanOrEqual(1);
    expect(a.settings.delta).toBe(a.privacy.delta);
    expect(a.best.auc).toBeLessThanOrEqual(0.6);
    for (const x of a.attacks) expect(x.overall.epsilon.epsilon).toBeLessThanOrEqual(a.privacy.epsilon);
    expect(r.stdout).toMatch(/accountant: epsilon = [\d.]+, delta = [\de.-]+ per patient \(rdp\)/);
  }, SLOW);

  it('refuses data that is not the run\'s, and unknown attack families, in one line, writing nothing', () => {
    const other = join(work, 'other');
    expect(runCli(['data', 'phantom', '--out', other, '--n', '60', '--size', '28', '--seed', '9']).status).toBe(0);
    const json = join(work, 'never.json');
    const r = runCli(['audit', '--model', overfitRun, '--data', other, '--json', json]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^medsynth: error: --data .*not the data run .* was trained on/);
    expect(existsSync(json)).toBe(false);
    const bad = runCli(['audit', '--model', overfitRun, '--data', data, '--attacks', 'distance,telepathy']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--attacks distance,telepathy: unknown attack family 'telepathy'/);
  }, SLOW);
});
