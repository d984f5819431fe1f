// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * Audit runs as a user meets them (#20): `train --dp --audit-canaries M` writes the public plan, the secret
 * key in a file of its own (never in run.json) and the observations of every step; the card says the run is
 * not for release; a stopped-and-resumed audit run records the same observations as an uninterrupted one;
 * `audit` scores the canaries and bounds ε below the accountant's for a correct run, and far above it for a
 * run trained with clipping switched off; input canaries (noise images) train in as units and are scored
 * from the final model and from samples (a test-only break the CLI cannot reach); the options are refused
 * where they cannot apply.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canaryAudit } from '../../../src/audit/canary.js';
import { gdpEpsilonAtDelta } from '../../../eval/privacy/canary-bound-fdp.js';
import { initBackend } from '../../../src/backend/index.js';
import { trainRun, type RunConfig } from '../../../src/train/run.js';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
const TRAIN = ['--model', 'cvae', '--size', '28', '--batch-size', '64', '--seed', '3', '--dp', '--target-epsilon', '1'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-canary-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
});

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('an audit run', () => {
  it('keeps the key apart, records every step, and is bounded below the claim by audit', () => {
    const run = join(work, 'audit');
    const r = runCli(['train', '--data', data, '--out', run, ...TRAIN, '--epochs', '3', '--audit-canaries', '300', '--canary-seed', '9']);
    expect(r.status, r.stderr).toBe(0);
    const plan = json(join(run, 'canaries.json'));
    expect(plan.kind).toBe('gradient');
    expect(plan.coordinates).toHaveLength(300);
    const key = json(join(run, 'canary-key.json'));
    expect(key.included).toMatch(/^[01]{300}$/);
    const runJson = readFileSync(join(run, 'run.json'), 'utf8');
    expect(JSON.parse(runJson).auditCanaries).toEqual({ canaries: 300, kind: 'gradient' });
    expect(runJson).not.toContain(key.included);
    expect(JSON.stringify(plan)).not.toContain(key.included);
    const card = json(join(run, 'model-card.json'));
    expect(card.auditRun.notForRelease).toBe(true);
    expect(statSync(join(run, 'canary-observations.bin')).size).toBe(4 * 300 * card.privacy.steps);

    const out = join(work, 'audit.json');
    const a = runCli(['audit', '--model', run, '--data', data, '--attacks', 'control', '--bootstrap', '10', '--json', out]);
    expect(a.status, a.stderr).toBe(0);
    const c = json(out).canaryAudit;
    expect(c).toMatchObject({ kind: 'gradient', canaries: 300, delta: card.privacy.delta, confidence: 0.95 });
    expect(c.accountantEpsilon).toBe(card.privacy.epsilon);
    expect(c.correct).toBeLessThanOrEqual(c.guesses);
    expect(c.epsilonLowerBound).toBeGreaterThanOrEqual(0);
    expect(c.epsilonLowerBound).toBeLessThanOrEqual(c.accountantEpsilon);
    // The f-DP reading of the same guesses: its ε is the ε at δ of its μ (Gaussian family), stated with
    // its assumption, and it is what the printed line says.
    expect(c.gdp.epsilonAtDelta).toBeCloseTo(gdpEpsilonAtDelta(c.gdp.muLowerBound, c.delta), 9);
    expect(c.gdp.assumption).toMatch(/valid only if each canary's trade-off curve is mu-GDP/);
    expect(c.summary).toContain(`mu >= ${c.gdp.muLowerBound.toFixed(3)}, i.e. epsilon >= ${c.gdp.epsilonAtDelta.toFixed(2)}`);
    // A correct run against the curve its accounting claims (PRV profile at its q, σ, steps): not rejected.
    expect(c.claimTest).toMatchObject({ rejected: false });
    expect(c.claimTest.pValue).toBeGreaterThan(0.05);
    expect(c.claimTest.curve).toContain(`sigma ${card.privacy.noiseMultiplier}`);
    expect(c.summary).toMatch(/consistent with the trade-off curve the accounting claims/);
    expect(c.summary).not.toMatch(/broken/);
  });

  it('records the same observations when stopped after an epoch and resumed', () => {
    const whole = join(work, 'whole');
    const parts = join(work, 'parts');
    // A fixed σ: calibrated to a budget, a 1-epoch run would get another σ than a 2-epoch one.
    const fixed = ['--model', 'cvae', '--size', '28', '--batch-size', '64', '--seed', '3', '--dp', '--noise-multiplier', '1.5'];
    const args = (out: string, epochs: string) => ['train', '--data', data, '--out', out, ...fixed, '--epochs', epochs, '--audit-canaries', '50', '--canary-seed', '4'];
    expect(runCli(args(whole, '2')).status).toBe(0);
    expect(runCli(args(parts, '1')).status).toBe(0);
    const r = runCli(['train', '--resume', parts, '--epochs', '2']);
    expect(r.status, r.stderr).toBe(0);
    const a = readFileSync(join(whole, 'canary-observations.bin'));
    expect(a.length).toBeGreaterThan(0);
    expect(readFileSync(join(parts, 'canary-observations.bin')).equals(a)).toBe(true);
  });

  it('input canaries: included noise images join training as units; audit scores them white- and black-box', () => {
    const run = join(work, 'inputs');
    const r = runCli(['train', '--data', data, '--out', run, ...TRAIN, '--epochs', '1', '--audit-canaries', '40', '--canary-kind', 'input', '--canary-seed', '2']);
    expect(r.status, r.stderr).toBe(0);
    const plan = json(join(run, 'canaries.json'));
    expect(plan.kind).toBe('input');
    expect(plan.inputs.labels).toHaveLength(40);
    expect(existsSync(join(run, 'canary-observations.bin'))).toBe(false);
    const out = join(work, 'inputs-audit.json');
    const a = runCli(['audit', '--model', run, '--data', data, '--attacks', 'control', '--bootstrap', '10', '--json', out]);
    expect(a.status, a.stderr).toBe(0);
    const c = json(out).canaryAudit;
    expect(c).toMatchObject({ kind: 'input', canaries: 40 });
    expect(c.threatModel).toMatch(/^white-box, final model/);
    expect(c.blackBox.threatModel).toMatch(/^black-box/);
    expect(c.epsilonLowerBound).toBeLessThanOrEqual(c.accountantEpsilon);
    expect(c.blackBox.epsilonLowerBound).toBeLessThanOrEqual(c.accountantEpsilon);
  });

  it('refuses canaries without DP, on a one-shot generator, and a canary seed alone (one line, exit 2, no folder)', () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'cvae', '--size', '28', '--audit-canaries', '100'], /--audit-canaries audits a DP-SGD run/],
      [['--model', 'dpmerf', '--size', '28', '--dp', '--target-epsilon', '4', '--audit-canaries', '100'], /gradient canaries join DP-SGD steps/],
      [['--model', 'cvae', '--size', '28', '--canary-seed', '3'], /--canary-seed only applies with --audit-canaries/],
    ];
    cases.forEach(([extra, message], i) => {
      const out = join(work, `refused-${i}`);
      const r = runCli(['train', '--data', data, '--out', out, ...extra]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').filter((l) => l.includes('error'))).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    });
  });
});

