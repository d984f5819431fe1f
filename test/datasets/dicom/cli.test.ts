// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth data inspect` on DICOM folders through the built CLI: the tag report, labels, no tag value in
 * the output, the one-line errors with exit 2, and two processes sharing one decoded-image cache.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheGet } from '../../../datasets/cache.js';
import { BIN, runCli } from '../../helpers/cli.js';
import { cleanup, tempDir } from '../helpers.js';
import { dicomFile, patientTags } from './write.js';

let dir: string;
let cache: string;
beforeEach(() => {
  dir = tempDir('medsynth-dicom-cli-');
  cache = tempDir('medsynth-dicom-cache-');
});
afterEach(() => {
  cleanup(dir);
  cleanup(cache);
});

function put(rel: string, bytes: Uint8Array | string): void {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, bytes);
}

const SECRETS = ['Doe^Jane', 'PID-0042', 'PID-0043', '1.2.3.4.5.6.7', '19700101', 'St Elsewhere'];

function writeStudy(n = 6): void {
  for (let i = 0; i < n; i++) {
    const px = Array.from({ length: 1024 }, (_, k) => (k * (i + 3)) % 4096);
    put(`study/series${i % 2}/img${i}`, dicomFile({
      rows: 32, cols: 32, bitsStored: 12, frames: [px],
      tags: patientTags({ id: i < 3 ? 'PID-0042' : 'PID-0043', name: 'Doe^Jane', sex: i < 3 ? 'F' : 'M', birth: '19700101', study: '20240615', sop: `1.2.3.4.5.6.${7 + i}`, institution: 'St Elsewhere' }),
    }));
  }
  put('labels.csv', 'SOPInstanceUID,label,label_name\n' + Array.from({ length: n }, (_, i) => `1.2.3.4.5.6.${7 + i},${i % 2},${i % 2 ? 'effusion' : 'normal'}`).join('\n') + '\n');
}

describe('medsynth data inspect on DICOM', () => {
  it('reports classes, sex and age from tags, the tags read and how many files lacked each, and no tag value', () => {
    writeStudy();
    const r = runCli(['data', 'inspect', dir, '--size', '32', '--bins', 'age=40,60', '--cache-dir', cache, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as { n: number; patients: number; classes: { name: string; count: number }[]; source: { kind: string; tags: { keyword: string; missing: number }[] }; attributes: { name: string }[] };
    expect(s.n).toBe(6);
    expect(s.patients).toBe(2);
    expect(s.source.kind).toBe('dicom');
    expect(s.classes).toEqual([{ label: 0, name: 'normal', count: 3 }, { label: 1, name: 'effusion', count: 3 }]);
    expect(s.attributes.map((a) => a.name)).toEqual(['sex', 'age']);
    expect(s.source.tags.find((t) => t.keyword === 'PatientAge')!.missing).toBe(6);
    expect(s.source.tags.find((t) => t.keyword === 'SOPInstanceUID')!.missing).toBe(0);
    for (const secret of SECRETS) expect(r.stdout).not.toContain(secret);
    const human = runCli(['data', 'inspect', dir, '--size', '32', '--cache-dir', cache]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/tags read \(files lacking each\): PatientID \(0010,0020\) 0, PatientSex \(0010,0040\) 0, PatientAge \(0010,1010\) 6/);
    for (const secret of SECRETS) expect(human.stdout + human.stderr).not.toContain(secret);
  });

  it('corrupt file, file without pixel data, unsupported syntax: one line on stderr naming the file, exit 2', () => {
    const good = dicomFile({ rows: 4, cols: 4, frames: [new Array(16).fill(5)] });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['broken.dcm', good.subarray(0, 200), /broken\.dcm: /],
      ['report.dcm', dicomFile({ rows: 1, cols: 1, noPixels: true, sopClass: '1.2.840.10008.5.1.4.1.1.88.22' }), /report\.dcm: a structured report \(SR\) without pixel data; remove it/],
      ['ll.dcm', dicomFile({ syntax: 'jpegLossless', rows: 2, cols: 2, bitsAllocated: 8, encapsulated: [new Uint8Array(8)] }), /ll\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.70 \(JPEG Lossless, Non-Hierarchical, First-Order Prediction .*\) cannot be decoded/],
    ];
    for (const [name, bytes, pattern] of cases) {
      cleanup(dir);
      mkdirSync(dir);
      put(name, bytes);
      const r = runCli(['data', 'inspect', dir, '--size', '32', '--no-cache']);
      expect(r.status, r.stderr).toBe(2);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('medsynth: error: '));
      expect(errors, r.stderr).toHaveLength(1); // the rest of stderr is the backend line
      expect(errors[0]).toMatch(pattern);
    }
  });

  it('two processes loading at once share the cache: both succeed, one whole entry', async () => {
    writeStudy(12);
    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, [BIN, 'data', 'inspect', dir, '--size', '32', '--cache-dir', cache, '--json'], { env: { ...process.env, MEDSYNTH_BACKEND: '' } });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('close', (code) => resolve({ code, out }));
      });
    const [a, b, c] = await Promise.all([run(), run(), run()]);
    for (const r of [a, b, c]) expect(r.code).toBe(0);
    const fp = (r: { out: string }) => (JSON.parse(r.out) as { source: { fingerprint: string } }).source.fingerprint;
    expect(fp(b)).toBe(fp(a));
    expect(fp(c)).toBe(fp(a));
    const files = readdirSync(join(cache, 'datasets'));
    expect(files.filter((f) => f.endsWith('.f32'))).toHaveLength(1);
    expect(files.filter((f) => f.includes('.tmp-'))).toHaveLength(0);
    expect(cacheGet(cache, files[0]!.replace('.f32', ''))).not.toBeNull();
  });
});
