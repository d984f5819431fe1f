// @module-tag slow (runs the built CLI on the real data sets; see vitest.config.ts)
/**
 * `medsynth data inspect` on the real datasets in ../shared/data: its tables must match the counts the
 * datasets' own READMEs publish. Skips with a message when ../shared is absent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { sharedDataset } from '../../helpers/fixtures.js';

/** Markdown tables of a README: first header cell → rows of [name, ...numbers]. */
function readmeTables(path: string): Map<string, { header: string[]; rows: Map<string, number[]> }> {
  const tables = new Map<string, { header: string[]; rows: Map<string, number[]> }>();
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !lines[i + 1]?.startsWith('|---')) continue;
    const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
    const header = cells(lines[i]!);
    const rows = new Map<string, number[]>();
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) {
      const c = cells(lines[j]!);
      rows.set(c[0]!, c.slice(1).map(Number));
    }
    tables.set(header[0]!, { header, rows });
  }
  return tables;
}

interface Summary {
  n: number;
  channels: number;
  classes: { name: string; count: number }[];
  splits: { origin: string; byClass: number[][] };
  attributes: { name: string; values: string[]; counts: number[][] }[];
}

const ham = sharedDataset('ham10000-224');
describe.skipIf(!ham)('inspect HAM10000 (../shared/data/ham10000-224)', () => {
  it('matches every count table in its README', () => {
    const r = runCli(['data', 'inspect', ham!, '--size', '28', '--bins', 'age=30,45,60,75', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    const tables = readmeTables(join(ham!, 'README.md'));
    expect(s.n).toBe(3000);
    expect(s.channels).toBe(3);
    const classes = tables.get('split')!.header.slice(1, -1);
    expect(s.classes.map((c) => c.name)).toEqual(classes);
    expect(s.splits.origin).toBe('source');
    const split = tables.get('split')!.rows;
    (['train', 'val', 'test'] as const).forEach((name, k) => expect(s.splits.byClass[k]).toEqual(split.get(name)!.slice(0, -1)));
    expect(s.classes.map((c) => c.count)).toEqual(split.get('total')!.slice(0, -1));
    for (const attr of ['sex', 'site', 'age']) {
      const table = tables.get(attr)!;
      const a = s.attributes.find((x) => x.name === attr)!;
      expect(a, `attribute ${attr}`).toBeDefined();
      expect([...a.values].sort()).toEqual([...table.rows.keys()].sort());
      for (const [value, counts] of table.rows) {
        expect(a.counts[a.values.indexOf(value)], `${attr}=${value}`).toEqual(counts.slice(0, -1));
      }
    }
    // Identifier columns never become groups.
    expect(s.attributes.map((a) => a.name)).not.toContain('lesion_id');
    expect(s.attributes.map((a) => a.name)).not.toContain('image_id');
  });
});

const pneu = sharedDataset('pneumoniamnist');
describe.skipIf(!pneu)('inspect PneumoniaMNIST (../shared/data/pneumoniamnist)', () => {
  it('matches the split × class table in its README', () => {
    const r = runCli(['data', 'inspect', join(pneu!, 'pneumoniamnist.npz'), '--size', '28', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    const split = readmeTables(join(pneu!, 'README.md')).get('split')!.rows;
    expect(s.n).toBe(4708 + 524 + 624);
    expect(s.channels).toBe(1);
    (['train', 'val', 'test'] as const).forEach((name, k) => expect(s.splits.byClass[k]).toEqual(split.get(name)!.slice(0, -1)));
  });
});
