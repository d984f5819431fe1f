// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth report` as a person sees it: report.html rendered in headless Chromium (Debian's `chromium`
 * driven by playwright-core) with every section and plot visible, no network request, and a screenshot
 * written into the run folder; report.md and report.json beside it; no training image unless asked.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendDecision } from '../../../src/review/log.js';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT } from '../../helpers/fixtures.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** Fitting takes 5 steps per epoch instead of 100, with fewer features: seconds instead of a minute. */
const SMALL = '{"frequencies":128,"perCell":8,"stepsPerEpoch":5}';
const SECTIONS = ['summary', 'privacy', 'attacks', 'fidelity', 'utility', 'diversity', 'samples', 'training', 'provenance'];

let work: string;
let run: string;
let report: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-report-'));
  const data = join(work, 'phantom');
  run = join(work, 'run');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
  // A small DP-MERF (the generator `train --dp` picks): the report's content, not the model, is under test.
  const t = runCli(['train', '--data', data, '--out', run, '--size', '28', '--condition', 'label,sex', '--epochs', '2', '--batch-size', '32', '--model', 'dpmerf', '--model-config', SMALL, '--dp', '--target-epsilon', '8']);
  expect(t.status, t.stderr).toBe(0);
  report = join(work, 'report');
  const r = runCli(['report', '--run', run, '--out', report]);
  expect(r.status, r.stderr).toBe(0);
});

describe('medsynth report', () => {
  it('writes report.html, report.md and report.json with the DP claim and no training image', () => {
    for (const f of ['report.html', 'report.md', 'report.json']) expect(statSync(join(report, f)).size, f).toBeGreaterThan(500);
    const j = JSON.parse(readFileSync(join(report, 'report.json'), 'utf8'));
    expect(j.privacy.differentialPrivacy).toBe(true);
    expect(j.samples.realImagesIncluded).toBe(false);
    expect(j.curves.at(-1).epsilon).toBeCloseTo(j.privacy.epsilon, 10);
    // Files are named relative to the report folder, never by absolute path (#19).
    expect(readFileSync(join(report, 'report.json'), 'utf8')).not.toMatch(/"\/|\s\/(tmp|home|work)\//);
    const html = readFileSync(join(report, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|(src|href)="https?:|<link |url\(/i); // self-contained, nothing fetched
    expect((html.match(/data:image\/png;base64/g) ?? []).length).toBe(1); // the generated grid only
    const md = readFileSync(join(report, 'report.md'), 'utf8');
    expect(md).toMatch(/-DP per patient, PRV accountant/);
    expect(md).toMatch(/## Membership attacks/);
  });

  it('adds real rows only with --include-training-images', () => {
    const out = join(work, 'report-real');
    expect(runCli(['report', '--run', run, '--out', out, '--include-training-images']).status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).samples.realImagesIncluded).toBe(true);
    expect((readFileSync(join(out, 'report.html'), 'utf8').match(/data:image\/png;base64/g) ?? []).length).toBe(2);
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium with every section and plot visible, and saves a screenshot', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const remote: string[] = [];
      page.on('request', (r) => {
        if (!/^(file|data):/.test(r.url())) remote.push(r.url());
      });
      await page.goto(`file://${join(report, 'report.html')}`);
      for (const id of SECTIONS) expect(await page.locator(`section#${id}`).isVisible(), id).toBe(true);
      const charts = page.locator('svg.chart');
      expect(await charts.count()).toBeGreaterThanOrEqual(2); // ε over training, losses
      for (let i = 0; i < (await charts.count()); i++) {
        const box = await charts.nth(i).boundingBox();
        expect(box && box.width > 100 && box.height > 100, `chart ${i}`).toBe(true);
      }
      const img = page.locator('section#samples img.grid').first();
      expect(await img.evaluate((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0)).toBe(true);
      expect(remote).toEqual([]);
      const shot = join(run, 'report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });

  it('carries the ethics checklist, with the human review from sample -> review -> release and the sign-off (#24)', async () => {
    const samples = join(work, 'samples');
    expect(runCli(['sample', '--model', run, '--n', '12', '--out', samples]).status).toBe(0);
    const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 9, 0, s)).toISOString();
    for (let i = 1; i <= 12; i++) {
      const image = `images/syn_${String(i).padStart(6, '0')}.png`;
      appendDecision(samples, i % 4 === 0 ? { reviewer: 'Dr A', time: t(i), image, decision: 'reject', reason: 'artefact' } : { reviewer: 'Dr A', time: t(i), image, decision: 'accept' });
    }
    const released = join(work, 'released');
    const rel = runCli(['release', samples, '--out', released, '--json']);
    expect(rel.status, rel.stderr).toBe(0);
    expect(JSON.parse(rel.stdout)).toMatchObject({ command: 'release', released: 9, summary: { reviewed: 12, rejected: 3 } });
    const signOff = join(work, 'sign-off.json');
    writeFileSync(signOff, JSON.stringify({ signedBy: 'Dr A', date: '2026-12-04', intendedUse: 'teaching', dataLicence: 'phantom: generated by medsynth, no licence restrictions' }));
    const out = join(work, 'report-checklist');
    const r = runCli(['report', '--run', run, '--out', out, '--review', join(released, 'review-summary.json'), '--sign-off', signOff]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/checklist: 2 item\(s\) open for a person \(--sign-off FILE\.json fields: tuningOnPrivateData, clinicalSignOff\)/);
    const j = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const byId = Object.fromEntries((j.checklist as { id: string; status: string; answer: string }[]).map((c) => [c.id, c]));
    expect(byId.dp.status).toBe('done');
    expect(byId.review).toMatchObject({ status: 'done' });
    expect(byId.review.answer).toMatch(/^1 reviewer\(s\) \(Dr A\) decided on 12 of 12 images; 9 released, 3 rejected \(acceptance 75%\)/);
    expect(byId['intended-use']).toMatchObject({ status: 'answered', answer: 'teaching (Dr A, 2026-12-04)' });
    expect(byId['clinical-sign-off'].status).toBe('open');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/<section id="checklist">/);
    expect(html).toMatch(/<section id="review">/);
    expect(html).not.toMatch(/<script|(src|href)="https?:|<link |url\(/i);
    if (!CHROMIUM) return;
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`file://${join(out, 'report.html')}`);
      const section = page.locator('section#checklist');
      expect(await section.isVisible()).toBe(true);
      await page.locator('section#checklist a[href="#review"]').click();
      expect(await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash)).toBe('#review');
      const shot = join(work, 'checklist-screenshot.png');
      await section.screenshot({ path: shot });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      if (process.env.MEDSYNTH_DOCS_SCREENSHOTS === '1') await section.screenshot({ path: join(REPO_ROOT, 'docs/checklist-screenshot.png') });
    } finally {
      await browser.close();
    }
  });

  if (!CHROMIUM) it('browser check skipped: Debian chromium is not installed (apt-get install chromium)', () => {});
});
