// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth report --eval FILE --audit FILE` reads both files through src/report/inputs.ts (#21): the files
 * the CLI writes (a tiny DP-MERF audit run with input canaries, balanced, evaluated with an augmented set
 * and audited with every attack) parse and come back unchanged; the writers' result types fit the report's
 * schemas (checked by tsc); and a wrong, truncated, edited or missing file ends the command with exit 2, one
 * line naming the option, the file and the field, and no output folder.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { AuditResult } from '../../../src/audit/audit.js';
import { DatasetError } from '../../../src/core/errors.js';
import type { EvaluateResult } from '../../../src/evaluate/evaluate.js';
import { AuditSchema, EvaluationSchema, readAudit, readEvaluation, type Audit, type Evaluation } from '../../../src/report/inputs.js';
import { runCli, type CliResult } from '../../helpers/cli.js';

/** DP-MERF fitted in 5 steps per epoch with few features: seconds (as in report.test.ts). */
const SMALL = '{"frequencies":128,"perCell":8,"stepsPerEpoch":5}';

let work: string;
let run: string;
let evaluation: string;
let audit: string;

const ok = (args: string[]) => {
  const r = runCli(args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-report-inputs-'));
  const data = join(work, 'phantom');
  run = join(work, 'run');
  evaluation = join(work, 'evaluation.json');
  audit = join(work, 'audit.json');
  ok(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']);
  ok([
    'train', '--data', data, '--out', run, '--size', '28', '--condition', 'label,sex', '--epochs', '2', '--batch-size', '32',
    '--model', 'dpmerf', '--model-config', SMALL, '--dp', '--target-epsilon', '8', '--audit-canaries', '20', '--canary-kind', 'input',
  ]);
  ok(['sample', '--model', run, '--n', '60', '--out', join(work, 'samples')]);
  ok(['balance', '--data', data, '--model', run, '--target', 'equalize-groups', '--out', join(work, 'balanced')]);
  ok([
    'evaluate', '--run', run, '--synthetic', join(work, 'samples'), '--augmented', join(work, 'balanced'), '--features', 'pixel-pca',
    '--classifier-steps', '5', '--classifier-seeds', '2', '--min-group', '5', '--no-cache', '--json', evaluation,
  ]);
  ok(['audit', '--model', run, '--bootstrap', '20', '--quiet', '--json', audit]);
});

const readJson = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8'));

/** A copy of `file` changed by `edit`, written as `name`. */
function edited(file: string, name: string, edit: (j: Record<string, any>) => void): string {
  const j = readJson(file);
  edit(j);
  const out = join(work, name);
  writeFileSync(out, JSON.stringify(j, null, 2));
  return out;
}

/** The known fields of a loose schema's type, at every depth (an interface has no index signature). */
type Known<T> = T extends readonly (infer U)[] ? Known<U>[] : T extends object ? { [K in keyof T as string extends K ? never : K]: Known<T[K]> } : T;

describe('the files medsynth writes', () => {
  it('parse, and the readers return them unchanged', () => {
    const ev = readJson(evaluation);
    const au = readJson(audit);
    // What the run covers: the four utility ways, an augmented set, the learned and fairness blocks, every
    // attack with its ROC curve, the DCR test and the canary audit.
    expect(ev.utility.ways.map((w: { key: string }) => w.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(ev.diversity.cells.augmented).not.toBeNull();
    expect(ev).toHaveProperty('learned.distinctNearest');
    expect(ev).toHaveProperty('fairness.differences');
    expect(au.attacks.length).toBeGreaterThan(3);
    expect(au.attacks.every((a: { overall: { roc?: unknown } }) => a.overall.roc)).toBe(true);
    expect(au.dcr.length).toBeGreaterThan(0);
    expect(au.best).not.toBeNull();
    expect(au.canaryAudit).toMatchObject({ kind: 'input', canaries: 20 });

    const e = EvaluationSchema.safeParse(ev);
    expect(e.error?.issues ?? []).toEqual([]);
    const a = AuditSchema.safeParse(au);
    expect(a.error?.issues ?? []).toEqual([]);
    // Loose at every depth: nothing the schemas do not name is dropped.
    expect(e.data).toStrictEqual(ev);
    expect(a.data).toStrictEqual(au);
    // The readers hand back the file as written, fields in their order (report.json carries it).
    expect(JSON.stringify(readEvaluation(evaluation))).toBe(JSON.stringify(ev));
    expect(JSON.stringify(readAudit(audit))).toBe(JSON.stringify(au));
  });

  it("the writers' result types fit the schemas (a writer change that breaks the report fails tsc)", () => {
    expectTypeOf<EvaluateResult>().toExtend<Known<Evaluation>>();
    expectTypeOf<AuditResult>().toExtend<Known<Audit>>();
  });

  it('go into the report', () => {
    const out = join(work, 'report');
    ok(['report', '--run', run, '--eval', evaluation, '--audit', audit, '--out', out]);
    const j = readJson(join(out, 'report.json'));
    expect(j.evaluation.seeds).toEqual(readJson(evaluation).seeds); // fields the report does not read pass through
    expect(j.audit.modelId).toBe(readJson(audit).modelId);
    expect(j.checklist.find((c: { id: string }) => c.id === 'canary').status).not.toBe('not run');
  });
});

describe('the readers', () => {
  const fails = (read: () => unknown, pattern: RegExp) => {
    let err: unknown;
    try {
      read();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).not.toContain('\n');
    expect((err as Error).message).toMatch(pattern);
  };

  it('name the option, the file, the first wrong field and what to do', () => {
    fails(() => readEvaluation(join(work, 'none.json')), /^--eval \S+none\.json: no such file; give the file written by medsynth evaluate --json FILE$/);
    fails(() => readAudit(evaluation), /^--audit \S+evaluation\.json: "command" is "evaluate": this is the JSON of medsynth evaluate, not of medsynth audit \(it goes with --eval\); give the file written by medsynth audit --json FILE$/);
    const rows = edited(evaluation, 'rows.json', (j) => (j.fidelity.rows[1].synthetic.n = 'many'));
    fails(() => readEvaluation(rows), /^--eval \S+rows\.json: fidelity\.rows\.1\.synthetic\.n: .*expected number.*; re-run medsynth evaluate --json FILE \(the file is from an older medsynth, or was edited\)$/);
    const noCommand = edited(audit, 'no-command.json', (j) => delete j.command);
    fails(() => readAudit(noCommand), /^--audit \S+no-command\.json: no "command": not the JSON of medsynth audit; give the file written by medsynth audit --json FILE$/);
    writeFileSync(join(work, 'list.json'), '[1, 2]');
    fails(() => readAudit(join(work, 'list.json')), /^--audit \S+list\.json: the file: .*expected object/);
  });

  it('leave out what an older medsynth did not write and the report answers for itself', () => {
    const older = edited(evaluation, 'older.json', (j) => {
      delete j.learned;
      delete j.fairness;
      delete j.utility.oversampling;
      delete j.utility.augmentedVsReal;
      delete j.utility.augmentedVsOversampling;
      delete j.utility.classifier.seeds;
      for (const w of j.utility.ways) {
        delete w.reports;
        delete w.summary;
      }
    });
    expect(readEvaluation(older).learned).toBeUndefined();
    const olderAudit = edited(audit, 'older-audit.json', (j) => {
      delete j.canaryAudit;
      for (const a of j.attacks) delete a.overall.roc;
    });
    expect(readAudit(olderAudit).canaryAudit).toBeUndefined();
  });
});

describe('medsynth report with a wrong file', () => {
  /** The one error line; no stack, no second line. */
  const errorLine = (r: CliResult): string => {
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('medsynth: error: '));
    expect(errors).toHaveLength(1);
    return errors[0]!.slice('medsynth: error: '.length);
  };

  /** Runs the report into a new folder and checks nothing was written beside it either. */
  const report = (args: string[]): string => {
    const parent = mkdtempSync(join(work, 'out-'));
    const out = join(parent, 'report');
    const line = errorLine(runCli(['report', '--run', run, ...args, '--out', out]));
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
    return line;
  };

  it('--eval audit.json: names --eval, the file and "command", and says which file to give', () => {
    expect(report(['--eval', audit])).toMatch(/^--eval \S+audit\.json: "command" is "audit": this is the JSON of medsynth audit, not of medsynth evaluate \(it goes with --audit\); give the file written by medsynth evaluate --json FILE$/);
    expect(report(['--audit', evaluation])).toMatch(/^--audit \S+evaluation\.json: "command" is "evaluate": .*give the file written by medsynth audit --json FILE$/);
  });

  it('a truncated file', () => {
    const text = readFileSync(evaluation, 'utf8');
    const cut = join(work, 'cut.json');
    writeFileSync(cut, text.slice(0, Math.floor(text.length / 2)));
    expect(report(['--eval', cut])).toMatch(/^--eval \S+cut\.json: not valid JSON \(.+\): the file is cut short or is not medsynth's; give the file written by medsynth evaluate --json FILE$/);
  });

  it('a file without a field the report reads', () => {
    // Before: a TypeError (exit 1) in the diversity verdict.
    const noDistinct = edited(evaluation, 'no-distinct.json', (j) => delete j.learned.distinctNearest);
    expect(report(['--eval', noDistinct])).toMatch(/^--eval \S+no-distinct\.json: no "learned\.distinctNearest"; re-run medsynth evaluate --json FILE \(the file is from an older medsynth, or was edited\)$/);
    // Before: exit 0 and "high leakage: best attack AUC NaN".
    const noAuc = edited(audit, 'no-auc.json', (j) => delete j.best.auc);
    expect(report(['--audit', noAuc])).toMatch(/^--audit \S+no-auc\.json: no "best\.auc"; re-run medsynth audit --json FILE/);
    // Before: exit 0, a fidelity section saying "Not evaluated" and a fidelity verdict of "no overall fidelity numbers".
    const noFidelity = edited(evaluation, 'no-fidelity.json', (j) => delete j.fidelity);
    expect(report(['--eval', noFidelity])).toMatch(/^--eval \S+no-fidelity\.json: no "fidelity"; re-run medsynth evaluate/);
  });
});
