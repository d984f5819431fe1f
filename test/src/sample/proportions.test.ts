/**
 * Open conditions (#19.7): the --condition-proportions file (parsing and its one-line errors), draws that
 * follow the given proportions (seeded frequency checks), and the record of where each condition came from.
 */
import { describe, expect, it } from 'vitest';
import type { ConditionSpec } from '../../../models/generator.js';
import { UserError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import {
  conditionSources,
  drawFromProportions,
  openConditionsRecord,
  parseConditionProportions,
  runConditionSource,
} from '../../../src/sample/proportions.js';
import { drawConditions, drawConditionsWithProportions, resolveFixed, uniformReason } from '../../../src/sample/sample.js';

const spec: ConditionSpec = {
  labels: ['normal', 'disease'],
  attributes: [
    { name: 'sex', values: ['female', 'male', 'unknown'] },
    { name: 'age', values: ['young', 'old'] },
  ],
};
const parse = (text: string) => parseConditionProportions('props.csv', text, spec);

/** The error a call throws (fails the test when it throws none). */
function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected an error');
}

const share = (xs: number[], v: number) => xs.filter((x) => x === v).length / xs.length;

describe('parseConditionProportions', () => {
  it('reads proportions or counts for the conditions the file names, in the model codes', () => {
    const p = parse('sex,proportion\nfemale,0.6\nmale,0.395\nunknown,0.005\n');
    expect(p.weightColumn).toBe('proportion');
    expect(p.namesLabel).toBe(false);
    expect(p.attributes).toEqual([0]);
    expect(p.rows.map((r) => [r.line, r.label, r.codes, r.weight])).toEqual([
      [2, null, [0, null], 0.6],
      [3, null, [1, null], 0.395],
      [4, null, [2, null], 0.005],
    ]);
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    const c = parse('label,sex,count\ndisease,male,15\n0,female,30\n');
    expect(c.weightColumn).toBe('count');
    expect(c.rows.map((r) => [r.label, r.codes[0], r.weight])).toEqual([
      [1, 1, 15],
      [0, 0, 30],
    ]);
  });

  it.each([
    ['sex,race,proportion\nfemale,a,1\n', /props\.csv line 1: column 'race' is not a condition of this model; name only label, sex, age/],
    ['sex\nfemale\n', /no 'proportion' or 'count' column; give exactly one/],
    ['sex,proportion,count\nfemale,1,1\n', /both a 'proportion' and a 'count' column/],
    ['proportion\n1\n', /line 1: no condition column/],
    ['sex,proportion\n', /no rows; add one line per combination of sex/],
    ['sex,proportion\nfemale,0.5\nfemal,0.5\n', /line 3: sex 'femal' is not a value this model was trained on; use one of female, male, unknown; fix the row/],
    ['label,proportion\nnormal,0.5\ncancer,0.5\n', /line 3: label 'cancer' is not a class of this model; use one of normal, disease/],
    ['sex,proportion\nfemale,-0.1\nmale,1.1\n', /line 2: proportion must be a number >= 0/],
    ['sex,proportion\nfemale,lots\nmale,1\n', /line 2: proportion must be a number >= 0/],
    ['sex,count\nfemale,2.5\nmale,3\n', /line 2: count must be a whole number/],
    ['sex,proportion\nfemale,0.5\nmale,0.4\n', /the proportions sum to 0\.9, not 1; fix them, or name the column 'count'/],
    ['sex,count\nfemale,0\nmale,0\n', /every count is 0/],
    ['sex,proportion\nfemale,0.5\nfemale,0.5\n', /line 3: the same combination as line 2; give each combination once/],
    ['sex,proportion\nfemale,0.5\n"male,0.5\n', /line 3: a quoted field is never closed/],
  ])('refuses %j with one line naming the file and what to do (exit 2)', (text, message) => {
    const err = errorOf(() => parse(text));
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^--condition-proportions props\.csv/);
    expect(err.message).not.toContain('\n');
    expect(err.exitCode).toBe(2);
  });
});

