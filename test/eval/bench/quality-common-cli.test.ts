// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * The train command the quality benchmarks print for a run (quality-common.ts equivalentTrainCommand),
 * run for real: it must train a run whose run.json equals the one it was printed from.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { equivalentTrainCommand } from '../../../eval/bench/quality-common.js';
import { runCli } from '../../helpers/cli.js';

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
