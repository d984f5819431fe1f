// @module-tag slow (runs the built package; see vitest.config.ts)
/**
 * The threaded wasm build (src/backend/wasm-threads.ts): it starts with the wanted number of threads,
 * computes the same bits as the single-threaded build, and lets the process exit. Each configuration runs
 * in its own process, since a tfjs backend starts once per process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wantedThreads, writeOnce } from '../../../src/backend/wasm-threads.js';
import { REPO_ROOT } from '../../helpers/fixtures.js';

const PROBE = `
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
const { initBackend } = await import(${JSON.stringify(resolve(REPO_ROOT, 'dist/src/backend/index.js'))});
const info = await initBackend('wasm');
const x = tf.tensor4d(Float32Array.from({ length: 8 * 16 * 16 * 8 }, (_, i) => Math.sin(i)), [8, 16, 16, 8]);
const w = tf.tensor4d(Float32Array.from({ length: 4 * 4 * 8 * 16 }, (_, i) => Math.cos(i)), [4, 4, 8, 16]);
const a = tf.tensor2d(Float32Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i * 0.3)), [300, 200]);
const y = tf.conv2d(x, w, 2, 'same');
const m = tf.matMul(a, a, false, true);
const h = createHash('sha256').update(Buffer.from(y.dataSync().buffer)).update(Buffer.from(m.dataSync().buffer)).digest('hex');
console.log(JSON.stringify({ threads: info.threads, hash: h }));
`;

function probe(threads: number): { threads: number; hash: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000, // a process kept alive by its pthread workers would hang here
    env: { ...process.env, MEDSYNTH_WASM_THREADS: String(threads), MEDSYNTH_NATIVE: '0' },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('threaded wasm', () => {
  it('reads MEDSYNTH_WASM_THREADS, else uses every core (at most 8), or 1 beside the native kernels', () => {
    expect(wantedThreads({ MEDSYNTH_WASM_THREADS: '1' })).toBe(1);
    expect(wantedThreads({ MEDSYNTH_WASM_THREADS: '12' })).toBe(8);
    expect(wantedThreads({ MEDSYNTH_WASM_THREADS: 'x' })).toBe(1);
    expect(wantedThreads({})).toBe(Math.min(cpus().length, 8));
    expect(wantedThreads({}, true)).toBe(1);
    expect(wantedThreads({ MEDSYNTH_WASM_THREADS: '2' }, true)).toBe(2);
  });

  it('writes each glue file once, whole: asked again for the same text it returns the same file untouched', () => {
    // The glue asks for the worker script once per pooled worker while earlier workers are starting; a file
    // rewritten in place could be read empty by one of them (CI saw Node exit 13 from that).
    const dir = mkdtempSync(join(tmpdir(), 'medsynth-writeonce-'));
    try {
      const a = writeOnce(dir, 'worker', 'postMessage(1);');
      const before = statSync(a);
      const again = writeOnce(dir, 'worker', 'postMessage(1);');
      const other = writeOnce(dir, 'worker', 'postMessage(2);');
      expect(again).toBe(a);
      expect(statSync(again).ino).toBe(before.ino);
      expect(statSync(again).mtimeMs).toBe(before.mtimeMs);
      expect(other).not.toBe(a);
      expect(readFileSync(a, 'utf8')).toBe('postMessage(1);');
      expect(readFileSync(other, 'utf8')).toBe('postMessage(2);');
      expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs 2 threads, gives the single-threaded bits, and exits', () => {
    const one = probe(1);
    const two = probe(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.hash).toBe(one.hash);
  });
});
