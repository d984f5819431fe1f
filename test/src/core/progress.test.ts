/**
 * Stage progress (#19.17): fractions that never go back, an ETA extrapolated from the time so far, and the
 * printer's throttle, on a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { StageTracker, type StageProgress } from '../../../src/core/progress.js';
import { formatProgress, progressBar, progressPrinter } from '../../../src/cli/commands/shared.js';

const STAGES = [
  { name: 'a', weight: 10 },
  { name: 'b', weight: 30 },
  { name: 'c', weight: 60 },
];

describe('StageTracker', () => {
  it('weights stages, keeps the fraction monotone, and extrapolates the ETA', () => {
    let t = 0;
    const seen: StageProgress[] = [];
    const p = new StageTracker(STAGES, (x) => seen.push(x), () => t);
    p.start('a', 'first');
    t = 1000;
    p.update(0.5, 'half of a');
    p.update(0.2, 'a went back'); // clamped: the fraction does not decrease
    t = 2000;
    p.start('c', 'skipping b'); // b counted as done
    t = 6000;
    p.update(0.5);
    t = 8000;
    p.finish();
    expect(seen.map((x) => [x.stage, x.index, x.started, x.stageFraction, +x.fraction.toFixed(6)])).toEqual([
      ['a', 1, true, 0, 0],
      ['a', 1, false, 0.5, 0.05],
      ['a', 1, false, 0.5, 0.05],
      ['c', 3, true, 0, 0.4],
      ['c', 3, false, 0.5, 0.7],
      ['c', 3, false, 1, 1],
    ]);
    expect(seen[0]!.etaSeconds).toBeNull();
    // 1 s for 5%: 19 s left; 6 s for 70%: 6 * 0.3 / 0.7 s left; done: 0 left.
    expect(seen[1]!.etaSeconds).toBeCloseTo(19, 9);
    expect(seen[4]!.etaSeconds).toBeCloseTo((6 * 0.3) / 0.7, 9);
    expect(seen[5]!.etaSeconds).toBe(0);
    expect(seen.map((x) => x.elapsedSeconds)).toEqual([0, 1, 1, 2, 6, 8]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.fraction).toBeGreaterThanOrEqual(seen[i - 1]!.fraction);
  });

  it('refuses unknown stages and going back to an earlier stage (a bug, not a user error)', () => {
    const p = new StageTracker(STAGES, () => {});
    p.start('b', '');
    expect(() => p.start('a', '')).toThrow(/stage 'a' after 'b'/);
    expect(() => p.start('z', '')).toThrow(/unknown stage 'z'/);
  });
});

describe('progress lines', () => {
  it('draw a bar with the time left, the stage and where it is', () => {
    expect(progressBar(0)).toBe('[....................]   0%');
    expect(progressBar(0.355)).toBe('[#######.............]  35%');
    expect(progressBar(1)).toBe('[####################] 100%');
    const line = formatProgress({ stage: 'utility', index: 3, stages: 5, stageFraction: 0.25, fraction: 0.4, message: 'classifier 4 of 12', started: false, elapsedSeconds: 60, etaSeconds: 90 });
    expect(line).toBe('[########............]  40%  about 1m30s left; utility 3/5 25%: classifier 4 of 12');
  });

  it('print every stage start, then at most one line per interval, and the end', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new StageTracker(STAGES, progressPrinter((l) => lines.push(l), { everyMs: 20000, indent: '  ', now: () => t }), () => t);
    p.start('a', 'loading');
    for (let i = 1; i <= 100; i++) {
      t = i * 1000;
      p.update(i / 100, `step ${i}`);
    }
    p.start('b', 'comparing');
    p.finish();
    expect(lines).toEqual([
      '  a (1/3): loading',
      // eta = elapsed * (1 - f) / f: 20 s * 0.98 / 0.02 = 980 s, ...
      '  [....................]   2%  about 16m20s left; a 1/3 20%: step 20',
      '  [....................]   4%  about 16m00s left; a 1/3 40%: step 40',
      '  [#...................]   6%  about 15m40s left; a 1/3 60%: step 60',
      '  [#...................]   8%  about 15m20s left; a 1/3 80%: step 80',
      '  [##..................]  10%  about 15m00s left; a 1/3 100%: step 100',
      '  b (2/3): comparing',
      '  [####################] 100%  done; c 3/3 100%: done',
    ]);
  });
});
