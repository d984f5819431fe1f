import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../datasets/load.js';
import { ConfigError, DatasetError } from '../../src/core/errors.js';
import { cleanup, expectUserError, greyPng, npyBytes, npzBytes, tempDir, writeTree } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = tempDir();
  writeTree(dir, {
    'set/a.png': greyPng(2, 2),
    'set/manifest.csv': 'path,label\na.png,0\n',
    'set/other.csv': 'path,label\na.png,1\n',
    'x.npz': npzBytes({
      train_images: npyBytes('|u1', [1, 2, 2], new Uint8Array(4)),
      train_labels: npyBytes('|u1', [1, 1], new Uint8Array(1)),
    }),
    'upper/X.NPZ': npzBytes({
      test_images: npyBytes('|u1', [1, 2, 2], new Uint8Array(4)),
      test_labels: npyBytes('|u1', [1], new Uint8Array(1)),
    }),
    'notes.txt': 'hello',
  });
});
afterEach(() => cleanup(dir));

describe('loadDataset dispatch', () => {
  it('folder → folder-csv, .csv → folder-csv, .npz → medmnist-npz (extension case-insensitive)', () => {
    expect(loadDataset({ path: join(dir, 'set'), size: 4 }).source.kind).toBe('folder-csv');
    const csv = loadDataset({ path: join(dir, 'set/other.csv'), size: 4 });
    expect([csv.source.kind, csv.labels[0]]).toEqual(['folder-csv', 1]);
    expect(loadDataset({ path: join(dir, 'x.npz'), size: 4 }).source.kind).toBe('medmnist-npz');
    expect(loadDataset({ path: join(dir, 'upper/X.NPZ'), size: 4 }).ids).toEqual(['npz:test:0']);
  });

  it('a path that does not exist', () => {
    expectUserError(() => loadDataset({ path: join(dir, 'missing'), size: 4 }), DatasetError, [join(dir, 'missing'), 'no such file or folder', '.npz']);
  });

  it('an unsupported file type says what is accepted', () => {
    expectUserError(() => loadDataset({ path: join(dir, 'notes.txt'), size: 4 }), DatasetError, [
      'notes.txt',
      'manifest.csv',
      '.csv',
      '.npz',
    ]);
  });

  it('checks options first', () => {
    expectUserError(() => loadDataset({ path: join(dir, 'missing'), size: 2.5 }), ConfigError, ['--size 2.5']);
  });
});
