/**
 * The review page in a real browser (#24): Debian's chromium driven by playwright-core opens the printed
 * URL, accepts and rejects with the keyboard, reloads (decisions survive), and review.jsonl and release
 * agree; a page without the token gets 403; no request leaves 127.0.0.1. Skips with a message when chromium
 * is absent. MEDSYNTH_DOCS_SCREENSHOTS=1 also writes docs/review-screenshot.png.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLog, REVIEW_LOG } from '../../../src/review/log.js';
import { loadNearestIndex } from '../../../src/review/nearest.js';
import { releaseReviewed } from '../../../src/review/release.js';
import { startReviewServer } from '../../../src/review/server.js';
import { REPO_ROOT } from '../../helpers/fixtures.js';
import { makeSamples } from './fixture.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

describe('medsynth review in a browser', () => {
  it.skipIf(!CHROMIUM)('accepts and rejects with the keyboard, survives a reload, and release agrees with review.jsonl', async () => {
    const dir = makeSamples(3, 64);
    const server = await startReviewServer({ dir, reviewer: 'Dr Test', port: 0 });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const remote: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(`http://127.0.0.1:${server.port}/`)) remote.push(r.url());
      });
      const noToken = await page.goto(`http://127.0.0.1:${server.port}/`);
      expect(noToken?.status()).toBe(403);

      await page.goto(server.url);
      await page.waitForSelector('body[data-ready="1"]');
      expect(await page.locator('section.cell').count()).toBe(4);
      expect(await page.locator('figure').count()).toBe(12);
      // data-ready means the grid is built; the images then load on their own, so wait for them (a busy
      // 2-core machine can take a moment) rather than read them at once.
      const loaded = () => page.locator('figure img').evaluateAll((els) => els.every((e) => (e as unknown as { complete: boolean; naturalWidth: number }).complete && (e as unknown as { naturalWidth: number }).naturalWidth === 64));
      await expect.poll(loaded, { timeout: 15_000 }).toBe(true);
      // The n-th decision is in the log and painted (so the page has moved on to the next image).
      const saved = async (n: number) => {
        await expect.poll(() => readLog(join(dir, REVIEW_LOG)).entries.length, { timeout: 15_000 }).toBe(n);
        await expect.poll(() => page.locator('figure.accept, figure.reject, figure.skip').count(), { timeout: 15_000 }).toBe(n);
      };

      await page.keyboard.press('a'); // syn_000001 accept
      await saved(1);
      await page.keyboard.press('r'); // syn_000002 reject: artefact
      await page.keyboard.press('2');
      await saved(2);
      await page.keyboard.press('s'); // syn_000003 skip
      await saved(3);
      await page.keyboard.press('r'); // syn_000004 reject: other + note
      await page.keyboard.press('5');
      await page.keyboard.type('ribs fused');
      await page.keyboard.press('Enter');
      await saved(4);
      await page.keyboard.press('a'); // syn_000005 accept
      await saved(5);
      await page.keyboard.press('+');
      expect(await page.locator('figure.accept').count()).toBe(2);

      await page.reload();
      await page.waitForSelector('body[data-ready="1"]');
      expect(await page.locator('figure.accept').count()).toBe(2);
      expect(await page.locator('figure.reject').count()).toBe(2);
      expect(await page.locator('figure.skip').count()).toBe(1);
      expect(await page.locator('figure.current').getAttribute('data-image')).toBe('images/syn_000006.png'); // the first undecided
      expect(await page.locator('#progress').textContent()).toBe('4 / 12 decided by Dr Test');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('z'); // enlarge
      expect(await page.locator('#big').isVisible()).toBe(true);
      await page.keyboard.press('Escape');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('a'); // syn_000006 accept after the reload
      await expect.poll(() => readLog(join(dir, REVIEW_LOG)).entries.length, { timeout: 15_000 }).toBe(6);
      await expect.poll(() => page.locator('figure.accept').count(), { timeout: 15_000 }).toBe(3);
      if (process.env.MEDSYNTH_DOCS_SCREENSHOTS === '1') await page.screenshot({ path: join(REPO_ROOT, 'docs/review-screenshot.png') });
      const shot = join(dir, 'review-screenshot.png');
      await page.screenshot({ path: shot });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(remote).toEqual([]);

      const entries = readLog(join(dir, REVIEW_LOG)).entries;
      expect(entries.map((e) => [e.image.slice(-10), e.decision, e.reason ?? '', e.note ?? ''])).toEqual([
        ['000001.png', 'accept', '', ''],
        ['000002.png', 'reject', 'artefact', ''],
        ['000003.png', 'skip', '', ''],
        ['000004.png', 'reject', 'other', 'ribs fused'],
        ['000005.png', 'accept', '', ''],
        ['000006.png', 'accept', '', ''],
      ]);
      expect(new Set(entries.map((e) => e.reviewer))).toEqual(new Set(['Dr Test']));
      const r = await releaseReviewed({ samples: dir, out: join(dir, 'released') });
      expect(r.released).toEqual(entries.filter((e) => e.decision === 'accept').map((e) => e.image));
      expect(r.summary.rejected).toBe(2);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  it.skipIf(!CHROMIUM)('with --show-nearest, shows the nearest real training image beside the current and the enlarged sample', async () => {
    const data = makeSamples(2, 64);
    mkdirSync(join(data, 'run'));
    writeFileSync(join(data, 'run', 'run.json'), JSON.stringify({ data, size: 64, channels: 1, splitSeed: 1 }));
    const server = await startReviewServer({ dir: makeSamples(1, 64), reviewer: 'Dr Test', port: 0, nearest: loadNearestIndex(join(data, 'run')) });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(server.url);
      await page.waitForSelector('body[data-ready="1"]');
      expect(await page.locator('#nearnote').textContent()).toMatch(/Near-copy check ON/);
      const natural = (sel: string) => page.locator(sel).evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth);
      await expect.poll(() => natural('#near'), { timeout: 15_000 }).toBe(64);
      await page.keyboard.press('z');
      await expect.poll(() => natural('#bignear'), { timeout: 15_000 }).toBe(64);
      expect(await page.locator('#bignear').isVisible()).toBe(true);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  if (!CHROMIUM) it('browser check skipped: Debian chromium is not installed (apt-get install chromium)', () => {});
});
