/**
 * `medsynth release`: the reviewed images that may be used (issue #24). Writes, atomically, into a new (or
 * empty) folder: the released PNGs at their manifest paths, manifest.csv with only their rows (same
 * columns), review-summary.json (rule, counts and acceptance rate per class × group cell, reasons) and a
 * copy of review.jsonl (the evidence; `medsynth report --review` reads it).
 * Rule (log.ts): released when at least `minReviewers` reviewers accepted and none rejected.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { toCsv } from '../../datasets/csv.js';
import { ConfigError } from '../core/errors.js';
import { writeDirAtomic } from '../core/fs.js';
import { readLog, readSamples, REVIEW_LOG, summarize, type ReviewSummary } from './log.js';

export const RELEASE_MARKER = 'medsynth release';

export interface ReleaseRequest {
  samples: string;
  out: string;
  minReviewers?: number;
  /** Replace `out` if it holds an earlier medsynth release (its marker file); never anything else. */
  force?: boolean;
}

export interface ReleaseResult {
  out: string;
  released: string[];
  summary: ReviewSummary;
}

export async function releaseReviewed(req: ReleaseRequest): Promise<ReleaseResult> {
  const minReviewers = req.minReviewers ?? 1;
  if (!(Number.isInteger(minReviewers) && minReviewers >= 1)) throw new ConfigError(`--min-reviewers ${minReviewers}: expected a whole number >= 1`);
  const dir = resolve(req.samples);
  const set = readSamples(dir);
  const logFile = join(dir, REVIEW_LOG);
  const { entries, skipped } = readLog(logFile);
  if (entries.length === 0) throw new ConfigError(`${dir}: no review decisions (${REVIEW_LOG} is missing or empty); review the images first with medsynth review ${req.samples}`);
  const { summary, status } = summarize(set, entries, minReviewers, skipped);
  const rows = set.samples.filter((s) => status.get(s.image) === 'released');
  const out = resolve(req.out);
  await writeDirAtomic(
    out,
    (tmp) => {
      for (const s of rows) {
        mkdirSync(dirname(join(tmp, s.image)), { recursive: true });
        copyFileSync(join(dir, s.image), join(tmp, s.image));
      }
      writeFileSync(join(tmp, 'manifest.csv'), toCsv(set.header, rows.map((s) => s.fields)));
      writeFileSync(join(tmp, 'review-summary.json'), JSON.stringify({ samples: req.samples, ...summary }, null, 2) + '\n');
      writeFileSync(join(tmp, REVIEW_LOG), readFileSync(logFile));
    },
    { option: '--out', marker: RELEASE_MARKER, force: req.force },
  );
  return { out, released: rows.map((s) => s.image), summary };
}
