import { describe, expect, it } from 'vitest';
import { formatSeconds } from '../../../src/cli/commands/shared.js';

describe('formatSeconds (progress lines of train and demo)', () => {
  it('writes minutes and zero-padded seconds, plain seconds under a minute, and ? when unknown', () => {
    expect(formatSeconds(185)).toBe('3m05s');
    expect(formatSeconds(42.4)).toBe('42s');
    expect(formatSeconds(60)).toBe('1m00s');
    expect(formatSeconds(Infinity)).toBe('?');
    expect(formatSeconds(NaN)).toBe('?');
  });
});
