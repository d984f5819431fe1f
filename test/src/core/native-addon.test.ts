// @module-tag slow (runs the built package; see vitest.config.ts)
/**
 * The native addon's OpenMP wait policy (src/core/native-addon.ts preferPassiveOpenMp): `passive` unless
 * the user chose one, and set before libgomp reads its environment, which it does once, when the addon
 * loads. The end-to-end check asks libgomp itself, in a fresh process that loads the addon: with
 * OMP_DISPLAY_ENV=verbose it prints its settings when it initialises, among them GOMP_SPINCOUNT, the
 * iterations a waiting thread spins before it sleeps: 0 under `passive`, 300000 under libgomp's default
 * (whose OMP_WAIT_POLICY line reads 'PASSIVE' too, so that line cannot tell them apart), more under `active`.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddonPath, preferPassiveOpenMp } from '../../../src/core/native-addon.js';
import { REPO_ROOT } from '../../helpers/fixtures.js';

describe('OpenMP wait policy', () => {
  it('is passive unless the environment already names one', () => {
    const none: NodeJS.ProcessEnv = {};
    expect(preferPassiveOpenMp(none)).toBe('passive');
    expect(none.OMP_WAIT_POLICY).toBe('passive');
    const empty: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: '' };
    expect(preferPassiveOpenMp(empty)).toBe('passive');
    const chosen: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'active' };
    expect(preferPassiveOpenMp(chosen)).toBe('active');
    expect(chosen.OMP_WAIT_POLICY).toBe('active');
  });

  const built = nativeAddonPath() !== null;
  describe.skipIf(!built)('as libgomp reads it (skipped: the native addon is not built; npm run build:native)', () => {
    const PROBE = `
const { loadNativeAddon } = await import(${JSON.stringify(resolve(REPO_ROOT, 'dist/src/backend/native.js'))});
if (!loadNativeAddon()) throw new Error('the addon did not load');
`;
    const spinsOf = (env: NodeJS.ProcessEnv): number => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env });
      expect(r.status, r.stderr).toBe(0);
      const line = r.stderr.split('\n').find((l) => /GOMP_SPINCOUNT\s*=/.test(l));
      expect(line, `libgomp printed no GOMP_SPINCOUNT line:\n${r.stderr}`).toBeDefined();
      return Number(/'(\d+)'/.exec(line!)![1]);
    };
    const base = () => {
      const env: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'verbose' };
      delete env.OMP_WAIT_POLICY;
      return env;
    };

    it('reaches libgomp when the addon loads, and a user-set policy wins', () => {
      expect(spinsOf(base())).toBe(0);
      expect(spinsOf({ ...base(), OMP_WAIT_POLICY: 'active' })).toBeGreaterThan(300_000);
    });
  });
});
