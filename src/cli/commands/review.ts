/** `medsynth review` and `medsynth release`: human review of synthetic images before anyone uses them (#24). */
import { InvalidArgumentError, type Command } from 'commander';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { checkOutputDir } from '../../core/fs.js';
import { REVIEW_LOG } from '../../review/log.js';
import { loadNearestIndex } from '../../review/nearest.js';
import { releaseReviewed, RELEASE_MARKER } from '../../review/release.js';
import { startReviewServer } from '../../review/server.js';
import { info_ } from '../context.js';
import { parsePositiveInt } from '../options.js';
import { formatTable } from '../../core/table.js';
import { JsonOutput, JSON_HELP, withExample } from './shared.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 0 && n <= 65535)) throw new InvalidArgumentError('expected a port from 0 (any free port) to 65535');
  return n;
}

function parseReviewer(value: string): string {
  const v = value.trim();
  if (!v || v.length > 100) throw new InvalidArgumentError('expected a name of 1 to 100 characters');
  return v;
}

function defaultReviewer(): string {
  try {
    return userInfo().username || 'reviewer';
  } catch {
    return 'reviewer';
  }
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

export function registerReviewCommands(program: Command): void {
  withExample(
    program
      .command('review')
      .description('review synthetic images in a local browser page (127.0.0.1 only): accept, reject with a reason, or skip')
      .argument('<samples>', 'a medsynth sample or balance output folder (manifest.csv + PNGs; synthetic=1 rows are reviewed)')
      .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', parsePort, 0)
      .option('--reviewer <name>', 'your name, recorded with every decision (default: your login name)', parseReviewer)
      .option('--show-nearest <run>', "near-copy check (off by default): show the nearest REAL image of the run's train split beside each sample; held in memory, never written"),
    'medsynth review samples/ --reviewer "Dr A. Jones"',
  ).action(async (samples: string, opts: { port: number; reviewer?: string; showNearest?: string }) => {
    const reviewer = opts.reviewer ?? defaultReviewer();
    const nearest = opts.showNearest !== undefined ? loadNearestIndex(opts.showNearest) : undefined;
    const server = await startReviewServer({ dir: samples, reviewer, port: opts.port, nearest });
    if (nearest) info_(`near-copy check on: the page shows the nearest REAL training image of ${opts.showNearest} beside each sample (in memory only)`);
    info_(`reviewing ${server.samples.samples.length} synthetic images as ${reviewer}; decisions are appended to ${join(samples, REVIEW_LOG)}`);
    info_('open this URL in a browser on this machine (it carries the session token; Ctrl-C stops the server):');
    process.stdout.write(`${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void server.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  });

  withExample(
    program
      .command('release')
      .description('write only the reviewed, accepted synthetic images (accepted by >= --min-reviewers reviewers, rejected by none), their manifest and the review summary')
      .argument('<samples>', 'a reviewed samples folder (with review.jsonl)')
      .requiredOption('--out <dir>', 'new (or empty) output folder')
      .option('--min-reviewers <n>', 'accepts needed per image', parsePositiveInt, 1)
      .option('--force', 'replace --out if it holds an earlier medsynth release (never any other folder)', false)
      .option('--json [file]', JSON_HELP),
    'medsynth release samples/ --out released/ --min-reviewers 2',
  ).action(async (samples: string, opts: { out: string; minReviewers: number; force: boolean; json?: string | true }) => {
    checkOutputDir(opts.out, { option: '--out', marker: RELEASE_MARKER, force: opts.force });
    const json = new JsonOutput(opts.json);
    const r = await releaseReviewed({ samples, out: opts.out, minReviewers: opts.minReviewers, force: opts.force });
    json.write({ command: 'release', out: r.out, released: r.released.length, summary: r.summary });
    if (json.stdout) return;
    const s = r.summary;
    process.stdout.write(
      formatTable(
        ['cell', 'images', 'reviewed', 'released', 'rejected', 'acceptance'],
        s.cells.map((c) => [c.cell, c.images, c.reviewed, c.released, c.rejected, pct(c.acceptanceRate)]),
      ) + '\n',
    );
    info_(`rule: ${s.rule}; reviewers: ${s.reviewers.join(', ') || 'none'}`);
    if (s.skippedLines) info_(`${s.skippedLines} line(s) of ${REVIEW_LOG} were unreadable or named an image not in the manifest, and were ignored`);
    info_(`released ${r.released.length} of ${s.images} images to ${r.out} (manifest.csv, review-summary.json, ${REVIEW_LOG})`);
  });
}
