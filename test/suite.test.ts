/**
 * The suite's own contract (issue #23): `npm run test:quick` skips the files tagged slow (vitest.config.ts),
 * so every file that runs the built CLI or package must carry the tag. Otherwise the quick run would test a
 * stale dist/ in the edit loop, and grow slower with every CLI test added.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/fixtures.js';

// Spelled in two parts so this file does not tag itself.
const TAG = new RegExp(`^// @module${'-'}tag slow\\b`, 'm');
const RUNS_BUILT = /helpers\/cli\.js|['"`/]dist\/|'install',\s'-g'/;

const files = readdirSync(join(REPO_ROOT, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(REPO_ROOT, 'test', f))
  .sort();

describe('test suite', () => {
  it('tags every test file that runs the built CLI or package as slow, so test:quick needs no build', () => {
    const untagged = files.filter((f) => {
      const text = readFileSync(f, 'utf8');
      return RUNS_BUILT.test(text) && !TAG.test(text);
    });
    expect(untagged.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });

  it('keeps a quick selection: most files are untagged, and npm run test:quick skips the tagged ones', () => {
    const tagged = files.filter((f) => TAG.test(readFileSync(f, 'utf8')));
    expect(tagged.length).toBeGreaterThan(10);
    expect(files.length - tagged.length).toBeGreaterThan(tagged.length);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts['test:quick']).toMatch(/^vitest run --tags-filter='!slow'( |$)/);
  });
});
