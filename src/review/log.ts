/**
 * Human review of synthetic images (issue #24): the samples a reviewer sees, the append-only decision log
 * (`review.jsonl` in the samples folder) and the release rule.
 *
 * Samples: a `medsynth sample` or `medsynth balance` output folder (manifest.csv + PNGs); only the
 * `synthetic=1` rows are reviewed (a balance folder's real rows are by reference and never shown). A row's
 * cell is its class × group: label_name and every attribute column (not path, label, synthetic, model_id,
 * seed, split, patient_id).
 *
 * Log: one JSON object per line, `{reviewer, time (ISO 8601), image (manifest path), decision, reason?,
 * note?}`, only ever appended. A reviewer may change their mind: their LATEST line for an image counts.
 * Lines from every reviewer are kept. A line that does not parse (a torn last write) is skipped and counted.
 *
 * Release rule: an image is released when at least `minReviewers` reviewers' latest decision is `accept`
 * and no reviewer's latest decision is `reject`. `skip` is no decision.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { parseCsv } from '../../datasets/csv.js';
import { DatasetError } from '../core/errors.js';

export const REVIEW_LOG = 'review.jsonl';

export const REJECT_REASONS = ['anatomically implausible', 'artefact', 'wrong class', 'near-copy of a patient', 'other'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const DECISIONS = ['accept', 'reject', 'skip'] as const;
export type Decision = (typeof DECISIONS)[number];

/** Manifest columns that are not a group attribute. */
const NOT_GROUP = new Set(['path', 'label', 'label_name', 'synthetic', 'model_id', 'seed', 'split', 'patient_id']);

export interface ReviewSample {
  /** The manifest's path, relative to the samples folder (e.g. images/syn_000001.png). */
  image: string;
  label: string;
  groups: Record<string, string>;
  /** "label_name | attr=value, ..." */
  cell: string;
}

export interface SampleSet {
  dir: string;
  header: string[];
  /** The synthetic rows, in manifest order, with their raw fields (for the released manifest). */
  samples: (ReviewSample & { fields: string[] })[];
  groupColumns: string[];
}

export function cellName(label: string, groups: Record<string, string>): string {
  const g = Object.entries(groups).map(([k, v]) => `${k}=${v}`).join(', ');
  return g ? `${label} | ${g}` : label;
}

/** Reads the synthetic rows of a samples folder. */
export function readSamples(dir: string): SampleSet {
  const manifest = join(dir, 'manifest.csv');
  if (!existsSync(manifest)) throw new DatasetError(`${dir}: no manifest.csv; give the --out folder of medsynth sample or medsynth balance`);
  const t = parseCsv(readFileSync(manifest, 'utf8'), manifest);
  const col = (name: string) => t.header.indexOf(name);
  const iPath = col('path');
  const iSyn = col('synthetic');
  if (iPath < 0 || iSyn < 0) throw new DatasetError(`${manifest}: expected the columns path and synthetic (a medsynth sample or balance manifest), got ${t.header.join(', ')}`);
  const iName = col('label_name') >= 0 ? col('label_name') : col('label');
  const groupColumns = t.header.filter((h) => !NOT_GROUP.has(h));
  const samples = t.rows
    .filter((r) => r.fields[iSyn]!.trim() === '1')
    .map((r) => {
      const groups = Object.fromEntries(groupColumns.map((g) => [g, r.fields[col(g)]!]));
      const label = iName >= 0 ? r.fields[iName]! : '';
      return { image: r.fields[iPath]!, label, groups, cell: cellName(label, groups), fields: r.fields };
    });
  if (samples.length === 0) throw new DatasetError(`${manifest}: no synthetic=1 rows to review`);
  const outside = samples.find((s) => isAbsolute(s.image) || s.image.split(/[\\/]/).includes('..'));
  if (outside) throw new DatasetError(`${manifest}: synthetic row ${outside.image} points outside the samples folder; synthetic images must lie inside it`);
  return { dir, header: t.header, samples, groupColumns };
}

export const ReviewEntrySchema = z
  .object({
    reviewer: z.string().min(1).max(100),
    time: z.string().datetime(),
    image: z.string().min(1).max(1000),
    decision: z.enum(DECISIONS),
    reason: z.enum(REJECT_REASONS).optional(),
    note: z.string().max(2000).optional(),
  })
  .strict()
  .refine((e) => (e.decision === 'reject') === (e.reason !== undefined), { message: 'a reject needs a reason, and only a reject has one' })
  .refine((e) => e.reason !== 'other' || (e.note ?? '').trim().length > 0, { message: "reason 'other' needs a note" });

export type ReviewEntry = z.infer<typeof ReviewEntrySchema>;

/** Appends one decision as one line (a single write with O_APPEND; earlier lines are never touched). */
export function appendDecision(dir: string, entry: ReviewEntry): void {
  const checked = ReviewEntrySchema.parse(entry);
  appendFileSync(join(dir, REVIEW_LOG), JSON.stringify(checked) + '\n', { flag: 'a' });
}

