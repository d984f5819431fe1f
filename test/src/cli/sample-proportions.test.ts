// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * Open conditions as a user meets them (#19.7): a DP-SGD run's `sample` says plainly that open conditions
 * are uniform and how to fix it; `--condition-proportions` draws them from the user's public proportions and
 * records the source; a bad file is one line naming the file and row (exit 2, nothing written); `balance`
 * takes the same option for the attributes outside --group-by.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

let work: string;
let data: string;
let run: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-proportions-'));
  data = join(work, 'phantom');
  run = join(work, 'dp-cvae');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
  const r = runCli(['train', '--model', 'cvae', '--data', data, '--out', run, '--dp', '--target-epsilon', '8', '--condition', 'label,sex,age', '--bins', 'age=50', '--epochs', '1', '--size', '28', '--batch-size', '32']);
  expect(r.status, r.stderr).toBe(0);
});

const column = (manifest: string, name: string) => {
  const lines = readFileSync(manifest, 'utf8').trim().split('\n');
  const k = lines[0]!.split(',').indexOf(name);
  return lines.slice(1).map((l) => l.split(',')[k]!);
};

describe('open conditions of a DP-SGD run', () => {
  it('are uniform without public proportions, and the output and JSON say so with the hint', () => {
    const out = join(work, 'uniform');
    const r = runCli(['sample', '--model', run, '--n', '8', '--label', 'disease', '--out', out, '--json', join(work, 'uniform.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'warning: open conditions: sex, age from a uniform draw (every value equally likely). This DP-SGD run withholds its train-split condition counts (they are statistics of the private data), so sex, age are NOT drawn in realistic proportions; pass --condition-proportions FILE.csv',
    );
    const j = JSON.parse(readFileSync(join(work, 'uniform.json'), 'utf8'));
    expect(j.openConditions.sources).toEqual({ label: 'fixed', sex: 'uniform', age: 'uniform' });
    expect(JSON.parse(readFileSync(join(out, 'samples.json'), 'utf8')).openConditions.uniform).toEqual(['sex', 'age']);
  });

  it('follow --condition-proportions, recorded in samples.json; same seed, same manifest', () => {
    const props = join(work, 'public-sex.csv');
    writeFileSync(props, 'sex,proportion\nfemale,0.9\nmale,0.1\n');
    const [a, b] = ['p1', 'p2'].map((name) => {
      const out = join(work, name);
      const r = runCli(['sample', '--model', run, '--n', '300', '--seed', '4', '--condition-proportions', props, '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: open conditions: label, age from a uniform draw (every value equally likely); sex from the user-supplied public proportions (${props}).`);
      return out;
    });
    const sex = column(join(a, 'manifest.csv'), 'sex');
    const female = sex.filter((s) => s === 'female').length / sex.length;
    expect(Math.abs(female - 0.9)).toBeLessThan(3 * Math.sqrt((0.9 * 0.1) / 300));
    expect(readFileSync(join(a, 'manifest.csv'), 'utf8')).toBe(readFileSync(join(b, 'manifest.csv'), 'utf8'));
    const rec = JSON.parse(readFileSync(join(a, 'samples.json'), 'utf8')).openConditions;
    expect(rec.sources).toEqual({ label: 'uniform', sex: 'user-supplied', age: 'uniform' });
    expect(rec.proportions).toMatchObject({ file: props, column: 'proportion' });
  });

  it('refuses a bad file with one line naming the file and row, exit 2, writing nothing', () => {
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, 'sex,count\nfemale,3\nmale,x\n');
    const out = join(work, 'never');
    const r = runCli(['sample', '--model', run, '--n', '4', '--condition-proportions', bad, '--out', out]);
    expect(r.status).toBe(2);
    const errors = r.stderr.trim().split('\n').filter((l) => l.includes('error'));
    expect(errors).toEqual([`medsynth: error: --condition-proportions ${bad} line 3: count must be a number >= 0; fix the row or remove it`]);
    expect(existsSync(out)).toBe(false);
  });

  it('balance draws the attributes outside --group-by from the file and records it in plan.json', () => {
    const props = join(work, 'public-age.csv');
    writeFileSync(props, 'age,count\n<50,0\n50+,7\n');
    const out = join(work, 'balanced');
    const r = runCli(['balance', '--data', data, '--model', run, '--target', 'equalize-groups', '--group-by', 'sex', '--condition-proportions', props, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const syn = column(join(out, 'manifest.csv'), 'synthetic');
    const age = column(join(out, 'manifest.csv'), 'age').filter((_, i) => syn[i] === '1');
    expect(age.length).toBeGreaterThan(0);
    expect(new Set(age)).toEqual(new Set(['50+']));
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
    expect(plan.openConditions.sources).toEqual({ label: 'fixed', sex: 'fixed', age: 'user-supplied' });
  });
});