describe('a deliberately broken DP-SGD (test build only)', () => {
  it('clipping switched off: the canary audit bounds ε far above the claim', async () => {
    const backend = await initBackend('wasm');
    const run = join(work, 'broken');
    const cfg: RunConfig = {
      model: 'cvae', data, size: 28, condition: ['label'], epochs: 3, batchSize: 64, seed: 3, splitSeed: 0, generator: {},
      dp: { targetEpsilon: 1, clipNorm: 1, accountant: 'rdp' },
      auditCanaries: { canaries: 300, kind: 'gradient', seed: 9, break: 'clipping' },
    };
    await trainRun(run, cfg, { backend, onWarning: () => {} });
    const card = json(join(run, 'model-card.json'));
    expect(card.auditRun.break).toMatch(/TEST BUILD/);
    const c = (await canaryAudit(run, card.privacy))!;
    expect(c.break).toBe('clipping');
    expect(c.epsilonLowerBound).toBeGreaterThan(card.privacy.epsilon);
    expect(c.summary).toMatch(/ABOVE the claim/);
    expect(c.gdp.epsilonAtDelta).toBeGreaterThan(card.privacy.epsilon); // the f-DP reading sees it too
    expect(c.claimTest).toMatchObject({ rejected: true }); // and the claimed curve is rejected
    expect(c.claimTest.rejected === true && c.claimTest.pValue < 0.05).toBe(true);
  }, 120_000);
});
