/**
 * The adaptive D-step schedule (models/dpgan/schedule.ts) against a hand calculation: threshold 0.6,
 * β = 0.5, grace 2, starting at 5 D steps per G step, fake-rejection shares 0.9, 0.5, 0.4, 0.3, 0.9, 0.2:
 *   G step 1: ema = 0.9 (first value)                        since 1 < grace     → stay 5
 *   G step 2: ema = 0.5·0.9 + 0.5·0.5 = 0.7 > 0.6            since 2             → stay 5
 *   G step 3: ema = 0.5·0.7 + 0.5·0.4 = 0.55 ≤ 0.6           since 3 ≥ 2         → 10, since 0
 *   G step 4: ema = 0.5·0.55 + 0.5·0.3 = 0.425 ≤ 0.6         since 1 < grace     → stay 10
 *   G step 5: ema = 0.5·0.425 + 0.5·0.9 = 0.6625 > 0.6       since 2             → stay 10
 *   G step 6: ema = 0.5·0.6625 + 0.5·0.2 = 0.43125 ≤ 0.6     since 3             → 20, since 0
 */
import { describe, expect, it } from 'vitest';
import { afterGeneratorStep, D_STEP_LADDER, initialSchedule, nextRung } from '../../../models/dpgan/schedule.js';

describe('adaptive D-step schedule', () => {
  it('follows the hand calculation in the header', () => {
    const o = { threshold: 0.6, beta: 0.5, grace: 2, max: 1000 };
    let s = initialSchedule(5);
    const seen: [number, number, number][] = [];
    for (const share of [0.9, 0.5, 0.4, 0.3, 0.9, 0.2]) {
      s = afterGeneratorStep(s, share, o);
      seen.push([s.dSteps, s.ema, s.sinceMove]);
    }
    const want: [number, number, number][] = [
      [5, 0.9, 1],
      [5, 0.7, 2],
      [10, 0.55, 0],
      [10, 0.425, 1],
      [10, 0.6625, 2],
      [20, 0.43125, 0],
    ];
    seen.forEach(([d, e, n], i) => {
      expect(d, `G step ${i + 1}`).toBe(want[i]![0]);
      expect(e).toBeCloseTo(want[i]![1], 12);
      expect(n).toBe(want[i]![2]);
    });
  });

  it('climbs the ladder from a value between rungs and stops at the top', () => {
    expect(nextRung(3)).toBe(5);
    expect(nextRung(1)).toBe(2);
    expect(nextRung(50)).toBe(100);
    const top = D_STEP_LADDER[D_STEP_LADDER.length - 1]!;
    expect(nextRung(top)).toBe(top);
    const s = afterGeneratorStep({ dSteps: top, ema: 0, sinceMove: 10 }, 0, { threshold: 0.6, beta: 0.5, grace: 1, max: 1000 });
    expect(s.dSteps).toBe(top);
    expect(s.sinceMove).toBe(11);
  });

  it('never moves while D keeps rejecting more than the threshold', () => {
    let s = initialSchedule(1);
    for (let i = 0; i < 100; i++) s = afterGeneratorStep(s, 0.61, { threshold: 0.6, beta: 0.9, grace: 1, max: 1000 });
    expect(s.dSteps).toBe(1);
    expect(s.sinceMove).toBe(100);
  });

  it('stops at the cap: with max 10 the hand calculation stays at 10 where it would move to 20', () => {
    const o = { threshold: 0.6, beta: 0.5, grace: 2, max: 10 };
    let s = initialSchedule(5);
    for (const share of [0.9, 0.5, 0.4, 0.3, 0.9, 0.2]) s = afterGeneratorStep(s, share, o);
    // G step 6 would move 10 → 20 (header); the cap keeps 10 and the count of G steps since the last move runs on.
    expect(s.dSteps).toBe(10);
    expect(s.sinceMove).toBe(3);
    expect(s.ema).toBeCloseTo(0.43125, 12);
    // A ratio between rungs moves only to a rung within the cap: 3 → 5 with max 5, not with max 4.
    const low = { dSteps: 3, ema: 0, sinceMove: 5 };
    expect(afterGeneratorStep(low, 0, { ...o, grace: 1, max: 5 }).dSteps).toBe(5);
    expect(afterGeneratorStep(low, 0, { ...o, grace: 1, max: 4 }).dSteps).toBe(3);
  });
});
