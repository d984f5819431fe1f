/**
 * The import rules of ARCHITECTURE.md, checked from the source (#21 item 5).
 *
 * Every .ts file under src/, models/, datasets/ and eval/ is parsed (test/helpers/imports.ts: static and
 * type imports, re-exports, dynamic import()), its relative imports resolved to files, and the graph checked:
 * - the hard rules (RULES): eval/ never imports models/; the foundations of src/ (core, nn, backend,
 *   privacy) never import a command folder nor models/; the domain areas (datasets/, models/, eval/) never
 *   import a command folder; nothing outside src/cli imports src/cli;
 * - every import between two areas is allowed by LAYERS, and every permission in LAYERS is used (so the
 *   table says what the code does, not what it once did);
 * - LAYERS itself breaks no hard rule, and ARCHITECTURE.md's "may import" column is LAYERS, row for row;
 * - no file imports itself through any chain of imports (each cycle is reported as its files in order).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/fixtures.js';
import { areaOf, findCycles, importGraph, parseImports, type ImportGraph } from './helpers/imports.js';

/** src/'s lower floor: shared machinery with no knowledge of any command. */
const FOUNDATIONS = ['src/core', 'src/nn', 'src/backend', 'src/privacy'];
/** src/'s upper floor: one folder per command (and the CLI over them). */
const COMMANDS = ['src/train', 'src/sample', 'src/balance', 'src/evaluate', 'src/audit', 'src/report', 'src/review', 'src/data', 'src/demo', 'src/cli'];
const DOMAIN = ['datasets', 'models', 'eval', 'eval/bench'];

/**
 * Which areas each area may import (besides itself). A file belongs to the longest area that contains it,
 * so eval/bench/x.ts is in `eval/bench`, not `eval`. ARCHITECTURE.md's folder tables show the same lists.
 */
const LAYERS: Record<string, string[]> = {
  // Domain areas.
  datasets: ['src/core'],
  models: ['src/core', 'src/nn', 'src/privacy'],
  eval: ['datasets', 'src/core', 'src/nn'],
  'eval/bench': ['datasets', 'eval', 'src/core', 'src/nn', 'src/backend', 'src/privacy'],
  // src/, floor 1: foundations.
  'src/core': [],
  'src/nn': ['src/core'],
  'src/backend': ['src/core'],
  'src/privacy': ['src/core', 'src/nn'],
  // src/, floor 2: commands.
  'src/train': ['datasets', 'models', 'src/core', 'src/backend', 'src/privacy'],
  'src/sample': ['datasets', 'models', 'src/core', 'src/train'],
  'src/review': ['datasets', 'src/core', 'src/train'],
  'src/balance': ['datasets', 'models', 'eval', 'src/core', 'src/train', 'src/sample', 'src/review'],
  'src/data': ['datasets', 'eval', 'src/core'],
  'src/evaluate': ['datasets', 'eval', 'src/core', 'src/data'],
  'src/audit': ['datasets', 'models', 'eval', 'src/core', 'src/privacy', 'src/train', 'src/sample'],
  'src/report': ['datasets', 'models', 'eval', 'src/core', 'src/privacy', 'src/train', 'src/review'],
  'src/demo': ['datasets', 'src/core', 'src/backend', 'src/train', 'src/sample', 'src/balance', 'src/evaluate', 'src/audit', 'src/report'],
  'src/cli': [
    'datasets', 'models', 'eval', 'src/core', 'src/backend', 'src/privacy',
    'src/train', 'src/sample', 'src/review', 'src/balance', 'src/data', 'src/evaluate', 'src/audit', 'src/report', 'src/demo',
  ],
  // The library's public API (package.json main).
  'src/index.ts': ['datasets', 'models', 'eval', 'src/core', 'src/backend', 'src/privacy'],
};

interface Rule {
  rule: string;
  forbids: (from: string, to: string) => boolean;
}

const RULES: Rule[] = [
  { rule: 'eval/ never imports models/', forbids: (a, b) => (a === 'eval' || a.startsWith('eval/')) && b === 'models' },
  {
    rule: 'the foundations (src/core, nn, backend, privacy) never import a command folder nor models/',
    forbids: (a, b) => FOUNDATIONS.includes(a) && (COMMANDS.includes(b) || b === 'models'),
  },
  { rule: 'datasets/, models/ and eval/ never import a command folder', forbids: (a, b) => DOMAIN.includes(a) && COMMANDS.includes(b) },
  { rule: 'nothing outside src/cli imports src/cli', forbids: (a, b) => a !== 'src/cli' && b === 'src/cli' },
];

/** Every import that breaks a rule or is not in the table, and every table entry no import uses. */
function checkLayers(graph: ImportGraph, layers: Record<string, string[]>, rules: Rule[]): { violations: string[]; unused: string[]; unplaced: string[] } {
  const areas = Object.keys(layers);
  const violations: string[] = [];
  const unplaced: string[] = [];
  const used = new Set<string>();
  for (const [from, edges] of graph) {
    const a = areaOf(from, areas);
    if (a === null) {
      unplaced.push(from);
      continue;
    }
    for (const e of edges) {
      const b = areaOf(e.to, areas);
      if (b === null || b === a) continue;
      const where = `${from}:${e.line} imports ${e.to}`;
      for (const r of rules) if (r.forbids(a, b)) violations.push(`${where}: ${r.rule}`);
      if (layers[a]!.includes(b)) used.add(`${a} -> ${b}`);
      else violations.push(`${where}: ${a} may not import ${b} (LAYERS in test/architecture.test.ts and ARCHITECTURE.md)`);
    }
  }
  const unused = Object.entries(layers).flatMap(([a, bs]) => bs.filter((b) => !used.has(`${a} -> ${b}`)).map((b) => `${a} -> ${b}`));
  return { violations, unused, unplaced };
}

