// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth metrics` as a user runs it (the built CLI on files in a temp folder): the oracle's values
 * from float32 and float64 .npy and from a .csv with a header, the human report, and one-line errors
 * naming the file for a 3-D array, mismatched feature counts, NaN and a missing file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { fixtureCase } from '../../eval/fidelity/helpers.js';

/** A C-order .npy (format 1.0) of float32 ('<f4') or float64 ('<f8') values. */
function npy(path: string, shape: number[], values: ArrayLike<number>, descr: '<f4' | '<f8' = '<f4'): void {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'; // pad so the data starts on a 64-byte boundary
  const data = descr === '<f4' ? new Float32Array(values) : new Float64Array(values);
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]));
}

const c = fixtureCase('gaussian-200x16-180x16');
const ref = c.prdc.find((p) => p.k === 5)!;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsynth-metrics-'));
  npy(join(dir, 'real.npy'), [200, 16], c.x.data);
  npy(join(dir, 'synthetic.npy'), [180, 16], c.y.data);
  npy(join(dir, 'synthetic64.npy'), [180, 16], c.y.data, '<f8');
  const rows = Array.from({ length: 180 }, (_, i) => Array.from(c.y.data.subarray(i * 16, i * 16 + 16)).join(','));
  writeFileSync(join(dir, 'synthetic.csv'), [Array.from({ length: 16 }, (_, j) => `f${j}`).join(','), ...rows].join('\n') + '\n');
});

const args = (synthetic: string, ...more: string[]) => ['metrics', '--real', join(dir, 'real.npy'), '--synthetic', join(dir, synthetic), '--kid-subsets', '10', '--kid-subset-size', '50', ...more];

describe('medsynth metrics', () => {
  it('prints the oracle FID and PRDC and a KID in --json, from .npy (float32 and float64) and .csv', () => {
    const outs = ['synthetic.npy', 'synthetic64.npy', 'synthetic.csv'].map((f) => {
      const r = runCli(args(f, '--json'));
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    });
    const j = outs[0];
    expect(j.command).toBe('metrics');
    expect(Math.abs(j.fid - c.fid) / c.fid).toBeLessThan(1e-10);
    expect([j.precision, j.recall, j.density, j.coverage]).toEqual([ref.precision, ref.recall, ref.density, ref.coverage]);
    expect(Object.keys(j.kid).sort()).toEqual(['mean', 'std']);
    expect(j.n).toEqual({ real: 200, synthetic: 180 });
    expect(j.settings.seed).toBe(2020);
    for (const o of outs.slice(1)) {
      for (const key of ['fid', 'kid', 'precision', 'recall', 'density', 'coverage']) expect(o[key]).toEqual(j[key]);
    }
  });

  it('prints a readable report without --json', () => {
    const r = runCli(args('synthetic.npy', '--k', '3'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^FID +\d+\.\d{4}/m);
    expect(r.stdout).toMatch(/^KID +-?\d\.\d+e[-+]\d+ ± /m);
    expect(r.stdout).toContain(`precision  ${c.prdc.find((p) => p.k === 3)!.precision.toFixed(4)}   (k = 3)`);
    expect(r.stderr).toMatch(/^backend: /m);
  });

  it('refuses bad inputs with one line that names the file', () => {
    npy(join(dir, 'cube.npy'), [4, 4, 4], new Float32Array(64));
    npy(join(dir, 'narrow.npy'), [180, 8], new Float32Array(180 * 8));
    writeFileSync(join(dir, 'nan.csv'), '1,2\n3,NaN\n');
    const cases: [string[], RegExp][] = [
      [args('cube.npy'), /--synthetic .*cube\.npy: expected a 2-D array \[samples, features\] but got shape \(4, 4, 4\)/],
      [args('narrow.npy'), /--synthetic .*narrow\.npy has 8 features per row but --real .*real\.npy has 16/],
      [args('nan.csv'), /--synthetic .*nan\.csv line 2: column 2 is "NaN", not a finite number/],
      [args('missing.npy'), /--synthetic .*missing\.npy: cannot read the file \(ENOENT\)/],
    ];
    for (const [argv, message] of cases) {
      const r = runCli(argv);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('backend: '))).toEqual([expect.stringMatching(/^medsynth: error: /)]);
    }
  });
});