describe('draws with public proportions', () => {
  it('follow the file: seeded frequencies within 3 standard errors, fixed conditions kept', () => {
    const p = parse('sex,proportion\nfemale,0.6\nmale,0.395\nunknown,0.005\n');
    const fixed = resolveFixed(spec, 'disease', {});
    const n = 20000;
    // A DP-SGD run: no counts, so age stays uniform while sex follows the file.
    const d = drawConditionsWithProportions(spec, [], fixed, p, n, new Rng(7));
    expect(new Set(d.labels)).toEqual(new Set([1]));
    for (const [code, want] of [[0, 0.6], [1, 0.395], [2, 0.005]] as const) {
      expect(Math.abs(share(d.codes[0]!, code) - want)).toBeLessThan(3 * Math.sqrt((want * (1 - want)) / n) + 1e-9);
    }
    expect(Math.abs(share(d.codes[1]!, 0) - 0.5)).toBeLessThan(3 * Math.sqrt(0.25 / n));
    // Without the file the same run draws sex uniformly: a third unknown, not 0.5%.
    const u = drawConditions(spec, [], fixed, n, new Rng(7));
    expect(Math.abs(share(u.codes[0]!, 2) - 1 / 3)).toBeLessThan(0.02);
    // Same seed, same draws; another seed, other draws.
    expect(drawConditionsWithProportions(spec, [], fixed, p, 500, new Rng(7))).toEqual(drawConditionsWithProportions(spec, [], fixed, p, 500, new Rng(7)));
    expect(drawConditionsWithProportions(spec, [], fixed, p, 500, new Rng(8))).not.toEqual(drawConditionsWithProportions(spec, [], fixed, p, 500, new Rng(7)));
  });

  it('condition a joint table on the fixed values, and draw what it does not name from the run counts', () => {
    const p = parse('label,sex,count\nnormal,female,30\nnormal,male,10\ndisease,female,5\ndisease,male,15\n');
    const n = 20000;
    const fixed = resolveFixed(spec, 'disease', {});
    // Run counts (a non-private run): age is old for every disease row.
    const train = [
      { label: 1, codes: [0, 1], count: 4 },
      { label: 1, codes: [1, 1], count: 4 },
      { label: 0, codes: [0, 0], count: 4 },
    ];
    const d = drawConditionsWithProportions(spec, train, fixed, p, n, new Rng(3));
    expect(Math.abs(share(d.codes[0]!, 0) - 0.25)).toBeLessThan(3 * Math.sqrt((0.25 * 0.75) / n));
    expect(share(d.codes[1]!, 1)).toBe(1);
    // Nothing fixed: the joint proportions of the table.
    const all = drawConditionsWithProportions(spec, train, resolveFixed(spec, undefined, {}), p, n, new Rng(4));
    const both = all.labels.map((l, i) => `${l}${all.codes[0]![i]}`);
    expect(Math.abs(share(both.map((x) => (x === '00' ? 1 : 0)), 1) - 0.5)).toBeLessThan(3 * Math.sqrt(0.25 / n));
    expect(Math.abs(share(both.map((x) => (x === '11' ? 1 : 0)), 1) - 0.25)).toBeLessThan(3 * Math.sqrt((0.25 * 0.75) / n));
  });

  it('refuses, naming the file, when no row speaks for what was fixed', () => {
    const p = parse('label,sex,proportion\nnormal,female,0.5\nnormal,male,0.5\n');
    const err = errorOf(() => drawFromProportions(p, spec, resolveFixed(spec, 'disease', { age: 'old' }), new Rng(1), () => 'the fixed conditions (label=disease, age=old)'));
    expect(err.message).toBe(
      '--condition-proportions props.csv: no row with a weight above 0 agrees with the fixed conditions (label=disease, age=old); add rows for it (columns label, sex)',
    );
  });
});

describe('the record of where open conditions came from', () => {
  it('says plainly when a DP-SGD run draws uniformly, with the hint; and names the user file otherwise', () => {
    const withheld = { train: [], countsWithheld: 'differential privacy: ...' };
    expect(runConditionSource(withheld)).toBe('uniform');
    expect(runConditionSource({ train: [{ label: 0, codes: [0, 0], count: 3 }] })).toBe('train-split');
    expect(runConditionSource({ train: [{ label: 0, codes: [0, 0], count: 3 }], countsSource: 'noisy counts ...' })).toBe('released-by-dp');
    expect(runConditionSource({ train: [], countsSource: 'noisy counts ...' })).toBe('uniform');

    const fixed = resolveFixed(spec, 'disease', {});
    const r = openConditionsRecord(conditionSources(spec, fixed, 'uniform', null), null, { uniformWhy: uniformReason(withheld) });
    expect(r.sources).toEqual({ label: 'fixed', sex: 'uniform', age: 'uniform' });
    expect(r.uniform).toEqual(['sex', 'age']);
    expect(r.proportions).toBeNull();
    expect(r.note).toBe(
      'open conditions: sex, age from a uniform draw (every value equally likely). This DP-SGD run withholds its train-split condition counts (they are statistics of the private data), so sex, age are NOT drawn in realistic proportions; pass --condition-proportions FILE.csv with public proportions (columns sex,age,proportion) to draw them realistically',
    );

    const p = parse('sex,proportion\nfemale,0.5\nmale,0.5\n');
    const u = openConditionsRecord(conditionSources(spec, fixed, 'uniform', p), p, { uniformWhy: uniformReason(withheld) });
    expect(u.sources).toEqual({ label: 'fixed', sex: 'user-supplied', age: 'uniform' });
    expect(u.proportions).toEqual({ file: 'props.csv', sha256: p.sha256, column: 'proportion' });
    expect(u.note).toMatch(/^open conditions: sex from the user-supplied public proportions \(props\.csv\); age from a uniform draw/);

    const merf = openConditionsRecord(conditionSources(spec, resolveFixed(spec, undefined, { sex: 'male' }), 'released-by-dp', null), null);
    expect(merf.uniform).toEqual([]);
    expect(merf.note).toBe('open conditions: label, age from the condition counts released with differential privacy (conditions.json)');
  });
});
