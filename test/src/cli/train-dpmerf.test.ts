// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth train --model dpmerf --dp` as a user runs it: one Gaussian release of the train split's
 * statistics, accounted as one step at sampling rate 1 (the claim equals the stand-alone accountant's), the
 * released noisy counts in conditions.json, fitting that never touches the budget again, and a resumed run
 * that ends with the same weights as an uninterrupted one (the release is not repeated).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
const SMALL = '{"frequencies":128,"perCell":8,"stepsPerEpoch":5}';
const TRAIN = ['--model', 'dpmerf', '--size', '28', '--condition', 'label,sex', '--seed', '5', '--model-config', SMALL];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-dpmerf-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('medsynth train --model dpmerf --dp', () => {
  it('releases once, claims one Gaussian release per patient, and writes the released counts', () => {
    const out = join(work, 'a');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '2', ...TRAIN, '--dp', '--target-epsilon', '4']);
    expect(r.status, r.stderr).toBe(0);
    const pv = readJson(join(out, 'model-card.json')).privacy;
    expect(pv.differentialPrivacy).toBe(true);
    expect(pv.unit).toBe('patient');
    expect(pv.sampleRate).toBe(1);
    expect(pv.steps).toBe(1);
    expect(pv.epsilon).toBeLessThanOrEqual(4);
    expect(pv.epsilon).toBeGreaterThan(3.9); // calibrated to the budget
    // One Gaussian release is accounted by PRV unless the user names an accountant: for one Gaussian
    // mechanism it is the exact bound, so σ is the analytic Gaussian mechanism's (test/src/privacy/prv.test.ts).
    expect(pv.claim).toMatch(/^\([\d.]+, [\de.-]+\)-DP per patient, PRV accountant, one Gaussian release$/);
    // The stand-alone accountant gives the same ε for one step at q = 1.
    const again = runCli(['privacy', 'epsilon', '--sample-rate', '1', '--noise-multiplier', String(pv.noiseMultiplier), '--steps', '1', '--delta', String(pv.delta), '--accountant', 'prv', '--json']);
    expect(JSON.parse(again.stdout).epsilon).toBeCloseTo(pv.epsilon, 10);
    // Fitting spends nothing: every epoch reports the release's ε.
    const eps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epsilon as number);
    expect(eps).toEqual([pv.epsilon, pv.epsilon]);
    // The counts come from the release (noisy), not from the data directly.
    const cond = readJson(join(out, 'conditions.json'));
    expect(cond.countsSource).toMatch(/differentially private release/);
    const total = cond.train.reduce((a: number, c: { count: number }) => a + c.count, 0);
    expect(total).toBeGreaterThan(0.5 * pv.units);
    expect(total).toBeLessThan(1.5 * pv.units);
    const s = runCli(['sample', '--model', out, '--n', '6', '--out', join(work, 'a-samples'), '--seed', '3']);
    expect(s.status, s.stderr).toBe(0);
  });

  it('resumes to the same weights as an uninterrupted run, without a second release', () => {
    const straight = join(work, 'straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '3', ...TRAIN, '--dp', '--target-epsilon', '4']).status).toBe(0);
    const parted = join(work, 'parted');
    expect(runCli(['train', '--data', data, '--out', parted, '--epochs', '1', ...TRAIN, '--dp', '--target-epsilon', '4']).status).toBe(0);
    const r = runCli(['train', '--resume', parted, '--epochs', '3']);
    expect(r.status, r.stderr).toBe(0);
    for (const net of readdirSync(straight).filter((f) => ['generator', 'release'].includes(f))) {
      expect(sha(join(parted, net, 'model.bin')), net).toBe(sha(join(straight, net, 'model.bin')));
    }
    expect(readJson(join(parted, 'model-card.json')).privacy.steps).toBe(1);
  });

  it('is what train --dp picks without --model, and the run records why', () => {
    const out = join(work, 'auto');
    const r = runCli(['train', '--data', data, '--out', out, '--size', '28', '--condition', 'label,sex', '--model-config', SMALL, '--dp', '--target-epsilon', '4']);
    expect(r.status, r.stderr).toBe(0);
    const run = readJson(join(out, 'run.json'));
    expect(run.model).toBe('dpmerf');
    expect(run.epochs).toBe(2); // the rule's epochs (under 1000 patients per class x sex cell), as --epochs was not given
    expect(run.generator.frequencies).toBe(128); // the user's options win over the rule's
    expect(run.selection.evidence).toBe('eval/results/private-generators.md');
    expect(r.stderr).toContain(`--model auto: ${run.selection.reason}`);
    expect(readJson(join(out, 'model-card.json')).training.config.selection.reason).toBe(run.selection.reason);
    const plain = runCli(['train', '--data', data, '--out', join(work, 'auto-nodp'), '--model', 'auto', '--size', '28']);
    expect(plain.status).toBe(2);
    expect(plain.stderr).toMatch(/--model auto picks a private generator: add --dp/);
  });

  it('keeps an accountant the user names: RDP calibrates a larger sigma than PRV for the same one release', () => {
    const out = join(work, 'rdp');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '1', ...TRAIN, '--dp', '--target-epsilon', '4', '--accountant', 'rdp']);
    expect(r.status, r.stderr).toBe(0);
    const rdp = readJson(join(out, 'model-card.json')).privacy;
    const prv = readJson(join(work, 'a', 'model-card.json')).privacy;
    expect(rdp.claim).toMatch(/RDP accountant, one Gaussian release$/);
    expect(rdp.delta).toBe(prv.delta);
    // At (4, 1e-5) one Gaussian release needs σ = 1.0812 exactly (analytic Gaussian mechanism, Balle & Wang
    // 2018, Thm. 8, bisected by hand); RDP's conversion asks 1.1576, 7% more.
    expect(rdp.noiseMultiplier / prv.noiseMultiplier).toBeGreaterThan(1.03);
    expect(rdp.noiseMultiplier / prv.noiseMultiplier).toBeLessThan(1.15);
  });

  it('refuses a clipping norm it does not use', () => {
    const r = runCli(['train', '--data', data, '--out', join(work, 'clip'), '--epochs', '1', ...TRAIN, '--dp', '--target-epsilon', '4', '--max-grad-norm', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--max-grad-norm 2: dpmerf releases unit-norm/);
  });
});
