// @module-tag slow (runs the built CLI; see vitest.config.ts)
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-cli-'));
});

function hashDir(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, name.name);
      if (name.isDirectory()) walk(p);
      else h.update(name.name).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** A user error: exit 2 and one error line on stderr (besides the `backend:` line), with no stack. */
function expectUserError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('backend: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/error/);
  expect(lines[0]).toMatch(pattern);
}

describe('medsynth CLI', () => {
  it('prints help listing its commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/data/);
    expect(r.stdout).toMatch(/demo/);
  });

  it('writes the same phantom bytes for the same seed, and reports the backend', () => {
    const a = join(work, 'ph-a');
    const b = join(work, 'ph-b');
    const ra = runCli(['data', 'phantom', '--out', a, '--n', '30', '--size', '32', '--seed', '3', '--json']);
    expect(ra.status, ra.stderr).toBe(0);
    const json = JSON.parse(ra.stdout);
    expect(json.backend.name).toBe('wasm');
    expect(json.n).toBe(30);
    const rb = runCli(['data', 'phantom', '--out', b, '--n', '30', '--size', '32', '--seed', '3']);
    expect(rb.status, rb.stderr).toBe(0);
    expect(rb.stderr).toMatch(/backend: wasm/);
    expect(hashDir(a)).toBe(hashDir(b));
    const c = join(work, 'ph-c');
    runCli(['data', 'phantom', '--out', c, '--n', '30', '--size', '32', '--seed', '4']);
    expect(hashDir(c)).not.toBe(hashDir(a));
  });

  it('inspects a phantom dataset: counts add up and the backend is recorded', () => {
    const dir = join(work, 'ph-inspect');
    expect(runCli(['data', 'phantom', '--out', dir, '--n', '200', '--size', '32', '--seed', '1']).status).toBe(0);
    const r = runCli(['data', 'inspect', dir, '--size', '32', '--json', '--backend', 'cpu']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.backend.name).toBe('cpu');
    expect(s.n).toBe(200);
    expect(s.classes.reduce((a: number, c: { count: number }) => a + c.count, 0)).toBe(200);
    expect(s.splits.sizes.train + s.splits.sizes.holdout + s.splits.sizes.test).toBe(200);
    expect(s.splits.unit).toBe('patient');
    expect(s.cells.groupBy).toEqual(['sex']);
    expect(s.cells.counts.flat().reduce((a: number, b: number) => a + b, 0)).toBe(200);
    expect(s.cells.diversity.gini).toBeGreaterThan(0.2); // disease 10%, female 25%: far from even
    // The text report shows the same numbers, and no patient identifier.
    const t = runCli(['data', 'inspect', dir, '--size', '32']);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/Gini \d\.\d{3}/);
    expect(t.stdout).not.toMatch(/P\d{5}/);
  });

  it('refuses bad options with one line, exit 2, and writes nothing', () => {
    const out = join(work, 'never');
    expectUserError(runCli(['data', 'phantom', '--out', out, '--size', '30']), /--size/);
    expect(existsSync(out)).toBe(false);
    const badConfig = join(work, 'bad.json');
    writeFileSync(badConfig, '{ "diseaseRate": ');
    expectUserError(runCli(['data', 'phantom', '--out', out, '--config', badConfig]), /--config .*bad\.json: not valid JSON/);
    expect(existsSync(out)).toBe(false);
    writeFileSync(badConfig, '{ "diseaseRate": 7 }');
    expectUserError(runCli(['data', 'phantom', '--out', out, '--config', badConfig]), /diseaseRate/);
    expect(existsSync(out)).toBe(false);
    expectUserError(runCli(['data', 'inspect', join(work, 'no-such-dir')]), /no-such-dir/);
    expectUserError(runCli(['data', 'inspect', join(work, 'ph-a'), '--backend', 'gpu']), /--backend/);
    expectUserError(
      runCli(['data', 'inspect', join(work, 'ph-a')], { env: { MEDSYNTH_BACKEND: 'cuda' } }),
      /MEDSYNTH_BACKEND 'cuda'/,
    );
  });

  it('refuses to overwrite an existing output folder', () => {
    const out = join(work, 'ph-a');
    const before = hashDir(out);
    expectUserError(runCli(['data', 'phantom', '--out', out, '--n', '5']), /already exists/);
    expect(hashDir(out)).toBe(before);
  });

  it('says how to get the tensorflow backend when it is not installed', () => {
    const r = runCli(['data', 'inspect', join(work, 'ph-a'), '--backend', 'tensorflow']);
    if (r.status === 0) return; // tfjs-node is installed on this machine
    expectUserError(r, /npm install @tensorflow\/tfjs-node/);
  });
});
