import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsErrorReason, limitIndices, loadFolderCsv } from '../../datasets/folder-csv/index.js';
import { ConfigError, DatasetError } from '../../src/core/errors.js';
import { cleanup, expectUserError, greyJpeg8x8, greyPng, pngjsPng, rgbPng, tempDir, writeTree } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  if (dir) {
    try {
      chmodSync(dir, 0o755);
    } catch {
      // already gone
    }
    cleanup(dir);
  }
});

/** A valid three-image dataset: grey PNG, grey JPEG, 16-bit grey PNG (6×4, so it is centre-cropped). */
function goodDataset(manifestExtra = ''): void {
  writeTree(dir, {
    'img/a.png': greyPng(4, 4, 51),
    'img/b.jpg': greyJpeg8x8(),
    'img/c.png': pngjsPng(0, 16, 6, 4, [0, 65535, 1000, 1000, 65535, 0, 0, 65535, 1000, 1000, 65535, 0, 0, 65535, 1000, 1000, 65535, 0, 0, 65535, 1000, 1000, 65535, 0]),
    'manifest.csv':
      'path,label,label_name,split,sex,site,patient_id\n' +
      'img/a.png,0,normal,train,male,s1,P1\n' +
      'img/b.jpg,2,tumour,val,male,s2,P1\n' +
      'img/c.png,0,normal,test,,s1,P2\n' +
      manifestExtra,
  });
}

