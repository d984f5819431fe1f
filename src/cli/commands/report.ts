/** `medsynth report`: the privacy leakage report of a run (HTML, Markdown, JSON). */
import type { Command } from 'commander';
import { join } from 'node:path';
import { checkOutputDir } from '../../core/fs.js';
import { buildReport, REPORT_MARKER } from '../../report/report.js';
import { info_, startBackend } from '../context.js';
import { parseSeed } from '../options.js';
import { JsonOutput, verdictLine, withExample, withSharedOptions, type SharedOptions } from './shared.js';

interface ReportCliOptions extends SharedOptions {
  run: string;
  eval?: string;
  audit?: string;
  out: string;
  includeTrainingImages: boolean;
  seed: number;
  force: boolean;
  review?: string;
  signOff?: string;
}

export function registerReportCommand(program: Command): void {
  withExample(withSharedOptions(
    program
      .command('report')
      .description('write the privacy leakage report of a run: report.html (self-contained), report.md, report.json')
      .requiredOption('--run <dir>', 'a finished run folder (runs/NAME)')
      .option('--eval <file>', 'JSON written by medsynth evaluate --json')
      .option('--audit <file>', 'JSON written by medsynth audit --json')
      .option('--review <file>', "a samples folder's review.jsonl (medsynth review) or release's review-summary.json, for the checklist")
      .option('--sign-off <file>', 'JSON answering the checklist items only a person can: signedBy, date, intendedUse, dataLicence, tuningOnPrivateData, clinicalSignOff')
      .requiredOption('--out <dir>', 'new (or empty) output folder')
      .option('--force', 'replace --out if it holds an earlier medsynth report (never any other folder)', false)
      .option('--include-training-images', 'also show REAL training images beside the samples', false)
      .option('--seed <int>', 'seed of the sample grids', parseSeed, 1),
  ), 'medsynth report --run runs/cvae --eval evaluation.json --audit audit.json --out reports/cvae').action(async (opts: ReportCliOptions) => {
    checkOutputDir(opts.out, { option: '--out', marker: REPORT_MARKER, force: opts.force }); // before the work, not after
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const r = await buildReport({ run: opts.run, eval: opts.eval, audit: opts.audit, out: opts.out, includeTrainingImages: opts.includeTrainingImages, seed: opts.seed, force: opts.force, review: opts.review, signOff: opts.signOff });
    const files = ['report.html', 'report.md', 'report.json'].map((f) => join(r.out, f));
    json.write({ command: 'report', backend, out: r.out, files, verdicts: r.data.verdicts, checklist: r.data.checklist });
    if (!json.stdout) {
      for (const [k, v] of Object.entries(r.data.verdicts)) info_(verdictLine(k, v));
      const open = (r.data.checklist ?? []).filter((c) => c.status === 'open').map((c) => c.signOffField);
      if (open.length) info_(`checklist: ${open.length} item(s) open for a person (--sign-off FILE.json fields: ${open.join(', ')})`);
      process.stdout.write(`${files[0]}\n`);
    }
  });
}
