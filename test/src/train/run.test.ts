// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * Run folders as a user meets them (issue #19): a resume after `kill -9` during a checkpoint write (no
 * repeated metrics line, no temporary folder left, nothing else touched), refusals of DP plans that cannot
 * mean anything (too few units, δ ≥ 1/N) and warnings that name what an empty split rules out, and the
 * exact ε in every epoch line of a PRV run.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { npyBytes, npzBytes } from '../../datasets/helpers.js';

let work: string;
let data: string;
const TRAIN = ['--model', 'cvae', '--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '5'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-run-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
});

const metrics = (run: string) => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; step: number; epsilon?: number });
const events = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

describe('resume after kill -9 during a checkpoint write', () => {
  it('drops the metrics line past the checkpoint and removes only its own temporary folder', () => {
    const run = join(work, 'killed');
    const r = runCli(['train', '--data', data, '--out', run, '--epochs', '2', ...TRAIN]);
    expect(r.status, r.stderr).toBe(0);
    // What kill -9 leaves while epoch 3's checkpoint is written: its metrics line is appended, and the new
    // checkpoint is half-built in writeDirAtomic's temporary folder (named after a process that is gone).
    const before = metrics(run);
    const perEpoch = before[1]!.step - before[0]!.step;
    appendFileSync(join(run, 'metrics.jsonl'), JSON.stringify({ ...before[1], epoch: 3, step: before[1]!.step + perEpoch }) + '\n');
    appendFileSync(join(run, 'metrics.jsonl'), '{"epoch":4,"st'); // and a line cut off mid-write
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const tmp = join(run, `.checkpoint.tmp-${dead}-${Date.now()}`);
    cpSync(join(run, 'checkpoint', 'encoder'), join(tmp, 'encoder'), { recursive: true });
    // A user's own files that only look alike: never touched.
    const mine = ['.checkpoint.tmp-notes', 'checkpoint.tmp-1-2'];
    for (const m of mine) mkdirSync(join(run, m));

    const resumed = runCli(['train', '--resume', run, '--epochs', '3']);
    expect(resumed.status, resumed.stderr).toBe(0);
    const after = metrics(run);
    expect(after.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(after.map((m) => m.step)).toEqual([perEpoch, 2 * perEpoch, 3 * perEpoch]);
    expect(existsSync(tmp)).toBe(false);
    expect(readdirSync(run).filter((f) => f.includes('.tmp-') || f.includes('.old-')).sort()).toEqual(mine.sort());
  });
});

describe('DP plans that cannot mean anything are refused; empty splits are named', () => {
  let one: string;
  let ten: string;
  beforeAll(() => {
    const lines = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n');
    one = join(data, 'one.csv');
    writeFileSync(one, lines.slice(0, 2).join('\n') + '\n');
    ten = join(data, 'ten.csv');
    writeFileSync(ten, lines.slice(0, 11).join('\n') + '\n');
  });

  it('refuses DP training on 1 image (too few units) and on 10 (also δ ≥ 1/N, on the real path), writing nothing', () => {
    const out = join(work, 'one-dp');
    const r = runCli(['train', '--data', one, '--out', out, '--epochs', '1', ...TRAIN, '--dp', '--target-epsilon', '8']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: .*N = 1 privacy unit \(patient\) in the train split; differential privacy needs at least 20/);
    expect(r.stderr).toMatch(/add data/);
    expect(existsSync(out)).toBe(false);
    // 10 images, 7 of them in the train split: δ = 0.5 ≥ 1/7 and too few units, both in one line.
    const d = runCli(['train', '--data', ten, '--out', out, '--epochs', '1', ...TRAIN, '--dp', '--noise-multiplier', '1', '--delta', '0.5', '--privacy-unit', 'image']);
    expect(d.status, d.stderr).toBe(2);
    expect(d.stderr.trim().split('\n').filter((l) => l.includes('error:'))).toHaveLength(1);
    expect(d.stderr).toMatch(/delta 0\.5 is not below 1\/N = 0\.\d+ for N = \d privacy units, so it promises nothing; .*N = \d privacy units \(image\) in the train split; differential privacy needs at least 20/);
    expect(existsSync(out)).toBe(false);
  });

  it('warns that a manifest with no holdout or test split allows no audit and no held-out evaluation', () => {
    const out = join(work, 'one');
    const r = runCli(['train', '--data', one, '--out', out, '--epochs', '1', ...TRAIN, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const end = events(r.stdout).at(-1)!;
    expect(end.warnings).toEqual([
      expect.stringMatching(/^the holdout split is empty: no membership audit possible/),
      expect.stringMatching(/^the test split is empty: no held-out utility or fairness evaluation/),
    ]);
    expect(JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8')).warnings).toEqual(end.warnings);
  });

  it('warns the same for an .npz with only training arrays', () => {
    const n = 24;
    const file = join(work, 'train-only.npz');
    const px = new Uint8Array(n * 28 * 28).map((_, i) => (i * 37) % 256);
    const labels = new Uint8Array(n).map((_, i) => i % 2);
    writeFileSync(file, npzBytes({ train_images: npyBytes('|u1', [n, 28, 28], px), train_labels: npyBytes('|u1', [n, 1], labels) }));
    const out = join(work, 'npz');
    const r = runCli(['train', '--data', file, '--out', out, '--epochs', '1', '--size', '28', '--batch-size', '12']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the holdout split is empty: no membership audit possible/);
    expect(r.stderr).toMatch(/warning: the test split is empty/);
  });
});

describe('PRV runs', () => {
  it('write the exact ε after every epoch, not the throttled progress value', () => {
    const out = join(work, 'prv');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '3', ...TRAIN, '--dp', '--noise-multiplier', '1.5', '--accountant', 'prv', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8')).privacy;
    const lines = metrics(out);
    expect(lines).toHaveLength(3);
    const epochEvents = events(r.stdout).filter((e) => e.event === 'epoch');
    for (const [k, m] of lines.entries()) {
      const exact = runCli(['privacy', 'epsilon', '--accountant', 'prv', '--sample-rate', String(card.sampleRate), '--noise-multiplier', '1.5', '--steps', String(m.step), '--delta', String(card.delta), '--json']);
      expect(m.epsilon, `epoch ${m.epoch}`).toBeCloseTo(JSON.parse(exact.stdout).epsilon, 10);
      expect(epochEvents[k]!.epsilon).toBe(m.epsilon);
    }
  });
});
