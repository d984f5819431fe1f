/**
 * Plan arithmetic: hand-worked cases for each target, and properties (fast-check) — totals add up, caps
 * hold, no negative counts, real counts are never reduced, and each target's defining equality holds.
 * Cells with unknown group values or too few real images are never topped up, whatever the target.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { isUnknownValue, parseTargetFile, planBalance, shareByLargestRemainder, type CellCount, type PlanOptions } from '../../../src/balance/plan.js';

/** 2 classes × 2 groups: healthy/F 50, healthy/M 30, disease/F 4, disease/M 10. */
const CELLS: CellCount[] = [
  { key: 'healthy|sex=F', label: 0, group: [0], real: 50 },
  { key: 'healthy|sex=M', label: 0, group: [1], real: 30 },
  { key: 'disease|sex=F', label: 1, group: [0], real: 4 },
  { key: 'disease|sex=M', label: 1, group: [1], real: 10 },
];
const syn = (plan: { synthetic: number }[]) => plan.map((c) => c.synthetic);
/** The arithmetic cases: every cell eligible (disease/F has only 4 real images, below the default 5). */
const plan = (opts: PlanOptions) => planBalance(CELLS, { minRealPerCell: 0, ...opts });

describe('planBalance (hand-worked)', () => {
  it('equalize-groups: every group matches its class\'s largest group', () => {
    expect(syn(plan({ target: { kind: 'equalize-groups' } }))).toEqual([0, 20, 6, 0]);
  });
  it('equalize-classes: disease gets 80 − 14 = 66, shared 4:10 over its groups (19, 47)', () => {
    // 66·4/14 = 18.857 → 18 (+1 by largest remainder: .857 > .143) = 19; 66·10/14 = 47.14 → 47.
    expect(syn(plan({ target: { kind: 'equalize-classes' } }))).toEqual([0, 0, 19, 47]);
  });
  it('uniform: every cell matches the largest (50)', () => {
    expect(syn(plan({ target: { kind: 'uniform' } }))).toEqual([0, 20, 46, 40]);
  });
  it('caps synthetic/real per cell and says where the cap bites', () => {
    const p = plan({ target: { kind: 'uniform' }, maxSyntheticRatio: 2 });
    expect(syn(p)).toEqual([0, 20, 8, 20]);
    expect(p.map((c) => c.cappedFrom)).toEqual([null, null, 46, 40]);
  });
  it('min-per-cell raises small cells; explicit counts never remove real images', () => {
    expect(syn(plan({ target: { kind: 'equalize-groups' }, minPerCell: 12 }))).toEqual([0, 20, 8, 2]);
    const counts = new Map([['healthy|sex=F', 10], ['disease|sex=F', 30]]);
    expect(syn(plan({ target: { kind: 'counts', counts } }))).toEqual([0, 0, 26, 0]);
  });
  it('proportions of a total, by largest remainder', () => {
    const proportions = new Map([['healthy|sex=F', 0.25], ['healthy|sex=M', 0.25], ['disease|sex=F', 0.25], ['disease|sex=M', 0.25]]);
    expect(syn(plan({ target: { kind: 'proportions', proportions, total: 200 } }))).toEqual([0, 20, 46, 40]);
  });
});

