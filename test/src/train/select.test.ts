/**
 * `train --dp` without `--model` (src/train/select.ts): the generator and the fitting length follow the
 * measured results for the data's privacy units per condition cell, and read nothing but public counts.
 */
import { describe, expect, it } from 'vitest';
import { fittingEpochs, selectPrivateGenerator } from '../../../src/train/select.js';

describe('fittingEpochs', () => {
  it('fits 200 steps below 1000 units per cell and 400 from there, whatever the budget', () => {
    // The measured settings (eval/results/private-generators.md, 2026-12-05, fifth session).
    expect(fittingEpochs(711, 4)).toBe(2); // the demo's phantom: 178 patients per class x sex cell
    expect(fittingEpochs(2100, 21)).toBe(2); // HAM10000 subset, label x sex: 100 per cell
    expect(fittingEpochs(4708, 2)).toBe(4); // PneumoniaMNIST, label: 2354 per cell
    // The boundary: 1000 units per cell is the first count that fits longer.
    expect(fittingEpochs(3998, 4)).toBe(2);
    expect(fittingEpochs(4000, 4)).toBe(4);
    expect(fittingEpochs(999, 1)).toBe(2);
    expect(fittingEpochs(1000, 1)).toBe(4);
  });

  it('is what the selection returns, for any budget or a fixed noise multiplier', () => {
    for (const epsilon of [1, 10, null]) {
      const small = selectPrivateGenerator({ units: 711, epsilon, cells: 4, size: 32, channels: 1 });
      const large = selectPrivateGenerator({ units: 4708, epsilon, cells: 2, size: 28, channels: 1 });
      expect([small.model, small.epochs, large.model, large.epochs]).toEqual(['dpmerf', 2, 'dpmerf', 4]);
      // The printed reason says why the fitting is that long.
      expect(small.reason).toMatch(/; 2 fitting epochs, as 178 units per condition cell is under 1000$/);
      expect(large.reason).toMatch(/; 4 fitting epochs, as 2354 units per condition cell is at least 1000$/);
    }
  });

  it('cautions below 700 units, where the rare class was measured not to be learned, and not from 700', () => {
    const tiny = selectPrivateGenerator({ units: 301, epsilon: 8, cells: 4, size: 32, channels: 1 });
    expect(tiny.model).toBe('dpmerf');
    expect(tiny.reason).toMatch(/; caution: below 700 units no private generator was measured to learn a rare class \(at 301 patients and epsilon 8 DP-MERF did not\)/);
    expect(selectPrivateGenerator({ units: 699, epsilon: 8, cells: 4, size: 32, channels: 1 }).reason).toMatch(/caution/);
    expect(selectPrivateGenerator({ units: 700, epsilon: 8, cells: 4, size: 32, channels: 1 }).reason).not.toMatch(/caution/);
  });
});
