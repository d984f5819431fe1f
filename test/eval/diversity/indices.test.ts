import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { diversityIndices, giniCoefficient, pielouEvenness, shannonEntropy } from '../../../eval/diversity/indices.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Case { counts: number[]; gini: number; shannon: number; pielou: number | null }
const fixture = loadFixture<{ cases: Case[] }>('diversity-indices');

describe('diversity indices against hand-calculated values', () => {
  for (const c of fixture.cases) {
    it(`counts ${JSON.stringify(c.counts)}`, () => {
      expect(giniCoefficient(c.counts)).toBeCloseTo(c.gini, 12);
      expect(shannonEntropy(c.counts)).toBeCloseTo(c.shannon, 12);
      const j = pielouEvenness(c.counts);
      if (c.pielou === null) expect(j).toBeNull();
      else expect(j).toBeCloseTo(c.pielou, 12);
    });
  }
});

describe('diversity index properties', () => {
  const counts = fc.array(fc.nat(1000), { minLength: 2, maxLength: 40 }).filter((a) => a.some((x) => x > 0));

  it('are invariant to the order of cells and to scaling', () => {
    fc.assert(
      fc.property(counts, fc.integer({ min: 2, max: 9 }), (c, k) => {
        const d = diversityIndices(c);
        const r = diversityIndices([...c].reverse().map((x) => x * k));
        expect(r.gini).toBeCloseTo(d.gini, 9);
        expect(r.shannon).toBeCloseTo(d.shannon, 9);
      }),
    );
  });

  it('stay in range: 0 <= Gini <= 1 - 1/S, 0 <= H <= ln S, 0 <= J <= 1', () => {
    fc.assert(
      fc.property(counts, (c) => {
        const d = diversityIndices(c);
        const s = c.length;
        expect(d.gini).toBeGreaterThanOrEqual(0);
        expect(d.gini).toBeLessThanOrEqual(1 - 1 / s + 1e-12);
        expect(d.shannon).toBeGreaterThanOrEqual(0);
        expect(d.shannon).toBeLessThanOrEqual(Math.log(s) + 1e-12);
        expect(d.pielou!).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });

  it('counts empty cells as cells', () => {
    const d = diversityIndices([10, 10, 0]);
    expect(d.cells).toBe(3);
    expect(d.emptyCells).toBe(1);
    expect(d.pielou).toBeCloseTo(Math.log(2) / Math.log(3), 12);
  });
});
