/**
 * `medsynth demo`: the main job, end to end on the built-in phantom data, with progress. The pipeline itself
 * (phantom data → the private generator → balance → evaluate → audit → report) is `runDemo` in
 * src/demo/demo.ts; this file parses the flags, starts the backend, prints and writes `--json`. The report's
 * path is the last line printed.
 * `--quick` shrinks every stage (fewer, smaller images, shorter training) for a CI smoke run.
 * Progress: training, evaluation and the audit each print a line with the time left every 20 s.
 */
import type { Command } from 'commander';
import { runDemo } from '../../demo/demo.js';
import type { Progress } from '../../train/loop.js';
import { info_, startBackend } from '../context.js';
import { parseSeed } from '../options.js';
import { formatSeconds, JsonOutput, verdictLine, progressPrinter, withExample, withSharedOptions, type SharedOptions } from './shared.js';

interface DemoCliOptions extends SharedOptions {
  out: string;
  quick: boolean;
  seed: number;
}

export function registerDemoCommand(program: Command): void {
  withExample(withSharedOptions(
    program
      .command('demo')
      .description('run the whole pipeline on the built-in phantom data: data, DP generator, balance, evaluate, audit, report')
      .option('--out <dir>', 'output folder (replaced if it holds an earlier demo)', 'runs/demo')
      .option('--quick', 'a smaller, faster run (about 2 minutes)', false)
      .option('--seed <int>', 'random seed', parseSeed, 1),
  ), 'medsynth demo --quick --out runs/demo').action(async (opts: DemoCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const say = json.stdout ? () => {} : info_;
    const result = await runDemo(
      { out: opts.out, quick: opts.quick, seed: opts.seed, backend },
      json.stdout
        ? {}
        : {
            say,
            // A line every 20 s with the step and the time left, so the longest stage is never silent.
            trainProgress: () => {
              let last = performance.now();
              return (p: Progress) => {
                const now = performance.now();
                if (now - last < 20000) return;
                last = now;
                say(`      step ${p.step}/${p.epochs * p.stepsPerEpoch}, epoch ${p.epoch}/${p.epochs}, ${p.imagesPerSecond.toFixed(0)} img/s, about ${formatSeconds(p.etaSeconds)} left`);
              };
            },
            // Each evaluation and audit stage's start, then a bar with the time left every 20 s (as training).
            stageProgress: () => progressPrinter(say, { everyMs: 20000, indent: '      ' }),
          },
    );
    json.write(result);
    if (!json.stdout) {
      for (const [k, v] of Object.entries(result.verdicts)) say(`      ${verdictLine(k, v)}`);
      say(`demo done in ${result.seconds.toFixed(0)} s; report:`);
      process.stdout.write(`${result.report}\n`);
    }
  });
}
