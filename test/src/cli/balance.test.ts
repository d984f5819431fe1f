// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth balance` as a user runs it: the dry-run plan (nothing written), the augmented manifest whose
 * counts equal the plan and which `data inspect` reads, same seed → same bytes, one-line errors for a
 * cell the model cannot generate and a target file that does not add up, and no invented groups: cells
 * with too few real images and unknown values are skipped with the reason. --reviewed-only draws the
 * top-ups from a `medsynth release` folder instead of generating (#24).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendDecision } from '../../../src/review/log.js';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
let run: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-balance-'));
  data = join(work, 'phantom');
  run = join(work, 'run');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
  const t = runCli(['train', '--data', data, '--out', run, '--size', '28', '--condition', 'label,sex', '--epochs', '1', '--batch-size', '32']);
  expect(t.status, t.stderr).toBe(0);
});

function dirHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()) {
    h.update(f.slice(dir.length)).update(readFileSync(f));
  }
  return h.digest('hex');
}

describe('medsynth balance', () => {
  it('--reviewed-only tops up from reviewed, released images only, and lists the cells it could not fill (#24)', () => {
    const samples = join(work, 'samples');
    expect(runCli(['sample', '--model', run, '--n', '24', '--seed', '3', '--out', samples]).status).toBe(0);
    const sm = readFileSync(join(samples, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    sm.forEach((x, i) => appendDecision(samples, i % 3 === 0 ? { reviewer: 'r', time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), image: x[0]!, decision: 'reject', reason: 'artefact' } : { reviewer: 'r', time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), image: x[0]!, decision: 'accept' }));
    const released = join(work, 'released');
    expect(runCli(['release', samples, '--out', released]).status).toBe(0);
    const releasedImages = new Set(readdirSync(join(released, 'images')).map((f) => createHash('sha256').update(readFileSync(join(released, 'images', f))).digest('hex')));
    expect(releasedImages.size).toBe(16);

    const out = join(work, 'aug-reviewed');
    const r = runCli(['balance', '--data', data, '--model', run, '--target', 'uniform', '--max-synthetic-ratio', '3', '--reviewed-only', released, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.reviewedOnly.reviewedShort.length).toBeGreaterThan(0); // 16 reviewed images cannot fill a uniform plan
    const lines = readFileSync(join(out, 'manifest.csv'), 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    const col = (name: string) => header.indexOf(name);
    const syn = lines.slice(1).map((l) => l.split(',')).filter((x) => x[col('synthetic')] === '1');
    expect(syn.length).toBe(plan.syntheticImages);
    expect(plan.syntheticImages).toBeLessThanOrEqual(16);
    for (const c of plan.cells) expect(syn.filter((x) => x[col('label_name')] === c.labelName && x[col('sex')] === c.groupValues.sex).length, c.key).toBe(c.synthetic);
    for (const x of syn) expect(releasedImages.has(createHash('sha256').update(readFileSync(join(out, x[0]!))).digest('hex')), x[0]).toBe(true);

    const notRelease = runCli(['balance', '--data', data, '--model', run, '--target', 'uniform', '--reviewed-only', samples, '--out', join(work, 'aug-bad')]);
    expect(notRelease.status).toBe(2);
    expect(notRelease.stderr).toMatch(/--reviewed-only .*not a medsynth release output folder/);
    expect(existsSync(join(work, 'aug-bad'))).toBe(false);
  });

  it('prints the plan and its diversity indices on a dry run, writing nothing', () => {
    const out = join(work, 'dry');
    const r = runCli(['balance', '--data', data, '--model', run, '--target', 'equalize-groups', '--dry-run', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/class +sex +real +synthetic +total/);
    expect(r.stdout).toMatch(/cell counts before: Gini [\d.]+ +Shannon [\d.]+ nats +Pielou [\d.]+/);
    expect(r.stderr).toMatch(/dry run: nothing written/);
    expect(existsSync(out)).toBe(false);
    const j = JSON.parse(runCli(['balance', '--data', data, '--model', run, '--target', 'equalize-groups', '--dry-run', '--json']).stdout);
    expect(j.after.gini).toBeLessThan(j.before.gini);
  });

  it('writes an augmented manifest whose counts equal the plan, that data inspect reads; same seed, same bytes', () => {
    const a = join(work, 'aug-a');
    const r = runCli(['balance', '--data', data, '--model', run, '--target', 'uniform', '--max-synthetic-ratio', '3', '--seed', '9', '--out', a, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    const lines = readFileSync(join(a, 'manifest.csv'), 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    const col = (name: string) => header.indexOf(name);
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.filter((x) => x[col('synthetic')] === '0')).toHaveLength(plan.realImages);
    for (const c of plan.cells) {
      const n = rows.filter((x) => x[col('synthetic')] === '1' && x[col('label_name')] === c.labelName && x[col('sex')] === c.groupValues.sex).length;
      expect(n, c.key).toBe(c.synthetic);
    }
    // Real rows by reference: paths outside the output folder; synthetic images inside it.
    expect(rows.find((x) => x[col('synthetic')] === '0')![0]).toMatch(/^\.\.\//);
    expect(readdirSync(join(a, 'images')).length).toBe(plan.syntheticImages);
    const inspect = runCli(['data', 'inspect', a, '--json']);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).n).toBe(plan.realImages + plan.syntheticImages);
    const b = join(work, 'aug-b');
    expect(runCli(['balance', '--data', data, '--model', run, '--target', 'uniform', '--max-synthetic-ratio', '3', '--seed', '9', '--out', b]).status).toBe(0);
    expect(dirHash(b)).toBe(dirHash(a));
  });

  it('refuses a cell the model cannot generate and a target file that does not add up, writing nothing', () => {
    const out = join(work, 'bad');
    const site = runCli(['balance', '--data', data, '--model', run, '--target', 'uniform', '--group-by', 'site', '--out', out]);
    expect(site.status).toBe(2);
    expect(site.stderr).toMatch(/error: cell \w+\|site=\w+: the model is not conditioned on 'site'/);
    const file = join(work, 'target.json');
    writeFileSync(file, JSON.stringify({ proportions: { 'healthy|sex=female': 0.7 }, total: 100 }));
    const t = runCli(['balance', '--data', data, '--model', run, '--target', file, '--out', out]);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/proportions sum to 0.7, not 1/);
    expect(existsSync(out)).toBe(false);
  });

  it('never tops up a cell with fewer than --min-real-per-cell real images, nor an unknown value unless named', () => {
    // The phantom with every 6th row's sex unknown (the model, trained on the phantom, never saw it).
    const lines = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n');
    const sexCol = lines[0]!.split(',').indexOf('sex');
    const edited = join(data, 'unknown-sex.csv');
    writeFileSync(edited, lines.map((l, i) => (i > 0 && i % 6 === 0 ? l.split(',').map((v, k) => (k === sexCol ? 'unknown' : v)).join(',') : l)).join('\n') + '\n');
    const r = runCli(['balance', '--data', edited, '--model', run, '--target', 'equalize-groups', '--dry-run', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.minRealPerCell).toBe(5);
    const cells = plan.cells as { key: string; real: number; synthetic: number; skipped: string | null }[];
    const unknown = cells.filter((c) => c.key.endsWith('sex=unknown'));
    expect(unknown).toHaveLength(2);
    expect(unknown.some((c) => c.real >= 5)).toBe(true); // skipped for its value, not its size
    for (const c of unknown) {
      expect(c.synthetic, c.key).toBe(0);
      expect(c.skipped, c.key).toMatch(/^sex=unknown: unknown value, not a target group \(name it with --include-groups sex=unknown/);
    }
    const small = cells.filter((c) => !c.key.endsWith('sex=unknown') && c.real < 5);
    expect(small.length).toBeGreaterThan(0); // diseased women are rare in the phantom
    for (const c of small) {
      expect(c.synthetic, c.key).toBe(0);
      expect(c.skipped, c.key).toMatch(/real images? \(< --min-real-per-cell 5\): too few to generate from/);
    }
    expect(plan.skipped.map((x: { key: string }) => x.key).sort()).toEqual([...unknown, ...small].map((c) => c.key).sort());
    // The table says why.
    const table = runCli(['balance', '--data', edited, '--model', run, '--target', 'equalize-groups', '--dry-run']);
    expect(table.stdout).toMatch(/unknown .*skipped: sex=unknown: unknown value/);
    expect(table.stderr).toMatch(/skipped \d+ cell\(s\)/);
    // Named, sex=unknown is a target group: the model cannot generate it, and says so.
    const named = runCli(['balance', '--data', edited, '--model', run, '--target', 'equalize-groups', '--include-groups', 'sex=unknown', '--dry-run']);
    expect(named.status).toBe(2);
    expect(named.stderr).toMatch(/cell \w+\|sex=unknown: the model never saw sex=unknown in training/);
    const bad = runCli(['balance', '--data', edited, '--model', run, '--target', 'equalize-groups', '--include-groups', 'sex=unknwn', '--dry-run']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--include-groups sex=unknwn: sex has no value 'unknwn'/);
    // A lower floor lets small known cells be topped up again.
    const low = JSON.parse(runCli(['balance', '--data', edited, '--model', run, '--target', 'equalize-groups', '--min-real-per-cell', '1', '--dry-run', '--json']).stdout);
    expect(low.cells.filter((c: { key: string; real: number; synthetic: number }) => c.real >= 1 && !c.key.endsWith('sex=unknown') && c.synthetic > 0).length).toBeGreaterThan(0);
  });
});
