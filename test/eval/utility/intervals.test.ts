import { describe, expect, it } from 'vitest';
import { pairedDifference, seedStat, t975 } from '../../../eval/utility/intervals.js';
import { loadFixture } from '../../helpers/fixtures.js';

interface Fixture {
  t975: Record<string, number>;
  cases: { name: string; values: number[]; expected: { mean: number; sd: number; lo: number; hi: number } }[];
}
const fx = loadFixture<Fixture>('t-interval');

describe('t-interval over classifier seeds', () => {
  it('t quantiles match scipy: the table exactly, the A&S 26.7.5 expansion above df 30 to 1e-5', () => {
    for (const [df, want] of Object.entries(fx.t975)) {
      expect(t975(Number(df)), `df ${df}`).toBeCloseTo(want, Number(df) <= 30 ? 12 : 5);
    }
  });

  it('mean, sd and 95% interval match scipy.stats.t.interval', () => {
    for (const c of fx.cases) {
      const s = seedStat(c.values);
      expect(s.n).toBe(c.values.length);
      expect(s.mean!).toBeCloseTo(c.expected.mean, 12);
      expect(s.sd!).toBeCloseTo(c.expected.sd, 12);
      expect(s.lo!).toBeCloseTo(c.expected.lo, 10);
      expect(s.hi!).toBeCloseTo(c.expected.hi, 10);
    }
  });

  it('by hand: 0.8, 0.85, 0.9 -> sd 0.05, half-width 4.3027 * 0.05 / sqrt(3) = 0.12421', () => {
    const s = seedStat([0.8, 0.85, 0.9]);
    expect(s.hi! - s.mean!).toBeCloseTo(0.124207, 5);
  });

  it('leaves nulls out, gives no interval for one value and nothing for none', () => {
    expect(seedStat([0.7, null, undefined])).toEqual({ mean: 0.7, lo: null, hi: null, sd: null, n: 1, values: [0.7, null, null] });
    expect(seedStat([null]).mean).toBeNull();
    const same = seedStat([0.5, 0.5, 0.5]);
    expect([same.lo, same.hi, same.sd]).toEqual([0.5, 0.5, 0]);
  });

  it('pairs differences by seed, skipping seeds where either side is missing', () => {
    const d = pairedDifference([0.9, 0.8, null, 0.7], [0.85, 0.8, 0.6, 0.75]);
    expect(d.values.map((v) => (v === null ? null : Number(v.toFixed(12))))).toEqual([0.05, 0, null, -0.05]);
    expect(d.n).toBe(3);
    expect(d.mean!).toBeCloseTo(0, 12);
  });
});

describe('t-interval of a bounded metric', () => {
  it('clips the ends to the range and leaves mean and sd alone', () => {
    const free = seedStat([0.9, 1, 1]);
    const clipped = seedStat([0.9, 1, 1], { range: [0, 1] });
    expect(free.hi!).toBeGreaterThan(1);
    expect(clipped).toEqual({ ...free, hi: 1 });
  });
});
