// @module-tag slow (runs the built package; see vitest.config.ts)
/**
 * The package's library entry: package.json `main`/`types` name files the build writes, and a program that
 * imports the built module (in its own process, as a consumer would) gets the public API and can use it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string; types: string; files: string[] };

describe('the library entry point (package.json main)', () => {
  it('main and types are the build output of src/index.ts, inside the published files', () => {
    expect(pkg.main).toBe('dist/src/index.js');
    expect(pkg.types).toBe('dist/src/index.d.ts');
    expect(pkg.files).toContain('dist');
    expect(existsSync(join(REPO_ROOT, 'src/index.ts'))).toBe(true);
    for (const f of [pkg.main, pkg.types]) expect(existsSync(join(REPO_ROOT, f)), `${f} is missing: run 'npm run build' first`).toBe(true);
  });

  it('imports in a fresh process and the exported functions work', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medsynth-api-'));
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, pkg.main)).href)});
      const e = m.epsilonFor({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
      const c = m.calibrateNoise({ sampleRate: 0.04, steps: 2250, delta: 1e-5, targetEpsilon: 3 });
      const { out } = await m.writePhantom({ out: ${JSON.stringify(join(dir, 'phantom'))}, n: 24, size: 28, seed: 3 });
      const ds = m.loadDataset({ path: out, size: 28 });
      const splits = m.assignSplits(ds, { seed: 1 });
      console.log(JSON.stringify({
        keys: Object.keys(m).sort(),
        epsilon: e.epsilon,
        calibrated: c,
        generators: m.generatorKinds(),
        userError: new m.ConfigError('x') instanceof m.UserError,
        n: ds.n,
        splitCount: splits.split.length,
      }));`;
    // A file, not `node -e`: a consumer's program is a module file (and --input-type would pass to workers).
    const program = join(dir, 'consumer.mjs');
    writeFileSync(program, script);
    const r = spawnSync(process.execPath, [program], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    for (const name of ['loadDataset', 'assignSplits', 'generatorFactory', 'registerGenerator', 'accountant', 'calibrateNoise', 'PrivacyLedger', 'fidelity', 'utilityTable', 'computeFeatures', 'rocSummary', 'initBackend']) {
      expect(out.keys).toContain(name);
    }
    // The opacus example of docs/style.md, through the built package (test/src/privacy/calibrate.test.ts checks the source).
    expect(out.epsilon).toBeCloseTo(7.32911117143, 6);
    expect(out.calibrated.epsilon).toBeLessThanOrEqual(3);
    expect(out.calibrated.noiseMultiplier).toBeGreaterThan(1.5);
    expect(out.generators).toEqual(expect.arrayContaining(['cvae', 'dpgan', 'dpmerf']));
    expect(out.userError).toBe(true);
    expect(out.n).toBe(24);
    expect(out.splitCount).toBe(24);
  });
});
