// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * What scripts and a user's folders can rely on (issue 19): `report --out` never deletes a folder that
 * medsynth did not write (`--force` replaces only an earlier report), `reconstruct --out` never overwrites
 * a file, a signal stops `train` with a checkpoint and exit 128 + n, `--json` means JSON on stdout or
 * `--json FILE` on every command (train: JSON lines to the end), and every `--help` has an example and
 * marks the required options.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { BIN, runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
let run: string;
const TRAIN = ['--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '5'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-outputs-'));
  data = join(work, 'phantom');
  run = join(work, 'run');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '200', '--size', '28', '--seed', '2']).status).toBe(0);
  const t = runCli(['train', '--data', data, '--out', run, '--epochs', '1', ...TRAIN]);
  expect(t.status, t.stderr).toBe(0);
});

/** A user error: exit 2, one `medsynth: error:` line (besides `backend:`), matching `pattern`. */
function expectUserError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('backend: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^medsynth: error: /);
  expect(lines[0]).toMatch(pattern);
}

const listing = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

describe('report --out', () => {
  it('refuses a non-empty folder it did not write, even with --force, and leaves it as it was', () => {
    const before = listing(data);
    expectUserError(runCli(['report', '--run', run, '--out', data]), /--out .*phantom already exists and was not written by medsynth; choose a new folder/);
    expectUserError(runCli(['report', '--run', run, '--out', data, '--force']), /--out .*phantom already exists and was not written by medsynth/);
    expect(listing(data)).toEqual(before);
  });

  it('writes its marker, refuses its own earlier report without --force, and replaces it with --force', () => {
    const out = join(work, 'report');
    expect(runCli(['report', '--run', run, '--out', out]).status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, '.medsynth-output.json'), 'utf8')).writtenBy).toBe('medsynth report');
    writeFileSync(join(out, 'note.txt'), 'mine');
    expectUserError(runCli(['report', '--run', run, '--out', out]), /--out .*report already holds an earlier medsynth report output; choose a new folder, or add --force/);
    expect(existsSync(join(out, 'note.txt'))).toBe(true);
    const r = runCli(['report', '--run', run, '--out', out, '--force', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).out).toBe(out);
    expect(existsSync(join(out, 'note.txt'))).toBe(false);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
  });

  it('writes into an existing empty folder', () => {
    const out = join(work, 'empty-report');
    mkdirSync(out);
    expect(runCli(['report', '--run', run, '--out', out]).status).toBe(0);
    expect(existsSync(join(out, 'report.md'))).toBe(true);
  });
});

describe('reconstruct --out', () => {
  it('refuses an existing file and leaves it unchanged', () => {
    const out = join(work, 'mine.png');
    writeFileSync(out, 'my own file');
    expectUserError(runCli(['reconstruct', '--model', run, '--n', '4', '--out', out]), /--out .*mine\.png already exists; choose a new file name/);
    expect(readFileSync(out, 'utf8')).toBe('my own file');
  });
});

