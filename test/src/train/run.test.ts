/**
 * Run folders as a user meets them (issue #19): a resume after `kill -9` during a checkpoint write (no
 * repeated metrics line, no temporary folder left, nothing else touched), and the exact ε in every epoch
 * line of a PRV run.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

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
