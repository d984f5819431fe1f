/**
 * The helpers the quality benchmarks share: the train command that reproduces a run.json, and a run's
 * split read back from its splits.csv.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageDataset } from '../../../datasets/dataset.js';
import { equivalentTrainCommand, runSplitIndices } from '../../../eval/bench/quality-common.js';

describe('equivalentTrainCommand', () => {
  const base = { model: 'cvae', size: 32, condition: ['label', 'sex'], epochs: 2, batchSize: 64, seed: 3, splitSeed: 1, channels: 3 };
  it('spells out every recorded option, with the data under its display name', () => {
    expect(equivalentTrainCommand(base, 'ham')).toBe(
      'medsynth train --model cvae --data ham --out RUN --size 32 --condition label,sex --epochs 2 --batch-size 64 --seed 3 --split-seed 1 --channels 3',
    );
  });
  it('adds bins, attributes, the generator config and the DP plan', () => {
    const cmd = equivalentTrainCommand(
      {
        ...base,
        bins: { age: [30, 60] },
        attributes: ['sex', 'age'],
        generator: { latent: 8 },
        dp: { calibrated: true, targetEpsilon: 8, delta: 1e-5, clipNorm: 1, accountant: 'rdp', unit: 'patient' },
      },
      'ph',
    );
    expect(cmd).toContain("--bins 'age=30,60' --attributes sex,age --model-config '{\"latent\":8}'");
    expect(cmd).toContain('--dp --target-epsilon 8 --delta 0.00001 --max-grad-norm 1 --accountant rdp --privacy-unit patient');
  });
});

describe('runSplitIndices', () => {
  it('maps splits.csv rows (ids may contain commas) to dataset rows, train and test only', () => {
    const run = mkdtempSync(join(tmpdir(), 'medsynth-split-'));
    writeFileSync(join(run, 'splits.csv'), 'id,split\na.png,test\n"b,1".png,train\nc.png,holdout\nd.png,train\n');
    const ds = { ids: ['d.png', 'c.png', '"b,1".png', 'a.png', 'e.png'] } as unknown as ImageDataset;
    expect(runSplitIndices(run, ds)).toEqual({ train: [0, 2], test: [3] });
  });
});
