// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * The main job as a new user runs it: `medsynth demo --quick` goes through all six stages (phantom data,
 * the private generator `train --dp` picks, at ε = 8 per patient, balance, evaluate, audit, report), ends
 * by printing the report's path,
 * and leaves a report whose privacy claim matches the run's model card. The full demo's time is measured
 * in eval/results (not asserted here).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

describe('medsynth demo --quick', () => {
  it('runs the whole pipeline and prints the report path last', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'medsynth-demo-')), 'demo');
    const r = runCli(['demo', '--quick', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    for (const stage of ['[1/6] phantom data', '[2/6] private generator: epsilon 8, patients', '[3/6] balance', '[4/6] evaluate', '[5/6] audit', '[6/6] report']) {
      expect(r.stderr).toContain(stage);
    }
    // The evaluation says which stage it is in, and ends its bar at 100% (#19.17); lines in between come
    // every 20 s, so how many depends on the machine.
    for (const stage of ['features (1/5)', 'fidelity (2/5)', 'utility (3/5): training the evaluation classifier', 'diversity (4/5)', 'fairness (5/5)']) {
      expect(r.stderr).toContain(`\n      ${stage}`);
    }
    expect(r.stderr).toContain('      [####################] 100%  done; fairness 5/5 100%: done\n[5/6] audit');
    // The audit names its stages and ends its bar at 100% before the report starts.
    for (const st of ['load (1/3)', 'samples (2/3)', 'attacks (3/3)']) expect(r.stderr).toContain(`      ${st}: `);
    expect(r.stderr).toContain('100%  done; attacks 3/3 100%: done\n[6/6] report');
    const last = r.stdout.trim().split('\n').pop()!;
    expect(last).toBe(join(out, 'report', 'report.html'));
    for (const f of ['report.html', 'report.md', 'report.json']) expect(existsSync(join(out, 'report', f)), f).toBe(true);
    const card = JSON.parse(readFileSync(join(out, 'run', 'model-card.json'), 'utf8'));
    expect(card.privacy.unit).toBe('patient');
    expect(card.privacy.epsilon).toBeLessThanOrEqual(8);
    // The generator is the one the selection rule names, and the run records why.
    const runJson = JSON.parse(readFileSync(join(out, 'run', 'run.json'), 'utf8'));
    expect(runJson.model).toBe('dpmerf');
    expect(runJson.selection.reason).toMatch(/^dpmerf \(DP-MERF/);
    expect(r.stderr).toContain(runJson.selection.reason);
    // The claim as printed names its unit, ε, δ and accountant (a one-shot release: PRV).
    expect(r.stderr).toContain(`(${card.privacy.epsilon.toFixed(2)}, ${card.privacy.delta})-DP per patient, PRV accountant, 1 private release`);
    const rep = JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8'));
    expect(rep.privacy.epsilon).toBe(card.privacy.epsilon);
    expect(rep.audit.attacks.length).toBeGreaterThan(0);
    expect(rep.evaluation.utility.ways).toHaveLength(4);
    expect(rep.evaluation.utility.augmentedVsOversampling.verdict).toBeTruthy();
    const demo = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8'));
    expect(demo.quick).toBe(true);
    // Nothing of the patients leaks into the report: no patient id appears in it.
    const ids = new Set(readFileSync(join(out, 'phantom', 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').pop()!));
    const html = readFileSync(join(out, 'report', 'report.html'), 'utf8');
    expect(html).toMatch(/ROC curves of the membership attacks \(log-log\)/);
    expect(html).toMatch(/Images per class × group cell/);
    for (const id of [...ids].slice(0, 50)) expect(html.includes(`>${id}<`) || html.includes(`"${id}"`), id).toBe(false);
  });

  it('replaces only a folder an earlier demo wrote: a look-alike is refused and left as it was', () => {
    const root = mkdtempSync(join(tmpdir(), 'medsynth-demo-guard-'));
    const cases: [string, Record<string, string>][] = [
      ['phantom-folder', { 'phantom/notes.txt': 'a user file' }], // a "phantom" folder that is not the demo's data
      ['other-json', { 'demo.json': '{"command":"something else"}', 'keep.txt': 'x' }],
    ];
    for (const [name, files] of cases) {
      const out = join(root, name);
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(out, path)), { recursive: true });
        writeFileSync(join(out, path), text);
      }
      const r = runCli(['demo', '--quick', '--out', out]);
      expect(r.status, name).toBe(2);
      expect(r.stderr).toMatch(/exists and is not an earlier demo; choose another folder/);
      for (const [path, text] of Object.entries(files)) expect(readFileSync(join(out, path), 'utf8'), path).toBe(text);
    }
  });
});

