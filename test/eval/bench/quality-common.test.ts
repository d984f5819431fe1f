/**
 * The helpers the quality benchmarks share: the train command that reproduces a run.json, and a run's
 * split read back from its splits.csv.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageDataset } from '../../../datasets/dataset.js';
import { runCli } from '../../helpers/cli.js';
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

describe('equivalentTrainCommand, run', () => {
  it('trains, from a DP run.json, a run with the same run.json', () => {
    const work = mkdtempSync(join(tmpdir(), 'medsynth-equivalent-'));
    const data = join(work, 'ph');
    expect(runCli(['data', 'phantom', '--out', data, '--n', '160', '--size', '28', '--seed', '4']).status).toBe(0);
    const first = join(work, 'first');
    const t = runCli(['train', '--data', data, '--out', first, '--size', '28', '--condition', 'label,sex', '--dp', '--target-epsilon', '6', '--model-config', '{"frequencies":64,"perCell":4,"stepsPerEpoch":2}', '--seed', '9']);
    expect(t.status, t.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(first, 'run.json'), 'utf8'));
    const cmd = equivalentTrainCommand(record, data).replace(/^medsynth /, '').replace('--out RUN', `--out ${join(work, 'again')}`);
    // The printed command quotes the JSON for a shell; undo that to pass the arguments directly.
    const args = cmd.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, ''));
    const again = runCli(args);
    expect(again.status, again.stderr).toBe(0);
    const strip = (r: Record<string, unknown>) => ({ ...r, selection: undefined });
    expect(strip(JSON.parse(readFileSync(join(work, 'again', 'run.json'), 'utf8')))).toEqual(strip(record));
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
