// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * The loading benchmark's entry (eval/bench/load.ts) as a user meets it: --help with an example, bad
 * numbers refused, and no temporary folder left behind, whether it is stopped by a signal or was killed
 * earlier (its folders are swept on the next run). Runs the built script (npm run build).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/fixtures.js';

const SCRIPT = resolve(REPO_ROOT, 'dist/eval/bench/load.js');
const work = mkdtempSync(join(tmpdir(), 'medsynth-load-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = (tmp: string) => ({ ...process.env, TMPDIR: tmp, OMP_NUM_THREADS: '1' });
const run = (args: string[], tmp: string) => spawnSync(process.execPath, [SCRIPT, ...args], { env: env(tmp), encoding: 'utf8', timeout: 120_000 });

/** A pid that no process has: the largest pid Linux can give, plus one. */
const DEAD_PID = 4194305;

describe('bench:load entry', () => {
  it('has --help with an example, and refuses a size that is not a whole number', () => {
    const h = run(['--help'], work);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/--large-n <n>/);
    expect(h.stdout).toMatch(/Example:\n {2}npm run bench:load --/);
    const bad = run(['--large-n', '0', '--skip-large'], work);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--large-n 0: give a whole number of at least 1/);
  });

  it("removes a killed run's temporary folders on the next run, and keeps a live process's", () => {
    const tmp = join(work, 'sweep');
    mkdirSync(join(tmp, `medsynth-bench-large-${DEAD_PID}-abc`, 'x'), { recursive: true });
    mkdirSync(join(tmp, `medsynth-bench-cache-${process.pid}-def`), { recursive: true }); // this test process: alive
    mkdirSync(join(tmp, 'medsynth-bench-large-notapid'), { recursive: true }); // not ours by name: untouched
    const r = run(['--skip-large', '--ham', join(work, 'no-such-folder')], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed 1 temporary folder/);
    expect(readdirSync(tmp).sort()).toEqual([`medsynth-bench-cache-${process.pid}-def`, 'medsynth-bench-large-notapid']);
  });

  it('removes its folder and exits 143 when stopped by SIGTERM while generating', async () => {
    const tmp = join(work, 'signal');
    mkdirSync(tmp);
    const child = spawn(process.execPath, [SCRIPT, '--ham', join(work, 'no-such-folder'), '--large-n', '400', '--large-side', '512'], { env: env(tmp), stdio: 'ignore' });
    const mine = () => readdirSync(tmp).filter((n) => n.startsWith(`medsynth-bench-large-${child.pid}-`));
    const deadline = Date.now() + 60_000;
    while (mine().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(mine().length).toBe(1); // it started writing
    const dir = join(tmp, mine()[0]!);
    const code = await new Promise<number | null>((done) => {
      child.on('exit', (c) => done(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(143);
    expect(existsSync(dir)).toBe(false);
  });
});
