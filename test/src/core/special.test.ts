/**
 * erfc, log erfc and the erf series against mpmath at 40 digits (test/fixtures/special.json), including
 * both sides of every switch between the series and the continued fraction (x = 0.5, 1, 2).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { erfc, erfSeries, logErfc } from '../../../src/core/special.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/special.json', import.meta.url), 'utf8')) as {
  values: { x: number; erfc: number; logErfc: number; erf: number }[];
};
const rel = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a / b - 1));

describe('special functions', () => {
  it.each(fixture.values)('erfc($x) and log erfc($x) to 1e-14 relative', ({ x, erfc: e, logErfc: l }) => {
    expect(rel(erfc(x), e)).toBeLessThan(1e-14);
    expect(Math.abs(logErfc(x) - l)).toBeLessThan(1e-14 * Math.max(1, Math.abs(l)));
  });

  it('erf by the series where it is used (|x| < 2)', () => {
    for (const { x, erf } of fixture.values.filter((v) => Math.abs(v.x) < 2)) expect(Math.abs(erfSeries(x) - erf), `x=${x}`).toBeLessThan(2e-16 * 8);
  });

  it('erfc of NaN is NaN', () => expect(erfc(NaN)).toBeNaN());
});