/** Spawns `train`, sends `signal` after the first epoch line, and resolves with the exit code and output. */
function trainUntilSignal(args: string[], signal: NodeJS.Signals, firstEpoch: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'train', ...args], { env: { ...process.env, MEDSYNTH_BACKEND: '' } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const check = () => {
      if (!sent && firstEpoch.test(stdout + stderr)) {
        sent = true;
        child.kill(signal);
      }
    };
    child.stdout.on('data', (d) => ((stdout += d), check()));
    child.stderr.on('data', (d) => ((stderr += d), check()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('train stopped by a signal', () => {
  it('exits 130 on SIGINT after writing the checkpoint', async () => {
    const out = join(work, 'run-int');
    const r = await trainUntilSignal(['--data', data, '--out', out, '--epochs', '200', ...TRAIN], 'SIGINT', /^epoch 1: /m);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stopped at step \d+; continue with: medsynth train --resume/);
    expect(existsSync(join(out, 'checkpoint', 'state.json'))).toBe(true);
    expect(existsSync(join(out, 'model-card.json'))).toBe(false);
  }, 120_000);

  it('exits 143 on SIGTERM, with the stop in the last JSON line and the checkpoint at that step', async () => {
    const out = join(work, 'run-term');
    const r = await trainUntilSignal(['--data', data, '--out', out, '--epochs', '200', ...TRAIN, '--json'], 'SIGTERM', /^\{"event":"epoch"/m);
    expect(r.code, r.stderr).toBe(143);
    const end = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(end).toMatchObject({ event: 'end', status: 'stopped', signal: 'SIGTERM' });
    expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).step).toBe(end.step);
  }, 120_000);
});

describe('--json', () => {
  it('train --json prints JSON lines to the end, and --json FILE writes the same lines there', () => {
    const r = runCli(['train', '--data', data, '--out', join(work, 'run-json'), '--epochs', '2', ...TRAIN, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(['epoch', 'epoch', 'end']);
    expect(events[2].status).toBe('done');
    const file = join(work, 'train.jsonl');
    const f = runCli(['train', '--data', data, '--out', join(work, 'run-json-file'), '--epochs', '2', ...TRAIN, '--json', file]);
    expect(f.status, f.stderr).toBe(0);
    expect(f.stdout).toBe('');
    expect(f.stderr).toMatch(/^epoch 2: /m); // the human output stays when JSON goes to a file
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).event)).toEqual(['epoch', 'epoch', 'end']);
  });

  it('audit --json prints the result on stdout, without needing a file', () => {
    const r = runCli(['audit', '--model', run, '--data', data, '--attacks', 'control', '--bootstrap', '20', '--quiet', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.attacks.map((a: { name: string }) => a.name)).toEqual(['random-control']);
    expect(j.backend.name).toBe('wasm');
  });

  it('--json FILE writes the file on other commands too (privacy, data inspect)', () => {
    const eps = join(work, 'eps.json');
    const p = runCli(['privacy', 'epsilon', '--sample-rate', '0.01', '--noise-multiplier', '1.1', '--steps', '100', '--delta', '1e-5', '--json', eps]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^epsilon \d/); // the human line, since the JSON went to the file
    expect(JSON.parse(readFileSync(eps, 'utf8')).epsilon).toBeGreaterThan(0);
    const ins = join(work, 'inspect.json');
    const i = runCli(['data', 'inspect', data, '--size', '28', '--json', ins]);
    expect(i.status, i.stderr).toBe(0);
    expect(JSON.parse(readFileSync(ins, 'utf8')).n).toBe(200);
    expectUserError(runCli(['data', 'inspect', data, '--size', '28', '--json', work]), /--json .* is a folder; give a file name/);
  });
});

/** Every command that runs an action, with its help text as printed. */
function helps(): { name: string; text: string; cmd: Command }[] {
  const out: { name: string; text: string; cmd: Command }[] = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      let text = '';
      sub.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
      sub.outputHelp();
      out.push({ name, text, cmd: sub });
      walk(sub, `${name} `);
    }
  };
  walk(buildProgram(), '');
  return out;
}

describe('--help', () => {
  it('shows an example line and marks the required options, on every command', () => {
    const all = helps();
    expect(all.map((h) => h.name)).toEqual(expect.arrayContaining(['train', 'sample', 'reconstruct', 'balance', 'evaluate', 'metrics', 'privacy epsilon', 'privacy noise', 'audit', 'report', 'demo', 'data phantom', 'data inspect']));
    for (const h of all) {
      expect(h.text, h.name).toMatch(/\nExamples?:\n {2}\$ medsynth /);
      for (const o of h.cmd.options.filter((x) => x.mandatory)) {
        const line = h.text.split('\n').find((l) => l.trimStart().startsWith(o.flags));
        expect(line, `${h.name} ${o.flags}`).toBeDefined();
        // the description may wrap: look from the option's line to the next option
        const from = h.text.indexOf(line!);
        const next = h.text.slice(from + line!.length).search(/\n {2}-/);
        expect(h.text.slice(from, next < 0 ? undefined : from + line!.length + next), `${h.name} ${o.flags}`).toMatch(/\(required\)/);
      }
    }
  });
});