describe('planBalance never invents groups', () => {
  /** healthy: F 50, M 30, unknown 80; disease: F 10, M 20, unknown 0; plus an empty class × group cell. */
  const WITH_UNKNOWN: CellCount[] = [
    { key: 'healthy|sex=F', label: 0, group: [0], real: 50 },
    { key: 'healthy|sex=M', label: 0, group: [1], real: 30 },
    { key: 'healthy|sex=unknown', label: 0, group: [2], real: 80, unknownValues: ['sex=unknown'] },
    { key: 'disease|sex=F', label: 1, group: [0], real: 10 },
    { key: 'disease|sex=M', label: 1, group: [1], real: 20 },
    { key: 'disease|sex=unknown', label: 1, group: [2], real: 0, unknownValues: ['sex=unknown'] },
  ];

  it('skips cells with fewer than --min-real-per-cell real images (default 5), with the reason', () => {
    const p = planBalance(CELLS, { target: { kind: 'equalize-groups' } });
    expect(syn(p)).toEqual([0, 20, 0, 0]);
    expect(p[2]!.skipped).toMatch(/^4 real images \(< --min-real-per-cell 5\): too few to generate from/);
    expect(p[2]!.total).toBe(4);
    expect(p.filter((c) => c.skipped !== null)).toHaveLength(1);
    // Empty cells (no real image at all) are never topped up, even to a --min-per-cell floor.
    const empty: CellCount[] = [...CELLS, { key: 'disease|sex=X', label: 1, group: [2], real: 0 }];
    expect(syn(planBalance(empty, { target: { kind: 'uniform' }, minPerCell: 60 }))).toEqual([10, 30, 0, 50, 0]);
    expect(syn(planBalance(CELLS, { target: { kind: 'equalize-groups' }, minRealPerCell: 3 }))).toEqual([0, 20, 6, 0]);
  });

  it('does not equalise unknown values, nor let them set the target', () => {
    const p = planBalance(WITH_UNKNOWN, { target: { kind: 'equalize-groups' } });
    // healthy: the largest KNOWN group (F, 50) is the target, not unknown (80).
    expect(syn(p)).toEqual([0, 20, 0, 10, 0, 0]);
    expect(p[2]!.skipped).toMatch(/^sex=unknown: unknown value, not a target group \(name it with --include-groups sex=unknown to balance it\)/);
    expect(p[5]!.skipped).toMatch(/^sex=unknown: unknown value/);
    expect(syn(planBalance(WITH_UNKNOWN, { target: { kind: 'uniform' } }))).toEqual([0, 20, 0, 40, 30, 0]);
    // Named as a group (no unknownValues), it is a group like any other.
    const named = WITH_UNKNOWN.map(({ unknownValues: _u, ...c }) => c);
    expect(syn(planBalance(named, { target: { kind: 'equalize-groups' } }))).toEqual([30, 50, 0, 10, 0, 0]);
  });

  it('equalize-classes shares a class\'s top-up over its eligible groups only, and skips a class with none', () => {
    // healthy 160, disease 30: disease gets 130 over F:M = 10:20 (43, 87); its unknown cell gets none.
    expect(syn(planBalance(WITH_UNKNOWN, { target: { kind: 'equalize-classes' } }))).toEqual([0, 0, 0, 43, 87, 0]);
    const allSmall: CellCount[] = [
      { key: 'a|g=0', label: 0, group: [0], real: 100 },
      { key: 'b|g=0', label: 1, group: [0], real: 3 },
    ];
    const p = planBalance(allSmall, { target: { kind: 'equalize-classes' } });
    expect(syn(p)).toEqual([0, 0]);
    expect(p[1]!.skipped).toMatch(/3 real images/);
  });

  it('knows the common spellings of unknown and missing', () => {
    for (const v of ['missing', 'unknown', 'Unknown', 'N/A', 'na', 'NaN', ' ', '?']) expect(isUnknownValue(v), v).toBe(true);
    for (const v of ['female', 'male', '30-44', 'site_a', 'none', 'other']) expect(isUnknownValue(v), v).toBe(false);
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
        fc.nat({ max: 50 }),
        (cells, kind, ratio, minPer, minReal) => {
          const all = planBalance(cells, { target: { kind } as never, maxSyntheticRatio: ratio, minPerCell: minPer, minRealPerCell: minReal });
          for (const c of all) {
            // Skipped exactly when below --min-real-per-cell, and then never topped up.
            expect(c.skipped !== null).toBe(c.real < minReal);
            if (c.skipped !== null) expect(c.synthetic).toBe(0);
          }
          const plan = all.filter((c) => c.skipped === null);
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
              // Every class with an eligible group reaches the largest class total.
              const totals = new Map<number, number>();
              for (const c of all) totals.set(c.label, (totals.get(c.label) ?? 0) + c.total);
              const topped = [...totals].filter(([label]) => plan.some((c) => c.label === label)).map(([, t]) => t);
              const biggest = Math.max(...all.map((c) => c.label).map((l) => all.filter((c) => c.label === l).reduce((a, c) => a + c.real, 0)));
              for (const t of topped) expect(t).toBe(biggest);
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
