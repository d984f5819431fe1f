import { describe, expect, it } from 'vitest';
import { parseNpy } from '../../datasets/npy.js';
import { DatasetError } from '../../src/core/errors.js';
import { expectUserError, npyBytes } from './helpers.js';

describe('parseNpy', () => {
  it('reads |u1 with a v1.0 header', () => {
    const a = parseNpy(npyBytes('|u1', [2, 3], Uint8Array.from([0, 1, 2, 253, 254, 255])), 'a.npy');
    expect(a.dtype).toBe('|u1');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it('reads <f4, <f8, <i4 and <i8, also from a v2.0 header and an unaligned data offset', () => {
    const f4 = parseNpy(npyBytes('<f4', [3], Float32Array.from([0.5, -1, 3.25]), { version: 2 }), 'f4.npy');
    expect([f4.dtype, Array.from(f4.data)]).toEqual(['<f4', [0.5, -1, 3.25]]);
    const f8 = parseNpy(npyBytes('<f8', [2], Float64Array.from([Math.PI, -0])), 'f8.npy');
    expect(Array.from(f8.data)).toEqual([Math.PI, -0]);
    const i4 = parseNpy(npyBytes('<i4', [2], Int32Array.from([-7, 2147483647])), 'i4.npy');
    expect(Array.from(i4.data)).toEqual([-7, 2147483647]);
    const i8 = parseNpy(npyBytes('<i8', [3, 1], BigInt64Array.from([0n, 5n, -(2n ** 40n)])), 'i8.npy');
    expect([i8.dtype, i8.shape, Array.from(i8.data)]).toEqual(['<i8', [3, 1], [0, 5, -(2 ** 40)]]);
    // Data starting at an odd byte offset inside a larger buffer.
    const bytes = npyBytes('<f4', [1], Float32Array.from([1.5]));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(parseNpy(shifted.subarray(1), 's.npy').data)).toEqual([1.5]);
  });

  it('reads a 1-D shape written as (n,) and treats <u1 as |u1', () => {
    const a = parseNpy(npyBytes('<u1', [4], Uint8Array.from([9, 8, 7, 6])), 'u.npy');
    expect([a.dtype, a.shape]).toEqual(['|u1', [4]]);
  });

  it('errors name the file and the problem', () => {
    expectUserError(() => parseNpy(npyBytes('|u1', [2, 2], new Uint8Array(4), { fortran: true }), 'x.npz:train_images'), DatasetError, [
      'x.npz:train_images',
      'fortran_order',
    ]);
    expectUserError(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'junk.npy'), DatasetError, ['junk.npy', 'magic']);
    expectUserError(() => parseNpy(npyBytes('|u1', [10], new Uint8Array(4)), 'short.npy'), DatasetError, ['short.npy', 'cut short']);
    expectUserError(() => parseNpy(npyBytes('>f4', [1], new Uint8Array(4)), 'be.npy'), DatasetError, ['be.npy', 'dtype >f4']);
    expectUserError(() => parseNpy(npyBytes('<c8', [1], new Uint8Array(8)), 'c.npy'), DatasetError, ['c.npy', 'dtype <c8']);
    const huge = npyBytes('<i8', [1], BigInt64Array.from([2n ** 60n]));
    expectUserError(() => parseNpy(huge, 'big.npy'), DatasetError, ['big.npy', 'too large']);
    const bytes = npyBytes('|u1', [1], new Uint8Array(1));
    bytes[6] = 9;
    expectUserError(() => parseNpy(bytes, 'v9.npy'), DatasetError, ['v9.npy', 'version 9']);
  });
});
