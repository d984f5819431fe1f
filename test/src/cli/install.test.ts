// @module-tag slow (runs the built package; see vitest.config.ts)
/**
 * The README's install step for using `medsynth` outside the checkout: `npm install -g .` from the clone
 * (here into a temporary prefix, so the test touches no global state). A local folder installs as a link
 * with no download, and the linked bin must run from any directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/fixtures.js';

describe('installing the medsynth command from the clone', () => {
  it('npm install -g . puts a medsynth on the PATH that runs outside the checkout', () => {
    const prefix = mkdtempSync(join(tmpdir(), 'medsynth-install-'));
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const inst = spawnSync(npm, ['install', '-g', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', REPO_ROOT], { encoding: 'utf8', timeout: 120_000 });
    expect(inst.status, inst.stderr).toBe(0);
    const elsewhere = mkdtempSync(join(tmpdir(), 'medsynth-cwd-'));
    const r = spawnSync(join(prefix, 'bin', 'medsynth'), ['train', '--help'], { cwd: elsewhere, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: medsynth train/);
  });
});