/** ARCHITECTURE.md's folder tables: area (first cell) → the backticked names of the last cell, trailing '/' dropped. */
function documentedLayers(markdown: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    if (!m || cells.length < 3) continue;
    const area = m[1]!.replace(/\/$/, '');
    if (area === 'test') continue;
    out[area] = [...cells[cells.length - 1]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!.replace(/\/$/, ''));
  }
  return out;
}

const sorted = (r: Record<string, string[]>) =>
  Object.fromEntries(Object.keys(r).sort().map((k) => [k, [...r[k]!].sort()]));

describe('the import parser and the checks (on made-up sources, so a broken checker cannot pass silently)', () => {
  it('finds static, type-only, re-exported and dynamic imports, and none in comments or strings', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      'import {',
      '  c,',
      "} from './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "const f = await import('./f.js');",
      "type G = import('./g.js').G;",
      "import tf from '@tensorflow/tfjs';",
      "// import { no } from './comment.js';",
      "const s = \"import { no } from './string.js'\";",
      'const dyn = await import(name);',
    ].join('\n');
    expect(parseImports(src).map((r) => [r.specifier, r.line, r.kind])).toEqual([
      ['./a.js', 1, 'import'],
      ['../b/b.js', 2, 'import'],
      ['./c.js', 5, 'import'],
      ['./d.js', 6, 'export'],
      ['./e.js', 7, 'export'],
      ['./f.js', 8, 'dynamic'],
      ['./g.js', 9, 'type'],
      ['@tensorflow/tfjs', 10, 'import'],
    ]);
  });

  it('reports a forbidden import, an import missing from the table, an unused permission and a cycle', () => {
    const graph: ImportGraph = new Map([
      ['eval/x.ts', [{ to: 'models/m.ts', line: 3 }]],
      ['models/m.ts', [{ to: 'src/core/c.ts', line: 1 }]],
      ['src/core/c.ts', [{ to: 'src/core/d.ts', line: 2 }]],
      ['src/core/d.ts', [{ to: 'src/core/e.ts', line: 4 }]],
      ['src/core/e.ts', [{ to: 'src/core/c.ts', line: 9 }]],
      ['src/nn/n.ts', []],
      ['scratch/s.ts', []],
    ]);
    const layers = { eval: ['datasets'], models: ['src/core'], 'src/core': [], 'src/nn': ['src/core'], datasets: [] };
    const r = checkLayers(graph, layers, RULES);
    expect(r.violations).toEqual([
      'eval/x.ts:3 imports models/m.ts: eval/ never imports models/',
      'eval/x.ts:3 imports models/m.ts: eval may not import models (LAYERS in test/architecture.test.ts and ARCHITECTURE.md)',
    ]);
    expect(r.unused).toEqual(['eval -> datasets', 'src/nn -> src/core']);
    expect(r.unplaced).toEqual(['scratch/s.ts']);
    expect(findCycles(graph)).toEqual([['src/core/c.ts', 'src/core/d.ts', 'src/core/e.ts', 'src/core/c.ts']]);
    expect(findCycles(new Map([['a.ts', [{ to: 'a.ts', line: 1 }]]]))).toEqual([['a.ts', 'a.ts']]);
    expect(findCycles(new Map([['a.ts', [{ to: 'b.ts', line: 1 }]], ['b.ts', []]]))).toEqual([]);
  });

  it('reads the may-import column of a folder table', () => {
    const md = ['| folder | holds | may import |', '|---|---|---|', '| `eval/` | metrics | `src/core`, `datasets/`; never `models/` |', '| `src/core/` | errors | nothing of ours |', '| `test/` | tests | everything |'].join('\n');
    // "never `models/`" would read as a permission: the table must list permissions only.
    expect(documentedLayers(md)).toEqual({ eval: ['src/core', 'datasets', 'models'], 'src/core': [] });
  });
});

describe("medsynth's imports", () => {
  const graph = importGraph(REPO_ROOT, ['src', 'models', 'datasets', 'eval']);

  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('src/cli/main.ts')?.length).toBeGreaterThan(5);
  });

  it('the table itself obeys the hard rules and names only known areas', () => {
    const areas = Object.keys(LAYERS);
    for (const a of [...FOUNDATIONS, ...COMMANDS, ...DOMAIN]) expect(areas).toContain(a);
    const broken = Object.entries(LAYERS).flatMap(([a, bs]) =>
      bs.flatMap((b) => [...(areas.includes(b) ? [] : [`${a} -> ${b}: unknown area`]), ...RULES.filter((r) => r.forbids(a, b)).map((r) => `${a} -> ${b}: ${r.rule}`)]),
    );
    expect(broken).toEqual([]);
  });

  it('every import between areas is allowed, every file is in an area, and every permission is used', () => {
    const r = checkLayers(graph, LAYERS, RULES);
    expect(r.unplaced, 'files in no area of LAYERS: give their folder a row').toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.unused, 'permissions no import uses: drop them from LAYERS and ARCHITECTURE.md').toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles = findCycles(graph).map((c) => c.join(' -> '));
    expect(cycles).toEqual([]);
  });

  it("ARCHITECTURE.md's may-import column is the table above", () => {
    const doc = documentedLayers(readFileSync(join(REPO_ROOT, 'ARCHITECTURE.md'), 'utf8'));
    expect(sorted(doc)).toEqual(sorted(LAYERS));
  });
});
