import { describe, expect, it } from 'vitest';
import { binIndex, binLabels, buildAttributes, parseBinsOption } from '../../datasets/attributes.js';
import type { Attribute } from '../../datasets/dataset.js';
import { ConfigError, DatasetError } from '../../src/core/errors.js';
import { expectUserError } from './helpers.js';

/** Category name per row. */
const decode = (a: Attribute): string[] => Array.from(a.codes, (c) => a.values[c]!);

const header = ['path', 'label', 'label_name', 'split', 'sex', 'age', 'image_id', 'patient_id', 'site'];
const rows = [
  ['a.png', '0', 'x', 'train', 'male', '34', 'I1', 'P1', 's2'],
  ['b.png', '1', 'y', 'test', 'female', '', 'I2', 'P1', 's1'],
  ['c.png', '0', 'x', 'train', 'male', '91', 'I3', 'P2', 's1'],
  ['d.png', '1', 'y', 'val', '', '7', 'I4', 'P3', 's3'],
  ['e.png', '0', 'x', 'train', 'female', '45', 'I5', 'P4', 's2'],
];

describe('buildAttributes', () => {
  it('skips reserved columns and identifiers; categorical values sorted, missing last', () => {
    const { attributes, dropped } = buildAttributes(header, rows, {}, 'm.csv');
    expect(attributes.map((a) => a.name)).toEqual(['sex', 'site']);
    expect(dropped).toEqual([
      { name: 'age', reason: 'identifier' }, // all 4 non-empty values differ and no bins were given
      { name: 'image_id', reason: 'identifier' },
    ]);
    const sex = attributes[0]!;
    expect(sex.values).toEqual(['female', 'male', 'missing']);
    expect(decode(sex)).toEqual(['male', 'female', 'male', 'missing', 'female']);
    expect(sex.binEdges).toBeUndefined();
    expect(attributes[1]!.values).toEqual(['s1', 's2', 's3']);
  });

  it('bins a column with user edges: <a, a-(b-1), …, last+, then missing', () => {
    const { attributes } = buildAttributes(header, rows, { bins: { age: [30, 45, 60, 75] } }, 'm.csv');
    const age = attributes.find((a) => a.name === 'age')!;
    expect(age.values).toEqual(['<30', '30-44', '45-59', '60-74', '75+', 'missing']);
    expect(age.binEdges).toEqual([30, 45, 60, 75]);
    expect(decode(age)).toEqual(['30-44', 'missing', '75+', '<30', '45-59']);
  });

  it('bins an all-numeric column with more than 8 distinct values into decades by default', () => {
    const h = ['path', 'label', 'age'];
    const ages = ['5', '12', '25', '25', '33', '47', '51', '68', '70', '89', '95', ''];
    const { attributes } = buildAttributes(h, ages.map((a, i) => [`${i}.png`, '0', a]), {}, 'm.csv');
    const age = attributes[0]!;
    expect(age.values).toEqual(['<10', '10-19', '20-29', '30-39', '40-49', '50-59', '60-69', '70-79', '80-89', '90+', 'missing']);
    expect(age.binEdges).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(decode(age)).toEqual(['<10', '10-19', '20-29', '20-29', '30-39', '40-49', '50-59', '60-69', '70-79', '80-89', '90+', 'missing']);
  });

  it('keeps a numeric column with at most 8 distinct values as categories', () => {
    const h = ['path', 'label', 'grade'];
    const g = ['1', '2', '3', '1', '2', '3', '10'];
    const a = buildAttributes(h, g.map((v, i) => [`${i}`, '0', v]), {}, 'm.csv').attributes[0]!;
    expect(a.binEdges).toBeUndefined();
    expect(a.values).toEqual(['1', '10', '2', '3']); // code-unit order
  });

  it('uses [a,b) labels when edges or values are not integers', () => {
    expect(binLabels([18.5, 25, 30])).toEqual(['<18.5', '[18.5,25)', '[25,30)', '30+']);
    const h = ['path', 'label', 'bmi'];
    const r = [['a', '0', '17.2'], ['b', '0', '22'], ['c', '0', '31'], ['d', '0', '22']];
    const bmi = buildAttributes(h, r, { bins: { bmi: [18.5, 25, 30] } }, 'm.csv').attributes[0]!;
    expect(decode(bmi)).toEqual(['<18.5', '[18.5,25)', '30+', '[18.5,25)']);
    const ints = buildAttributes(h, [['a', '0', '29.5'], ['b', '0', '30']], { bins: { bmi: [30, 40] } }, 'm.csv').attributes[0]!;
    expect(ints.values).toEqual(['<30', '[30,40)', '40+']);
  });

  it('edge values fall in the upper bin', () => {
    expect(binIndex([30, 45], 29.999)).toBe(0);
    expect(binIndex([30, 45], 30)).toBe(1);
    expect(binIndex([30, 45], 45)).toBe(2);
  });

  it('drops categorical columns with more than 32 categories', () => {
    const h = ['path', 'label', 'scanner'];
    const r = Array.from({ length: 80 }, (_, i) => [`${i}`, '0', `model-${i % 40}`]);
    const { attributes, dropped } = buildAttributes(h, r, {}, 'm.csv');
    expect(attributes).toEqual([]);
    expect(dropped).toEqual([{ name: 'scanner', reason: 'too-many-categories' }]);
  });

  it('keeps only the named attributes, in the given order', () => {
    const { attributes } = buildAttributes(header, rows, { attributes: ['site', 'sex'] }, 'm.csv');
    expect(attributes.map((a) => a.name)).toEqual(['site', 'sex']);
  });

  it('errors: unknown --attributes column lists what is available', () => {
    expectUserError(() => buildAttributes(header, rows, { attributes: ['ethnicity'] }, 'm.csv'), ConfigError, [
      'ethnicity',
      'm.csv',
      'available: sex, age, image_id, site',
    ]);
    expectUserError(() => buildAttributes(header, rows, { attributes: ['label'] }, 'm.csv'), ConfigError, ['reserved']);
  });

  it('errors: an identifier named in --attributes is refused', () => {
    expectUserError(() => buildAttributes(header, rows, { attributes: ['image_id'] }, 'm.csv'), ConfigError, [
      'image_id',
      'identifier',
    ]);
  });

  it('errors: --bins for an absent or reserved column, or with unsorted edges', () => {
    expectUserError(() => buildAttributes(header, rows, { bins: { bmi: [1, 2] } }, 'm.csv'), ConfigError, ['--bins bmi', 'no column']);
    expectUserError(() => buildAttributes(header, rows, { bins: { label: [1, 2] } }, 'm.csv'), ConfigError, ['reserved']);
    expectUserError(() => buildAttributes(header, rows, { bins: { age: [40, 30] } }, 'm.csv'), ConfigError, ['ascending']);
  });

  it('errors: a non-numeric value in a binned column names the line and column', () => {
    const bad = rows.map((r) => [...r]);
    bad[2]![5] = 'eighty';
    expectUserError(
      () => buildAttributes(header, bad, { bins: { age: [30, 60] } }, 'm.csv', [2, 3, 4, 5, 6]),
      DatasetError,
      ['m.csv line 4', '"age"', '"eighty"'],
    );
  });
});

describe('parseBinsOption', () => {
  it('parses several columns', () => {
    expect(parseBinsOption('age=30,45,60,75;bmi=18.5,25,30')).toEqual({ age: [30, 45, 60, 75], bmi: [18.5, 25, 30] });
    expect(parseBinsOption(' age = 30, 45 ; ')).toEqual({ age: [30, 45] });
  });

  it('errors name the bad piece', () => {
    expectUserError(() => parseBinsOption('age'), ConfigError, ['--bins', '"age"', 'column=']);
    expectUserError(() => parseBinsOption('age=30,x'), ConfigError, ['--bins age', '"x"']);
    expectUserError(() => parseBinsOption('age=30,,40'), ConfigError, ['--bins age']);
    expectUserError(() => parseBinsOption('age=50,40'), ConfigError, ['ascending']);
    expectUserError(() => parseBinsOption('age=1;age=2'), ConfigError, ['twice']);
    expectUserError(() => parseBinsOption(' ; '), ConfigError, ['empty']);
  });
});
