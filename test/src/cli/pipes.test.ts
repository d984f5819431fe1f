// @module-tag slow (runs the built CLI; see vitest.config.ts)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from '../../helpers/cli.js';

/**
 * Runs the CLI with its stdout read end closed by the reader before the CLI writes (as `| head -0`, or a
 * `| head` that has read enough): the CLI's next write to stdout fails with EPIPE. Resolves with the exit
 * code and stderr.
 */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MEDSYNTH_BACKEND: '' } });
    child.stdout.destroy(); // closes the read end: the child's first write to stdout gets EPIPE
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a reader that closes the pipe early', () => {
  it('does not turn --help into an internal error', async () => {
    const r = await runWithClosedStdout(['evaluate', '--help']);
    expect(r.stderr).not.toMatch(/EPIPE|internal error|Unhandled/);
    expect(r.code).toBe(0);
  });

  it('lets a command finish its files when its console output is no longer read', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'medsynth-pipes-')), 'ph');
    const r = await runWithClosedStdout(['data', 'phantom', '--out', out, '--n', '12', '--size', '32', '--seed', '2', '--json']);
    expect(r.stderr).not.toMatch(/EPIPE|internal error|Unhandled/);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'manifest.csv'))).toBe(true);
    expect(readdirSync(join(out, 'images'))).toHaveLength(12);
  });
});