describe('loadFolderCsv', () => {
  it('loads images, labels, names, splits, attributes, patients, ids and the fingerprint', () => {
    goodDataset();
    const ds = loadFolderCsv({ path: dir, size: 2 });
    expect([ds.n, ds.height, ds.width, ds.channels, ds.bitDepth]).toEqual([3, 2, 2, 1, 16]);
    expect(ds.name).toBe(basename(dir));
    expect(Array.from(ds.labels)).toEqual([0, 2, 0]);
    expect(ds.labelNames).toEqual(['normal', 'class_1', 'tumour']);
    expect(ds.sourceSplits).toEqual(['train', 'holdout', 'test']);
    expect(ds.patientIds).toEqual(['P1', 'P1', 'P2']);
    expect(ds.ids).toEqual(['img/a.png', 'img/b.jpg', 'img/c.png']);
    expect(ds.attributes.map((a) => [a.name, a.values, Array.from(a.codes)])).toEqual([
      ['sex', ['male', 'missing'], [0, 0, 1]],
      ['site', ['s1', 's2'], [0, 1, 0]],
    ]);
    expect(ds.images.length).toBe(3 * 4);
    // a: uniform 51/255; b: uniform ~144/255
    for (const v of ds.images.subarray(0, 4)) expect(v).toBeCloseTo(51 / 255, 6);
    for (const v of ds.images.subarray(4, 8)) expect(Math.abs(v * 255 - 144)).toBeLessThanOrEqual(1);
    // c: 6×4 cropped to columns 1..4 (values 65535, 1000, 1000, 65535 per row), then 4 → 2 area means.
    for (const v of ds.images.subarray(8, 12)) expect(v).toBeCloseTo((65535 + 1000) / 2 / 65535, 6);

    const h = createHash('sha256');
    for (const f of ['manifest.csv', 'img/a.png', 'img/b.jpg', 'img/c.png']) h.update(readFileSync(join(dir, f)));
    expect(ds.source).toEqual({
      kind: 'folder-csv',
      path: dir,
      fingerprint: h.digest('hex'),
      preprocessing: {
        size: 2,
        channels: 1,
        crop: 'center-crop',
        resize: 'area+bilinear',
        colour: 'bt601-luma|replicate',
        alpha: 'drop',
        decoder: expect.stringMatching(/^(sharp|js)$/),
      },
      // 4×4, 8×8 and 6 (wide) × 4 (high) source images.
      sourceDims: { width: [4, 8], height: [4, 8] },
    });
  });

  it('accepts a .csv file; image paths are relative to its folder; name is the file stem', () => {
    writeTree(dir, { 'sub/x.png': rgbPng(3, 3), 'sub/list.csv': 'path,label\nx.png,1\n' });
    const ds = loadFolderCsv({ path: join(dir, 'sub/list.csv'), size: 4 });
    expect([ds.name, ds.n, ds.channels, ds.bitDepth]).toEqual(['list', 1, 3, 8]);
    expect(ds.labelNames).toEqual(['class_0', 'class_1']);
    expect(ds.sourceSplits).toBeUndefined();
    expect(ds.patientIds).toBeUndefined();
    expect(ds.attributes).toEqual([]);
    const [r, g, b] = [200 / 255, 100 / 255, 50 / 255];
    for (let p = 0; p < 16; p++) {
      expect(ds.images[3 * p]).toBeCloseTo(r, 6);
      expect(ds.images[3 * p + 1]).toBeCloseTo(g, 6);
      expect(ds.images[3 * p + 2]).toBeCloseTo(b, 6);
    }
  });

  it('converts mixed grey and colour when --channels is given', () => {
    writeTree(dir, {
      'g.png': greyPng(2, 2, 100),
      'c.png': rgbPng(2, 2, [255, 0, 0]),
      'manifest.csv': 'path,label\ng.png,0\nc.png,1\n',
    });
    const rgb = loadFolderCsv({ path: dir, size: 2, channels: 3 });
    expect(rgb.channels).toBe(3);
    expect(Array.from(rgb.images.subarray(0, 3)).map((v) => Math.round(v * 255))).toEqual([100, 100, 100]);
    expect(Array.from(rgb.images.subarray(12, 15)).map((v) => Math.round(v * 255))).toEqual([255, 0, 0]);
    const grey = loadFolderCsv({ path: dir, size: 2, channels: 1 });
    expect(grey.channels).toBe(1);
    expect(grey.images[4]).toBeCloseTo(0.299, 6);
  });

  it('split aliases map to holdout; empty split is null; split values are case-insensitive', () => {
    writeTree(dir, {
      'a.png': greyPng(2, 2),
      'manifest.csv': 'path,label,split\na.png,0,valid\n./a.png,0,Validation\n././a.png,0,\n./././a.png,0,TRAIN\n',
    });
    expect(loadFolderCsv({ path: dir, size: 2 }).sourceSplits).toEqual(['holdout', 'holdout', null, 'train']);
  });

  it('limit takes evenly spaced rows', () => {
    expect(limitIndices(10, 3)).toEqual([0, 3, 6]);
    expect(limitIndices(3, 10)).toEqual([0, 1, 2]);
    expect(limitIndices(4)).toEqual([0, 1, 2, 3]);
    const lines = Array.from({ length: 6 }, (_, i) => `p${i}.png,${i % 2}`).join('\n');
    const files: Record<string, Buffer | string> = { 'manifest.csv': `path,label\n${lines}\n` };
    for (let i = 0; i < 6; i++) files[`p${i}.png`] = greyPng(2, 2, i * 40);
    writeTree(dir, files);
    const ds = loadFolderCsv({ path: dir, size: 2, limit: 3 });
    expect(ds.ids).toEqual(['p0.png', 'p2.png', 'p4.png']);
    expect(Math.round(ds.images[8]! * 255)).toBe(160);
  });
});

