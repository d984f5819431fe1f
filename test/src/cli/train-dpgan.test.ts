// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth train --model dpgan` as a user runs it: DP by default (ε 10, patients), DP-SGD on the
 * discriminator only as the model card says, a loud non-private baseline with --no-dp, sampling and
 * resume through the same CLI as the cVAE.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
const TRAIN = ['--model', 'dpgan', '--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '4'];
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-dpgan-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '6']).status).toBe(0);
});

describe('medsynth train --model dpgan', () => {
  it('trains with DP on the discriminator by default and samples through the same CLI', () => {
    const out = join(work, 'gan');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '2', ...TRAIN]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/privacy budget: epsilon 10 \(the dpgan default/);
    expect(r.stderr).toMatch(/epoch 2: loss [\d.]+ +d_real [\d.]+ .*eps [\d.]+/);
    const card = readJson(join(out, 'model-card.json'));
    expect(card.generator.type).toBe('dpgan');
    // Under DP the CLI's default is 10 D steps per G step (the model's own default, used with --no-dp, is 1).
    expect(card.generator.config.dSteps).toBe(10);
    expect(card.generator.config.fakeConditions).toBe('paired');
    // run.json holds the fully resolved options (defaults included), so a later default change cannot alter the run.
    expect(readJson(join(out, 'run.json')).generator).toEqual(card.generator.config);
    expect(card.generator.config).toMatchObject({ gUpsample: 'resize', emaDecay: 0.995 });
    const pv = card.privacy;
    expect(pv.differentialPrivacy).toBe(true);
    expect(pv.unit).toBe('patient');
    expect(pv.epsilon).toBeLessThanOrEqual(10);
    expect(pv.privateModule.length).toBeGreaterThan(0);
    expect(pv.privateModule.every((n: string) => n.startsWith('discriminator/'))).toBe(true);
    const s = runCli(['sample', '--model', out, '--n', '6', '--out', join(work, 'gan-samples'), '--seed', '1', '--label', 'disease']);
    expect(s.status, s.stderr).toBe(0);
    const rows = readFileSync(join(work, 'gan-samples', 'manifest.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(7);
    expect(rows.slice(1).every((l) => l.includes(',disease,'))).toBe(true);
  });

  it('says loudly when it is not private (--no-dp)', () => {
    const out = join(work, 'gan-nodp');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '1', ...TRAIN, '--no-dp']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: --no-dp: this DP-GAN is NOT differentially private/);
    const card = readJson(join(out, 'model-card.json'));
    expect(card.privacy.differentialPrivacy).toBe(false);
    expect(card.privacy.warning).toMatch(/^NOT PRIVATE/);
    expect(card.generator.config.dSteps).toBe(1);
  });

  it('resumes to the same weights as an uninterrupted run', () => {
    const args = [...TRAIN, '--noise-multiplier', '1.0', '--d-steps', '2'];
    const straight = join(work, 'gan-straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '2', ...args]).status).toBe(0);
    const cut = join(work, 'gan-cut');
    expect(runCli(['train', '--data', data, '--out', cut, '--epochs', '1', ...args]).status).toBe(0);
    const r = runCli(['train', '--resume', cut, '--epochs', '2']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['generator/model.bin', 'discriminator/model.bin']) expect(sha(join(cut, f)), f).toBe(sha(join(straight, f)));
  });

  it('resumes an adaptive D-step schedule where it was: same weights, schedule state in the checkpoint', () => {
    // threshold 1 and grace 1: the ratio moves up a rung after every G step, so a resume that lost the
    // schedule's position (or G's step count) would take different steps.
    // It starts at 1 D step per G step (set here: the DP default start would be 10).
    const cfg = JSON.stringify({ dStepsSchedule: 'adaptive', adaptiveThreshold: 1, adaptiveGrace: 1, dSteps: 1 });
    const args = [...TRAIN, '--noise-multiplier', '1.0', '--model-config', cfg];
    const straight = join(work, 'gan-adaptive-straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '2', ...args]).status).toBe(0);
    const cut = join(work, 'gan-adaptive-cut');
    expect(runCli(['train', '--data', data, '--out', cut, '--epochs', '1', ...args]).status).toBe(0);
    const saved = readJson(join(cut, 'checkpoint', 'optimizer.json')).state;
    expect(saved.dSteps).toBeGreaterThan(1);
    expect(saved.generatorSteps).toBeGreaterThan(0);
    const r = runCli(['train', '--resume', cut, '--epochs', '2']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['generator/model.bin', 'discriminator/model.bin']) expect(sha(join(cut, f)), f).toBe(sha(join(straight, f)));
  });

  it('takes generator options from --model-config (inline JSON or a file), refusing unknown ones before writing anything', () => {
    const out = join(work, 'gan-config');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '1', ...TRAIN, '--model-config', '{"emaDecay":0.9,"dSteps":3}']);
    expect(r.status, r.stderr).toBe(0);
    const cfg = readJson(join(out, 'model-card.json')).generator.config;
    expect(cfg.emaDecay).toBe(0.9);
    expect(cfg.dSteps).toBe(3); // no --d-steps flag: the config file's value, not the DP default
    const file = join(work, 'bad-config.json');
    writeFileSync(file, '{"emaDecay":0.9,"nope":1}');
    const bad = runCli(['train', '--data', data, '--out', join(work, 'gan-bad'), '--epochs', '1', ...TRAIN, '--model-config', file]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n').pop()).toMatch(/dpgan option .*nope|Unrecognized key.*nope/);
    expect(existsSync(join(work, 'gan-bad'))).toBe(false);
    const broken = runCli(['train', '--data', data, '--out', join(work, 'gan-bad'), '--epochs', '1', ...TRAIN, '--model-config', '{emaDecay: 0.9}']);
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toMatch(/--model-config .*is not valid JSON/);
  });
});
