/**
 * Plan arithmetic: hand-worked cases for each target, and properties (fast-check) — totals add up, caps
 * hold, no negative counts, real counts are never reduced, and each target's defining equality holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { parseTargetFile, planBalance, shareByLargestRemainder, type CellCount } from '../../../src/balance/plan.js';

/** 2 classes × 2 groups: healthy/F 50, healthy/M 30, disease/F 4, disease/M 10. */
const CELLS: CellCount[] = [
  { key: 'healthy|sex=F', label: 0, group: [0], real: 50 },
  { key: 'healthy|sex=M', label: 0, group: [1], real: 30 },
  { key: 'disease|sex=F', label: 1, group: [0], real: 4 },
  { key: 'disease|sex=M', label: 1, group: [1], real: 10 },
];
const syn = (plan: { synthetic: number }[]) => plan.map((c) => c.synthetic);

describe('planBalance (hand-worked)', () => {
  it('equalize-groups: every group matches its class\'s largest group', () => {
    expect(syn(planBalance(CELLS, { target: { kind: 'equalize-groups' } }))).toEqual([0, 20, 6, 0]);
  });
  it('equalize-classes: disease gets 80 − 14 = 66, shared 4:10 over its groups (19, 47)', () => {
    // 66·4/14 = 18.857 → 18 (+1 by largest remainder: .857 > .143) = 19; 66·10/14 = 47.14 → 47.
    expect(syn(planBalance(CELLS, { target: { kind: 'equalize-classes' } }))).toEqual([0, 0, 19, 47]);
  });
  it('uniform: every cell matches the largest (50)', () => {
    expect(syn(planBalance(CELLS, { target: { kind: 'uniform' } }))).toEqual([0, 20, 46, 40]);
  });
  it('caps synthetic/real per cell and says where the cap bites', () => {
    const p = planBalance(CELLS, { target: { kind: 'uniform' }, maxSyntheticRatio: 2 });
    expect(syn(p)).toEqual([0, 20, 8, 20]);
    expect(p.map((c) => c.cappedFrom)).toEqual([null, null, 46, 40]);
  });
  it('min-per-cell raises small cells; explicit counts never remove real images', () => {
    expect(syn(planBalance(CELLS, { target: { kind: 'equalize-groups' }, minPerCell: 12 }))).toEqual([0, 20, 8, 2]);
    const counts = new Map([['healthy|sex=F', 10], ['disease|sex=F', 30]]);
    expect(syn(planBalance(CELLS, { target: { kind: 'counts', counts } }))).toEqual([0, 0, 26, 0]);
  });
  it('proportions of a total, by largest remainder', () => {
    const proportions = new Map([['healthy|sex=F', 0.25], ['healthy|sex=M', 0.25], ['disease|sex=F', 0.25], ['disease|sex=M', 0.25]]);
    expect(syn(planBalance(CELLS, { target: { kind: 'proportions', proportions, total: 200 } }))).toEqual([0, 20, 46, 40]);
  });
});

const cellsArb = fc
  .array(fc.array(fc.nat({ max: 500 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })
  .map((classes) =>
    classes.flatMap((groups, label) => groups.map((real, g) => ({ key: `c${label}|g=${g}`, label, group: [g], real }))),
  );

describe('planBalance (properties)', () => {
  it('totals add up, no negatives, caps hold, and each target reaches its equality when uncapped', () => {
    fc.assert(
      fc.property(
        cellsArb,
        fc.constantFrom('equalize-groups', 'equalize-classes', 'uniform'),
        fc.option(fc.double({ min: 0, max: 5, noNaN: true }), { nil: undefined }),
        fc.option(fc.nat({ max: 300 }), { nil: undefined }),
        (cells, kind, ratio, minPer) => {
          const plan = planBalance(cells, { target: { kind } as never, maxSyntheticRatio: ratio, minPerCell: minPer });
          for (const c of plan) {
            expect(c.synthetic).toBeGreaterThanOrEqual(0);
            expect(Number.isInteger(c.synthetic)).toBe(true);
            expect(c.total).toBe(c.real + c.synthetic);
            if (ratio !== undefined) expect(c.synthetic).toBeLessThanOrEqual(ratio * c.real + 1e-9);
            if (c.cappedFrom === null) expect(c.total).toBe(Math.max(c.real, c.target));
            if (minPer !== undefined && c.cappedFrom === null) expect(c.total).toBeGreaterThanOrEqual(minPer);
          }
          if (ratio === undefined && minPer === undefined) {
            if (kind === 'uniform') expect(new Set(plan.map((c) => c.total)).size).toBe(1);
            if (kind === 'equalize-groups') {
              for (const label of new Set(plan.map((c) => c.label))) expect(new Set(plan.filter((c) => c.label === label).map((c) => c.total)).size).toBe(1);
            }
            if (kind === 'equalize-classes') {
              const totals = new Map<number, number>();
              for (const c of plan) totals.set(c.label, (totals.get(c.label) ?? 0) + c.total);
              expect(new Set(totals.values()).size).toBe(1);
            }
          }
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  it('largest-remainder shares sum exactly to what is shared', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10000 }), fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 10 }), (extra, w) => {
        const s = shareByLargestRemainder(extra, w);
        expect(s.reduce((a, v) => a + v, 0)).toBe(extra);
        expect(s.every((v) => v >= 0)).toBe(true);
      }),
      { numRuns: 300, seed: 8 },
    );
  });
});

describe('parseTargetFile', () => {
  const keys = CELLS.map((c) => c.key);
  it('reads counts and proportions', () => {
    expect(parseTargetFile('t.json', '{"counts": {"disease|sex=F": 40}}', keys)).toEqual({ kind: 'counts', counts: new Map([['disease|sex=F', 40]]) });
    const p = parseTargetFile('t.json', '{"proportions": {"healthy|sex=F": 0.5, "disease|sex=F": 0.5}, "total": 100}', keys);
    expect(p.kind).toBe('proportions');
  });
  it('names the problem: bad JSON, unknown cell, proportions that do not sum to 1, missing total', () => {
    expect(() => parseTargetFile('t.json', '{counts', keys)).toThrow(/--target t.json: not valid JSON/);
    expect(() => parseTargetFile('t.json', '{"counts": {"flu|sex=F": 3}}', keys)).toThrow(/unknown cell 'flu\|sex=F' in counts; cells are: healthy\|sex=F/);
    expect(() => parseTargetFile('t.json', '{"proportions": {"healthy|sex=F": 0.5}, "total": 10}', keys)).toThrow(/proportions sum to 0.5, not 1/);
    expect(() => parseTargetFile('t.json', '{"proportions": {"healthy|sex=F": 1}}', keys)).toThrow(/need "total"/);
    expect(() => parseTargetFile('t.json', '{"counts": {"healthy|sex=F": 2.5}}', keys)).toThrow(ConfigError);
  });
});
