/**
 * `medsynth demo`: the main job, end to end on the built-in phantom data. For now it writes a phantom
 * dataset and inspects it; later stages (train, balance, evaluate, audit, report) join as they land.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/fs.js';
import { info_, printJson, startBackend, withCommonOptions, type CommonOptions } from '../context.js';
import { parseSeed } from '../options.js';
import { formatInspect, runInspect, runPhantom } from './data.js';

interface DemoOptions extends CommonOptions {
  out: string;
  quick: boolean;
  seed: number;
}

export function registerDemoCommand(program: Command): void {
  withCommonOptions(
    program
      .command('demo')
      .description('run the whole pipeline on the built-in phantom data')
      .option('--out <dir>', 'output folder (replaced if it holds an earlier demo)', 'runs/demo')
      .option('--quick', 'a smaller, faster run', false)
      .option('--seed <int>', 'random seed', parseSeed, 1),
  ).action(async (opts: DemoOptions) => {
    const backend = await startBackend(opts);
    const out = resolve(opts.out);
    const dataDir = join(out, 'phantom');
    const n = opts.quick ? 400 : 2000;
    const say = opts.json ? () => {} : info_;

    say(`[1/1] phantom data: ${n} images, 64x64, seed ${opts.seed} -> ${dataDir}`);
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    await runPhantom({ out: dataDir, n, size: 64, seed: opts.seed });
    const summary = runInspect(dataDir, { size: 64, splitSeed: opts.seed });
    const result = { command: 'demo', backend, seed: opts.seed, quick: opts.quick, out, data: dataDir, inspect: summary };
    writeFileAtomic(join(out, 'inspect.json'), JSON.stringify(result, null, 2) + '\n');
    if (opts.json) printJson(result);
    else {
      process.stdout.write(formatInspect(summary, backend));
      say(`\ndemo done: dataset in ${dataDir}, summary in ${join(out, 'inspect.json')}`);
    }
  });
}