/** Every valid line of a review log, in order, and how many lines were skipped as unreadable. */
export function readLog(file: string): { entries: ReviewEntry[]; skipped: number } {
  if (!existsSync(file)) return { entries: [], skipped: 0 };
  const entries: ReviewEntry[] = [];
  let skipped = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(ReviewEntrySchema.parse(JSON.parse(line)));
    } catch {
      skipped++;
    }
  }
  return { entries, skipped };
}

/** image → reviewer → that reviewer's latest entry for the image. */
export function latestDecisions(entries: ReviewEntry[]): Map<string, Map<string, ReviewEntry>> {
  const out = new Map<string, Map<string, ReviewEntry>>();
  for (const e of entries) {
    let m = out.get(e.image);
    if (!m) out.set(e.image, (m = new Map()));
    m.set(e.reviewer, e); // later lines win
  }
  return out;
}

export type ImageStatus = 'released' | 'rejected' | 'pending';

/** The release rule (see the module header). */
export function imageStatus(byReviewer: Map<string, ReviewEntry> | undefined, minReviewers: number): ImageStatus {
  if (!byReviewer) return 'pending';
  const latest = [...byReviewer.values()];
  if (latest.some((e) => e.decision === 'reject')) return 'rejected';
  return latest.filter((e) => e.decision === 'accept').length >= minReviewers ? 'released' : 'pending';
}

export interface CellSummary {
  cell: string;
  images: number;
  /** Images with at least one accept or reject. */
  reviewed: number;
  released: number;
  rejected: number;
  /** released / reviewed (null when nothing was reviewed). */
  acceptanceRate: number | null;
}

export interface ReviewSummary {
  rule: string;
  minReviewers: number;
  reviewers: string[];
  images: number;
  reviewed: number;
  released: number;
  rejected: number;
  acceptanceRate: number | null;
  reasons: Record<string, number>;
  cells: CellSummary[];
  /** Log lines that did not parse, or named an image not in the manifest. */
  skippedLines: number;
}

export const releaseRule = (minReviewers: number) =>
  `released when at least ${minReviewers} reviewer(s) accepted it and none rejected it (each reviewer's latest decision counts; skip is no decision)`;

/** Counts per class × group cell, and which images the rule releases. */
export function summarize(set: SampleSet, entries: ReviewEntry[], minReviewers: number, skippedLines = 0): { summary: ReviewSummary; status: Map<string, ImageStatus> } {
  const known = new Set(set.samples.map((s) => s.image));
  const valid = entries.filter((e) => known.has(e.image));
  const latest = latestDecisions(valid);
  const status = new Map<string, ImageStatus>();
  const cells = new Map<string, CellSummary>();
  const reasons: Record<string, number> = {};
  for (const s of set.samples) {
    const by = latest.get(s.image);
    const st = imageStatus(by, minReviewers);
    status.set(s.image, st);
    const c = cells.get(s.cell) ?? { cell: s.cell, images: 0, reviewed: 0, released: 0, rejected: 0, acceptanceRate: null };
    c.images++;
    if (by && [...by.values()].some((e) => e.decision !== 'skip')) c.reviewed++;
    if (st === 'released') c.released++;
    if (st === 'rejected') c.rejected++;
    cells.set(s.cell, c);
    for (const e of by?.values() ?? []) if (e.reason) reasons[e.reason] = (reasons[e.reason] ?? 0) + 1;
  }
  const list = [...cells.values()].map((c) => ({ ...c, acceptanceRate: c.reviewed ? c.released / c.reviewed : null }));
  const sum = (k: 'images' | 'reviewed' | 'released' | 'rejected') => list.reduce((a, c) => a + c[k], 0);
  const reviewed = sum('reviewed');
  return {
    summary: {
      rule: releaseRule(minReviewers),
      minReviewers,
      reviewers: [...new Set(valid.map((e) => e.reviewer))].sort(),
      images: sum('images'),
      reviewed,
      released: sum('released'),
      rejected: sum('rejected'),
      acceptanceRate: reviewed ? sum('released') / reviewed : null,
      reasons,
      cells: list,
      skippedLines: skippedLines + (entries.length - valid.length),
    },
    status,
  };
}

/**
 * The review summary `medsynth report --review FILE` shows: FILE is a samples folder's review.jsonl (read
 * with the manifest beside it, rule with one reviewer) or the review-summary.json that release wrote.
 */
export function loadReviewSummary(file: string): ReviewSummary {
  if (!existsSync(file)) throw new DatasetError(`--review ${file}: no such file; give a samples folder's ${REVIEW_LOG} or release's review-summary.json`);
  if (file.endsWith('.json')) {
    let s: any;
    try {
      s = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new DatasetError(`--review ${file}: not valid JSON; give release's review-summary.json or a ${REVIEW_LOG}`);
    }
    if (!Array.isArray(s?.cells) || typeof s?.rule !== 'string') throw new DatasetError(`--review ${file}: not a review summary written by medsynth release`);
    const { samples: _samples, ...summary } = s;
    return summary as ReviewSummary;
  }
  const { entries, skipped } = readLog(file);
  return summarize(readSamples(dirname(file)), entries, 1, skipped).summary;
}
