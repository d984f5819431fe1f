/**
 * The demo's "still running" ticker (#19.17) prints while the main thread is blocked by synchronous work
 * (as the audit's tensor code blocks it), and stops when asked.
 */
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTicker } from '../../../src/cli/ticker.js';

describe('startTicker', () => {
  it('writes a line per interval while the main thread is busy, and none after stop', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'medsynth-ticker-')), 'stderr.txt');
    const fd = openSync(file, 'w');
    try {
      const ticker = startTicker('audit', { everyMs: 50, indent: '  ', fd });
      // Let the worker start, then block the main thread for 600 ms: no timer of ours could fire here.
      await new Promise((r) => setTimeout(r, 200));
      const until = Date.now() + 600;
      while (Date.now() < until) {
        /* synchronous work */
      }
      const during = readFileSync(file, 'utf8');
      await ticker.stop();
      const atStop = readFileSync(file, 'utf8');
      await new Promise((r) => setTimeout(r, 200));
      expect(readFileSync(file, 'utf8')).toBe(atStop);
      const lines = during.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThanOrEqual(6);
      for (const l of lines) expect(l).toMatch(/^ {2}still running: audit, elapsed \d+s$/);
    } finally {
      closeSync(fd);
    }
  });
});
