// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth train --dp` as a user runs it: a DP cVAE within its budget with the model card's privacy
 * fields, patient units by default, ε per epoch, withheld condition counts, stopping before the budget is
 * exceeded, exact resume, the validators' one-line refusals (writing nothing), and sampling a DP run.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
const TRAIN = ['--model', 'cvae', '--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '5'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-dp-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** The closing JSON object of `train --json`: its last JSON line (every line is one JSON object). */
const endEvent = (stdout: string) => {
  const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  expect(events.at(-1)!.event).toBe('end');
  return events.at(-1)!;
};

describe('medsynth train --dp', () => {
  it('trains a DP cVAE within the budget, per patient by default, and records the claim in the model card', () => {
    const out = join(work, 'dp-a');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '3', ...TRAIN, '--dp', '--target-epsilon', '8', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const end = endEvent(r.stdout);
    expect(end.privacy.unit).toBe('patient');
    expect(end.privacy.epsilon).toBeLessThanOrEqual(8);
    expect(end.privacy.epsilon).toBeGreaterThan(4); // calibrated to the budget, not far below it
    const card = readJson(join(out, 'model-card.json'));
    const pv = card.privacy;
    expect(pv.differentialPrivacy).toBe(true);
    expect(pv.unit).toBe('patient');
    expect(pv.accountant).toBe('rdp');
    expect(pv.delta).toBeLessThan(1 / pv.units);
    expect(pv.noiseCalibrated).toBe(true);
    expect(pv.sampling).toBe('Poisson');
    expect(pv.steps).toBe(pv.plannedSteps);
    expect(pv.claim).toMatch(/^\([\d.]+, [\de.-]+\)-DP per patient, RDP accountant, \d+ DP-SGD steps$/);
    expect(pv.doesNotCover.length).toBeGreaterThan(2);
    // The same claim recomputed by the stand-alone accountant.
    const again = runCli(['privacy', 'epsilon', '--sample-rate', String(pv.sampleRate), '--noise-multiplier', String(pv.noiseMultiplier), '--steps', String(pv.steps), '--delta', String(pv.delta), '--json']);
    expect(JSON.parse(again.stdout).epsilon).toBeCloseTo(pv.epsilon, 10);
    // ε after every epoch, increasing, never above the target.
    const eps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epsilon as number);
    expect(eps).toHaveLength(3);
    for (let i = 1; i < eps.length; i++) expect(eps[i]!).toBeGreaterThan(eps[i - 1]!);
    expect(eps[2]).toBeCloseTo(pv.epsilon, 10);
    // Condition counts are statistics of the private data: withheld.
    const cond = readJson(join(out, 'conditions.json'));
    expect(cond.train).toEqual([]);
    expect(cond.countsWithheld).toMatch(/differential privacy/);
    // Samples from a DP run: open conditions drawn uniformly.
    const s = runCli(['sample', '--model', out, '--n', '8', '--out', join(work, 'dp-a-samples'), '--seed', '3']);
    expect(s.status, s.stderr).toBe(0);
    expect(readFileSync(join(work, 'dp-a-samples', 'manifest.csv'), 'utf8').trim().split('\n')).toHaveLength(9);
  });

  it('protects images when asked, and shows epsilon in the progress output', () => {
    const out = join(work, 'dp-img');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '1', ...TRAIN, '--dp', '--target-epsilon', '5', '--privacy-unit', 'image', '--accountant', 'rdp']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 1: loss [\d.]+ .* eps [\d.]+/);
    expect(r.stderr).toMatch(/privacy: \(epsilon [\d.]+, delta [\de.-]+\)-DP per image, RDP accountant/);
    const pv = readJson(join(out, 'model-card.json')).privacy;
    expect(pv.unit).toBe('image');
    expect(pv.units).toBeGreaterThan(100); // images, not patients
  });

  it('stops before the budget would be exceeded when the noise is fixed too low', () => {
    const out = join(work, 'dp-budget');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '20', ...TRAIN, '--dp', '--noise-multiplier', '1.5', '--target-epsilon', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const end = endEvent(r.stdout);
    expect(end.status).toBe('budget');
    const pv = readJson(join(out, 'model-card.json')).privacy;
    expect(pv.stoppedByBudget).toBe(true);
    expect(pv.steps).toBeLessThan(pv.plannedSteps);
    expect(pv.epsilon).toBeLessThanOrEqual(3);
    const next = runCli(['privacy', 'epsilon', '--sample-rate', String(pv.sampleRate), '--noise-multiplier', '1.5', '--steps', String(pv.steps + 1), '--delta', String(pv.delta), '--json']);
    expect(JSON.parse(next.stdout).epsilon).toBeGreaterThan(3);
  });

  it('resumes a DP run to the same weights as an uninterrupted one', () => {
    const straight = join(work, 'dp-straight');
    const args = [...TRAIN, '--dp', '--noise-multiplier', '1.2'];
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '2', ...args]).status).toBe(0);
    const cut = join(work, 'dp-cut');
    expect(runCli(['train', '--data', data, '--out', cut, '--epochs', '1', ...args]).status).toBe(0);
    const r = runCli(['train', '--resume', cut, '--epochs', '2']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['encoder/model.bin', 'decoder/model.bin']) expect(sha(join(cut, f)), f).toBe(sha(join(straight, f)));
    expect(readJson(join(cut, 'model-card.json')).privacy.epsilon).toBeCloseTo(readJson(join(straight, 'model-card.json')).privacy.epsilon, 12);
  });

  it('refuses setups that break the guarantee with one line, writing nothing', () => {
    const cases: [string[], RegExp][] = [
      [['--dp', '--target-epsilon', '8', '--delta', '0.2'], /delta 0\.2 is not below 1\/N = .* privacy units, so it promises nothing; use --delta/],
      [['--dp'], /--dp needs a budget: give --target-epsilon/],
      [['--target-epsilon', '8'], /--target-epsilon only applies with --dp/],
      [['--dp', '--target-epsilon', '0.000001'], /--target-epsilon 0\.000001: not reachable/],
    ];
    cases.forEach(([extra, message], k) => {
      const out = join(work, `dp-bad-${k}`);
      const r = runCli(['train', '--data', data, '--out', out, '--epochs', '2', ...TRAIN, ...extra]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => l.includes('error:'))).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out), out).toBe(false);
    });
  });
});
