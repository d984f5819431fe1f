/**
 * writeDirAtomic on an existing folder: refused unless it is empty, or `force` is set and it holds the
 * same command's marker file; the replacement is complete or nothing changes; nothing else is deleted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { OUTPUT_MARKER, checkOutputDir, markerCommand, recoverDirAtomic, writeDirAtomic } from '../../../src/core/fs.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-fs-'));
});

const fill = (tmp: string) => writeFileSync(join(tmp, 'report.html'), 'new');
const opts = { option: '--out', marker: 'medsynth report' };

/** A researcher's folder that no medsynth command wrote. */
function datasetFolder(): string {
  const dir = join(work, 'dataset');
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'manifest.csv'), 'path,label\nimages/a.png,0\n');
  writeFileSync(join(dir, 'images', 'a.png'), 'png');
  return dir;
}

describe('writeDirAtomic with a marker', () => {
  it('writes the marker naming the command into a new folder', async () => {
    const out = join(work, 'report');
    await writeDirAtomic(out, fill, opts);
    expect(markerCommand(out)).toBe('medsynth report');
    expect(JSON.parse(readFileSync(join(out, OUTPUT_MARKER), 'utf8')).writtenBy).toBe('medsynth report');
  });

  it('accepts an existing empty folder', async () => {
    const out = join(work, 'empty');
    mkdirSync(out);
    await writeDirAtomic(out, fill, opts);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toBe('new');
  });

  it('refuses a folder it did not write, with or without force, and deletes nothing', async () => {
    const dir = datasetFolder();
    const before = readdirSync(dir, { recursive: true }).sort();
    for (const force of [false, true]) {
      await expect(writeDirAtomic(dir, fill, { ...opts, force })).rejects.toThrow(ConfigError);
      await expect(writeDirAtomic(dir, fill, { ...opts, force })).rejects.toThrow(/--out .*dataset already exists and was not written by medsynth; choose a new folder/);
      expect(readdirSync(dir, { recursive: true }).sort()).toEqual(before);
    }
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary folder left
  });

  it('refuses an earlier output without force, and replaces it with force', async () => {
    const out = join(work, 'report');
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'old.txt'), 'old'), opts);
    expect(() => checkOutputDir(out, opts)).toThrow(/--out .*report already holds an earlier medsynth report output; choose a new folder, or add --force/);
    await expect(writeDirAtomic(out, fill, opts)).rejects.toThrow(/add --force/);
    expect(existsSync(join(out, 'old.txt'))).toBe(true);
    await writeDirAtomic(out, fill, { ...opts, force: true });
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'report.html']);
    expect(readdirSync(work)).toEqual(['report']); // the old folder moved aside is gone
  });

  it('does not let --force of one command replace another command\'s output', async () => {
    const out = join(work, 'samples');
    await writeDirAtomic(out, fill, { marker: 'medsynth sample' });
    await expect(writeDirAtomic(out, fill, { ...opts, force: true })).rejects.toThrow(/was written by medsynth sample/);
  });

  it('keeps the earlier output when the new one fails', async () => {
    const out = join(work, 'report');
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'old.txt'), 'old'), opts);
    await expect(
      writeDirAtomic(out, () => {
        throw new Error('boom');
      }, { ...opts, force: true }),
    ).rejects.toThrow('boom');
    expect(readFileSync(join(out, 'old.txt'), 'utf8')).toBe('old');
    expect(readdirSync(work)).toEqual(['report']);
  });

  it('refuses any existing folder without a marker option, as before', async () => {
    const out = join(work, 'empty');
    mkdirSync(out);
    await expect(writeDirAtomic(out, fill, { option: '--out' })).rejects.toThrow(/--out .*empty already exists/);
  });
});

/** The id of a process that has exited (as after kill -9). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('recoverDirAtomic (after a writeDirAtomic killed part-way)', () => {
  it('removes its own leftover temporary folders, and nothing else beside them', async () => {
    const out = join(work, 'checkpoint');
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'state.json'), '{"step":10}'), { overwrite: true });
    const pid = deadPid();
    const tmp = join(work, `.checkpoint.tmp-${pid}-1700000000000`);
    mkdirSync(join(tmp, 'encoder'), { recursive: true });
    writeFileSync(join(tmp, 'encoder', 'model.bin'), 'half');
    // Not written by writeDirAtomic for this folder: kept.
    const keep = ['.checkpoint.tmp-notes', `.checkpoint.tmp-${pid}`, `.other.tmp-${pid}-1700000000000`, 'checkpoint.tmp-1-2'];
    for (const k of keep) mkdirSync(join(work, k));
    writeFileSync(join(work, `.checkpoint.old-${pid}-1700000000001`), 'a file, not a folder');
    const r = recoverDirAtomic(out);
    expect(r).toEqual({ restored: null, removed: [tmp] });
    expect(readFileSync(join(out, 'state.json'), 'utf8')).toBe('{"step":10}');
    expect(readdirSync(work).sort()).toEqual([...keep, `.checkpoint.old-${pid}-1700000000001`, 'checkpoint'].sort());
  });

  it('restores the last complete folder when the crash came between moving it aside and renaming the new one in', () => {
    const out = join(work, 'checkpoint');
    const pid = deadPid();
    const old = join(work, `.checkpoint.old-${pid}-1700000000000`);
    const tmp = join(work, `.checkpoint.tmp-${pid}-1700000000000`);
    mkdirSync(old);
    writeFileSync(join(old, 'state.json'), '{"step":10}');
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'state.json'), '{"step":15}');
    const r = recoverDirAtomic(out);
    expect(r.restored).toBe(old);
    expect(r.removed).toEqual([tmp]);
    expect(readFileSync(join(out, 'state.json'), 'utf8')).toBe('{"step":10}');
    expect(readdirSync(work)).toEqual(['checkpoint']);
  });

  it('leaves the folders of a writer that is still running', () => {
    const out = join(work, 'checkpoint');
    const live = join(work, `.checkpoint.tmp-${process.ppid}-1700000000000`);
    mkdirSync(live);
    expect(recoverDirAtomic(out)).toEqual({ restored: null, removed: [] });
    expect(existsSync(live)).toBe(true);
  });
});
