/**
 * `medsynth balance` as a user runs it: the dry-run plan (nothing written), the augmented manifest whose
 * counts equal the plan and which `data inspect` reads, same seed → same bytes, and one-line errors for a
 * cell the model cannot generate and a target file that does not add up.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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
});
