import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMedmnistNpz } from '../../datasets/medmnist/npz.js';
import { DatasetError } from '../../src/core/errors.js';
import { cleanup, expectUserError, npyBytes, npzBytes, tempDir, writeTree } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => cleanup(dir));

/** Grey images [n, h, w], image k uniform with value base + k. */
const greyImages = (n: number, h: number, w: number, base: number): Uint8Array =>
  npyBytes('|u1', [n, h, w], Uint8Array.from({ length: n * h * w }, (_, i) => base + Math.floor(i / (h * w))));
const labels = (vals: number[]): Uint8Array => npyBytes('|u1', [vals.length, 1], Uint8Array.from(vals));

function write(arrays: Record<string, Uint8Array>, name = 'tiny.npz'): string {
  const file = join(dir, name);
  writeTree(dir, { [name]: npzBytes(arrays) });
  return file;
}

const standard = (): Record<string, Uint8Array> => ({
  train_images: greyImages(3, 4, 4, 10),
  train_labels: labels([0, 1, 1]),
  val_images: greyImages(1, 4, 4, 100),
  val_labels: labels([2]),
  test_images: greyImages(2, 4, 4, 200),
  test_labels: labels([0, 1]),
});

describe('loadMedmnistNpz', () => {
  it('loads train/val/test with ids, source splits, labels, pixels and fingerprint', () => {
    const file = write(standard());
    const ds = loadMedmnistNpz({ path: file, size: 8 });
    expect([ds.name, ds.n, ds.height, ds.width, ds.channels, ds.bitDepth]).toEqual(['tiny', 6, 8, 8, 1, 8]);
    expect(ds.ids).toEqual(['npz:train:0', 'npz:train:1', 'npz:train:2', 'npz:val:0', 'npz:test:0', 'npz:test:1']);
    expect(ds.sourceSplits).toEqual(['train', 'train', 'train', 'holdout', 'test', 'test']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 1, 2, 0, 1]);
    expect(ds.labelNames).toEqual(['class_0', 'class_1', 'class_2']);
    expect(ds.attributes).toEqual([]);
    expect(ds.patientIds).toBeUndefined();
    const expected = [10, 11, 12, 100, 200, 201];
    expected.forEach((v, i) => {
      for (const x of ds.images.subarray(i * 64, (i + 1) * 64)) expect(x).toBeCloseTo(v / 255, 6);
    });
    expect(ds.source.kind).toBe('medmnist-npz');
    expect(ds.source.fingerprint).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect(ds.source.preprocessing.size).toBe(8);
  });

  it('reads RGB [N,H,W,3] and converts with --channels', () => {
    const rgb = npyBytes('|u1', [1, 2, 2, 3], Uint8Array.from([255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0]));
    const file = write({ train_images: rgb, train_labels: npyBytes('<i8', [1], BigInt64Array.from([3n])) });
    const col = loadMedmnistNpz({ path: file, size: 2 });
    expect([col.channels, Array.from(col.images.subarray(0, 3)), Array.from(col.labels)]).toEqual([3, [1, 0, 0], [3]]);
    const grey = loadMedmnistNpz({ path: file, size: 2, channels: 1 });
    expect(grey.channels).toBe(1);
    expect(grey.images[0]).toBeCloseTo(0.299, 6);
  });

  it('limit picks evenly spaced images across the splits', () => {
    const ds = loadMedmnistNpz({ path: write(standard()), size: 4, limit: 3 });
    expect(ds.ids).toEqual(['npz:train:0', 'npz:train:2', 'npz:test:0']);
  });
});

describe('loadMedmnistNpz errors name the file and array', () => {
  it('multi-label arrays are refused', () => {
    const a = standard();
    a.train_labels = npyBytes('|u1', [3, 4], new Uint8Array(12));
    expectUserError(() => loadMedmnistNpz({ path: write(a), size: 8 }), DatasetError, ['tiny.npz:train_labels', 'multi-label', 'not supported yet']);
  });

  it('a file that is not a zip', () => {
    writeTree(dir, { 'bad.npz': 'this is not a zip file at all' });
    expectUserError(() => loadMedmnistNpz({ path: join(dir, 'bad.npz'), size: 8 }), DatasetError, ['bad.npz', 'not a readable .npz']);
  });

  it('a truncated zip', () => {
    const bytes = npzBytes(standard());
    writeTree(dir, { 'cut.npz': bytes.subarray(0, Math.floor(bytes.length / 2)) });
    expectUserError(() => loadMedmnistNpz({ path: join(dir, 'cut.npz'), size: 8 }), DatasetError, ['cut.npz']);
  });

  it('a damaged npy inside names the array key', () => {
    const a = standard();
    a.val_images = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expectUserError(() => loadMedmnistNpz({ path: write(a), size: 8 }), DatasetError, ['tiny.npz:val_images', 'not a readable .npy']);
  });

  it('images without labels, label count mismatch, bad shape, no known arrays', () => {
    const a = standard();
    delete (a as Partial<typeof a>).test_labels;
    expectUserError(() => loadMedmnistNpz({ path: write(a, 'a.npz'), size: 8 }), DatasetError, ['a.npz', 'no test_labels']);
    const b = standard();
    b.train_labels = labels([0, 1]);
    expectUserError(() => loadMedmnistNpz({ path: write(b, 'b.npz'), size: 8 }), DatasetError, ['b.npz:train_labels', '2 labels for 3 images']);
    const c = standard();
    c.train_images = npyBytes('|u1', [3, 4, 4, 4, 4], new Uint8Array(3 * 256));
    expectUserError(() => loadMedmnistNpz({ path: write(c, 'c.npz'), size: 8 }), DatasetError, ['c.npz:train_images', 'shape (3, 4, 4, 4, 4)']);
    expectUserError(() => loadMedmnistNpz({ path: write({ x: labels([1]) }, 'd.npz'), size: 8 }), DatasetError, ['d.npz', 'found: x']);
  });

  it('mixed grey and colour splits without --channels', () => {
    const a = standard();
    a.test_images = npyBytes('|u1', [2, 4, 4, 3], new Uint8Array(2 * 48));
    expectUserError(() => loadMedmnistNpz({ path: write(a), size: 8 }), DatasetError, ['train_images is grey', 'test_images is colour', '--channels 1']);
  });

  it('missing file', () => {
    expectUserError(() => loadMedmnistNpz({ path: join(dir, 'none.npz'), size: 8 }), DatasetError, ['none.npz', 'ENOENT']);
  });
});
