/**
 * Run folders as a user meets them (issue #19): the exact ε in every epoch line of a PRV run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
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
