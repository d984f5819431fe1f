/**
 * The decoded-pixel cache (datasets/cache.ts): hits skip decoding, keys follow the data bytes and the
 * preprocessing, truncated or damaged entries are misses that get rewritten, leftovers of killed writers
 * are ignored, and no DICOM tag value is ever written to it.
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { cacheGet, cacheKey, cachePut, envCacheDir, resolveCacheDir, setDefaultCacheDir } from '../../datasets/cache.js';
import { loadDataset, setLoadDefaults } from '../../datasets/load.js';
import { withDataLoadOptions } from '../../src/cli/commands/shared.js';
import { cleanup, pngjsPng, tempDir, writeTree } from './helpers.js';
import { dicomFile, patientTags } from './dicom/write.js';

let dir: string;
let cache: string;
beforeEach(() => {
  dir = tempDir('medsynth-cache-data-');
  cache = tempDir('medsynth-cache-');
});
afterEach(() => {
  cleanup(dir);
  cleanup(cache);
});

const entries = (): string[] => readdirSync(join(cache, 'datasets')).filter((f) => f.endsWith('.f32'));

function writePngs(): void {
  writeTree(dir, {
    'a.png': pngjsPng(0, 8, 4, 4, Array.from({ length: 16 }, (_, i) => i * 16)),
    'b.png': pngjsPng(0, 8, 4, 4, Array.from({ length: 16 }, (_, i) => 255 - i * 16)),
    'manifest.csv': 'path,label\na.png,0\nb.png,1\n',
  });
}

describe('decoded-pixel cache', () => {
  it('a second load with the same data and preprocessing reads the entry instead of decoding', () => {
    writePngs();
    const first = loadDataset({ path: dir, size: 2, cacheDir: cache });
    expect(entries()).toHaveLength(1);
    const key = entries()[0]!.replace('.f32', '');
    // Replace the entry with marked pixels (same shape): if the next load returns them, it did not decode.
    const hit = cacheGet(cache, key)!;
    cachePut(cache, key, { ...hit, images: new Float32Array(hit.images.length).fill(0.25) });
    const second = loadDataset({ path: dir, size: 2, cacheDir: cache });
    expect(Array.from(second.images)).toEqual(new Array(first.images.length).fill(0.25));
    expect(second.source.fingerprint).toBe(first.source.fingerprint);
    expect(Array.from(second.labels)).toEqual([0, 1]); // metadata is rebuilt, not cached
    // cacheDir null: the cache is not used
    expect(Array.from(loadDataset({ path: dir, size: 2, cacheDir: null }).images)).toEqual(Array.from(first.images));
  });

  it('keys follow the bytes and the preprocessing', () => {
    writePngs();
    const a = loadDataset({ path: dir, size: 2, cacheDir: cache });
    loadDataset({ path: dir, size: 4, cacheDir: cache });
    loadDataset({ path: dir, size: 2, channels: 3, cacheDir: cache });
    expect(entries()).toHaveLength(3);
    writeTree(dir, { 'b.png': pngjsPng(0, 8, 4, 4, new Array(16).fill(0)) }); // one image changes
    const b = loadDataset({ path: dir, size: 2, cacheDir: cache });
    expect(entries()).toHaveLength(4);
    expect(b.source.fingerprint).not.toBe(a.source.fingerprint);
    expect(Array.from(b.images.subarray(4))).toEqual([0, 0, 0, 0]);
    expect(cacheKey('f', { size: 2, x: undefined })).toBe(cacheKey('f', { size: 2 }));
    expect(cacheKey('f', { size: 2 })).not.toBe(cacheKey('g', { size: 2 }));
  });

  it('a truncated or damaged entry is a miss: the data is decoded again and the entry rewritten', () => {
    writePngs();
    const good = loadDataset({ path: dir, size: 2, cacheDir: cache });
    const file = join(cache, 'datasets', entries()[0]!);
    const key = entries()[0]!.replace('.f32', '');
    const size = readFileSync(file).length;
    truncateSync(file, size - 3);
    expect(cacheGet(cache, key)).toBeNull();
    expect(Array.from(loadDataset({ path: dir, size: 2, cacheDir: cache }).images)).toEqual(Array.from(good.images));
    expect(readFileSync(file).length).toBe(size); // rewritten whole
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff; // one flipped payload byte
    writeFileSync(file, bytes);
    expect(cacheGet(cache, key)).toBeNull();
    expect(Array.from(loadDataset({ path: dir, size: 2, cacheDir: cache }).images)).toEqual(Array.from(good.images));
    expect(cacheGet(cache, key)).not.toBeNull();
  });

  it('ignores a killed writer\'s temporary file, removes it at the next trim, and never removes files it did not write', () => {
    writePngs();
    loadDataset({ path: dir, size: 2, cacheDir: cache });
    const key = entries()[0]!.replace('.f32', '');
    writeFileSync(join(cache, 'datasets', `${key}.f32.tmp-2147483646-deadbeef`), 'half');
    writeFileSync(join(cache, 'datasets', `${key}.f32.tmp-${process.pid}-0badf00d`), 'a live writer');
    writeFileSync(join(cache, 'datasets', 'notes.txt'), 'mine');
    expect(cacheGet(cache, key)).not.toBeNull();
    process.env.MEDSYNTH_CACHE_MAX_GB = '0'; // every entry over the cap: the trim runs after the next write
    try {
      loadDataset({ path: dir, size: 3, cacheDir: cache });
    } finally {
      delete process.env.MEDSYNTH_CACHE_MAX_GB;
    }
    const left = readdirSync(join(cache, 'datasets'));
    expect(left).toContain('notes.txt');
    expect(left).not.toContain(`${key}.f32.tmp-2147483646-deadbeef`); // pid 2147483646: above any Linux pid_max, never running
    expect(left).toContain(`${key}.f32.tmp-${process.pid}-0badf00d`); // its writer is alive
    expect(left.filter((f) => f.endsWith('.f32'))).toHaveLength(0);
  });

  it('DICOM: a hit gives the same dataset, and the entry holds no tag value', () => {
    const secrets = ['Doe^Jane', 'PID-0042', '1.2.3.4.5.6.7', '20240615'];
    writeTree(dir, {
      'x1': dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, frames: [[0, 50, 100, 200]], tags: patientTags({ id: 'PID-0042', name: 'Doe^Jane', sop: '1.2.3.4.5.6.7', study: '20240615', sex: 'F' }) }),
      'x2': dicomFile({ rows: 2, cols: 2, bitsAllocated: 8, frames: [[9, 8, 7, 6]], tags: patientTags({ id: 'PID-0042', sex: 'F' }) }),
    });
    const saltFile = join(cache, 'salt');
    const a = loadDataset({ path: dir, size: 2, cacheDir: cache, saltFile });
    const b = loadDataset({ path: dir, size: 2, cacheDir: cache, saltFile });
    expect(entries()).toHaveLength(1);
    expect(Array.from(b.images)).toEqual(Array.from(a.images));
    expect(b.patientIds).toEqual(a.patientIds);
    expect(b.source).toEqual(a.source);
    const raw = readFileSync(join(cache, 'datasets', entries()[0]!)).toString('latin1');
    for (const s of secrets) expect(raw).not.toContain(s);
  });

  it('where: the option, else the process default, else $MEDSYNTH_CACHE (a folder or off), else none', () => {
    const saved = process.env.MEDSYNTH_CACHE;
    try {
      delete process.env.MEDSYNTH_CACHE;
      expect(resolveCacheDir(undefined)).toBeNull();
      process.env.MEDSYNTH_CACHE = join(dir, 'x');
      expect(resolveCacheDir(undefined)).toBe(join(dir, 'x'));
      expect(resolveCacheDir(null)).toBeNull();
      expect(envCacheDir({ MEDSYNTH_CACHE: 'off' })).toBeNull();
      setDefaultCacheDir(join(dir, 'y'));
      expect(resolveCacheDir(undefined)).toBe(join(dir, 'y'));
      setDefaultCacheDir(null);
      expect(resolveCacheDir(undefined)).toBeNull();
    } finally {
      setDefaultCacheDir(undefined);
      if (saved === undefined) delete process.env.MEDSYNTH_CACHE;
      else process.env.MEDSYNTH_CACHE = saved;
    }
  });

  it('a command wrapped by withDataLoadOptions passes --cache-dir / --no-cache to every load its action makes', async () => {
    writePngs();
    const run = async (...flags: string[]) => {
      const cmd = withDataLoadOptions(new Command('x').exitOverride().action(() => void loadDataset({ path: dir, size: 2 })));
      await cmd.parseAsync(flags, { from: 'user' });
    };
    try {
      await run('--no-cache', '--cache-dir', cache);
      expect(readdirSync(cache)).toEqual([]); // --no-cache wins
      await run('--cache-dir', cache);
      expect(entries()).toHaveLength(1);
    } finally {
      setLoadDefaults({});
    }
  });
});