describe('loadFolderCsv errors name the file, line or column and the fix', () => {
  const manifest = (): string => join(dir, 'manifest.csv');

  it('missing folder', () => {
    expectUserError(() => loadFolderCsv({ path: join(dir, 'nope'), size: 8 }), DatasetError, [join(dir, 'nope'), 'no such file']);
  });

  it('folder without manifest.csv', () => {
    writeTree(dir, { 'a.png': greyPng(2, 2) });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [dir, 'no manifest.csv', 'path,label']);
  });

  it('manifest without a path or label column lists the columns found', () => {
    writeTree(dir, { 'manifest.csv': 'file,label,sex\na.png,0,male\n' });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [manifest(), 'no "path" column', 'columns found: file, label, sex']);
    writeTree(dir, { 'manifest.csv': 'path,class\na.png,0\n' });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['no "label" column', 'columns found: path, class']);
  });

  it('empty dataset (header only)', () => {
    writeTree(dir, { 'manifest.csv': 'path,label\n' });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [manifest(), 'empty dataset']);
  });

  it('missing image file names the line and the path', () => {
    goodDataset('img/gone.png,1,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [`${manifest()} line 5`, '"img/gone.png"', 'not found']);
  });

  it('corrupt image names the line and the path', () => {
    goodDataset('img/bad.png,1,,train,male,s1,P3\n');
    writeTree(dir, { 'img/bad.png': greyPng(4, 4).subarray(0, 30) });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [`${manifest()} line 5`, 'img/bad.png', 'not a readable']);
  });

  it('non-integer and negative labels name the line and value', () => {
    goodDataset('img/x.png,1.5,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [`${manifest()} line 5`, 'label "1.5"']);
    goodDataset('img/x.png,-1,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [`${manifest()} line 5`, 'label "-1"']);
    goodDataset('img/x.png,,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['line 5', 'label ""']);
  });

  it('values with line breaks are escaped so the message stays on one line', () => {
    writeTree(dir, { 'a.png': greyPng(2, 2), 'manifest.csv': 'path,label\na.png,"1\n2"\n' });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['line 2', 'label "1\\n2"']);
  });

  it('one label with two names names both lines', () => {
    goodDataset('img/d.png,2,glioma,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [
      `${manifest()} lines 3 and 5`,
      'label 2',
      '"tumour"',
      '"glioma"',
    ]);
  });

  it('one name for two labels names both lines', () => {
    goodDataset('img/d.png,1,normal,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['lines 2 and 5', '"normal"']);
  });

  it('unknown split value names the line', () => {
    goodDataset('img/d.png,1,,dev,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [`${manifest()} line 5`, 'split "dev"']);
  });

  it('duplicate image path names both lines', () => {
    goodDataset('img/a.png,0,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['lines 2 and 5', '"img/a.png"', 'twice']);
  });

  it('empty patient_id names the line', () => {
    goodDataset('img/a2.png,0,,train,male,s1,\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['line 5', 'patient_id']);
  });

  it('mixed grey and colour without --channels tells the user to pass it', () => {
    writeTree(dir, { 'g.png': greyPng(2, 2), 'c.png': rgbPng(2, 2), 'manifest.csv': 'path,label\ng.png,0\nc.png,1\n' });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [
      manifest(),
      'line 2 "g.png" is grey',
      'line 3 "c.png" is colour',
      '--channels 1 or --channels 3',
    ]);
  });

  it('a manifest that cannot be read (EISDIR) names it and the reason', () => {
    mkdirSync(join(dir, 'manifest.csv'));
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [manifest(), 'EISDIR']);
  });

  it('an image path that is a folder names the line', () => {
    goodDataset('img,0,,train,male,s1,P3\n');
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['line 5', '"img"', 'EISDIR']);
  });

  const isRoot = process.getuid?.() === 0;
  if (isRoot) console.warn('skipping the chmod-based EACCES test: running as root, which ignores permissions');
  it.skipIf(isRoot)('an unreadable folder (EACCES) names the path and the reason', () => {
    goodDataset();
    chmodSync(dir, 0o000);
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, ['EACCES', 'permission']);
  });

  it('EACCES and other fs errors are described by code', () => {
    const e = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' });
    expect(fsErrorReason(e)).toBe('EACCES: permission denied');
    expect(fsErrorReason(Object.assign(new Error('EFOO: strange thing, open /x'), { code: 'EFOO' }))).toBe('EFOO: strange thing');
  });

  it('a manifest that is not UTF-8', () => {
    writeTree(dir, { 'manifest.csv': Uint8Array.from([0x70, 0x61, 0x74, 0x68, 0xff, 0xfe, 0x0a]) });
    expectUserError(() => loadFolderCsv({ path: dir, size: 8 }), DatasetError, [manifest(), 'UTF-8']);
  });

  it('bad options are ConfigErrors naming the option', () => {
    goodDataset();
    expectUserError(() => loadFolderCsv({ path: dir, size: 0 }), ConfigError, ['--size 0']);
    expectUserError(() => loadFolderCsv({ path: dir, size: 8, limit: 0 }), ConfigError, ['--limit 0']);
    expectUserError(() => loadFolderCsv({ path: dir, size: 8, channels: 2 as 1 }), ConfigError, ['--channels 2']);
    expectUserError(() => loadFolderCsv({ path: dir, size: 8, attributes: ['age'] }), ConfigError, ['--attributes age', 'available: sex, site']);
  });
});
