/** `medsynth report`: the privacy leakage report of a run (HTML, Markdown, JSON). */
import type { Command } from 'commander';
import { join } from 'node:path';
import { buildReport } from '../../report/report.js';
import { info_, printJson, startBackend, withCommonOptions, type CommonOptions } from '../context.js';
import { parseSeed } from '../options.js';

interface ReportCliOptions extends CommonOptions {
  run: string;
  eval?: string;
  audit?: string;
  out: string;
  includeTrainingImages: boolean;
  seed: number;
}

export function registerReportCommand(program: Command): void {
  withCommonOptions(
    program
      .command('report')
      .description('write the privacy leakage report of a run: report.html (self-contained), report.md, report.json')
      .requiredOption('--run <dir>', 'a finished run folder (runs/NAME)')
      .option('--eval <file>', 'JSON written by medsynth evaluate --json')
      .option('--audit <file>', 'JSON written by medsynth audit --json')
      .requiredOption('--out <dir>', 'output folder (replaced if it holds an earlier report)')
      .option('--include-training-images', 'also show REAL training images beside the samples', false)
      .option('--seed <int>', 'seed of the sample grids', parseSeed, 1),
  ).action(async (opts: ReportCliOptions) => {
    const backend = await startBackend(opts);
    const r = await buildReport({ run: opts.run, eval: opts.eval, audit: opts.audit, out: opts.out, includeTrainingImages: opts.includeTrainingImages, seed: opts.seed });
    const files = ['report.html', 'report.md', 'report.json'].map((f) => join(r.out, f));
    if (opts.json) printJson({ command: 'report', backend, out: r.out, files, verdicts: r.data.verdicts });
    else {
      for (const [k, v] of Object.entries(r.data.verdicts)) info_(`${k.padEnd(9)} ${v.level.padEnd(7)} ${v.text}`);
      process.stdout.write(`${files[0]}\n`);
    }
  });
}
