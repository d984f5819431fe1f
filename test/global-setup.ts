/**
 * One temporary folder per test run: every test worker and every CLI process the tests start inherit
 * TMPDIR pointing into it, so the many `mkdtemp` folders the tests make (run folders, sample folders,
 * fixtures) land there, and the whole folder is removed when the run ends. Without it they were left in
 * the system's temporary folder, hundreds per run. A run that is killed leaves this one folder behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-tests-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
