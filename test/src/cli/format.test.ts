import { describe, expect, it } from 'vitest';
import { formatSeconds, verdictLine } from '../../../src/cli/commands/shared.js';

describe('formatSeconds (progress lines of train and demo)', () => {
  it('writes minutes and zero-padded seconds, plain seconds under a minute, and ? when unknown', () => {
    expect(formatSeconds(185)).toBe('3m05s');
    expect(formatSeconds(42.4)).toBe('42s');
    expect(formatSeconds(60)).toBe('1m00s');
    expect(formatSeconds(Infinity)).toBe('?');
    expect(formatSeconds(NaN)).toBe('?');
  });
});

describe('verdictLine (the verdicts printed by report and demo)', () => {
  it('aligns area and level, and does not repeat a level the text opens with', () => {
    expect(verdictLine('fairness', { level: 'not informative', text: 'not informative: CI too wide' })).toBe('fairness  not informative CI too wide');
    expect(verdictLine('utility', { level: 'poor', text: 'synthetic-only training reaches 0.66' })).toBe('utility   poor    synthetic-only training reaches 0.66');
    expect(verdictLine('privacy', { level: 'good', text: 'good news: low leakage' })).toBe('privacy   good    good news: low leakage'); // only "level:" is a repeat
  });
});
