/**
 * The release rule (#24): an image is released when at least --min-reviewers reviewers' latest decision is
 * accept and no reviewer's latest decision is reject; skip is no decision. release writes only those
 * images, their manifest rows and the per-cell summary, and refuses an existing non-empty --out.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../datasets/csv.js';
import { appendDecision, imageStatus, latestDecisions, readLog, readSamples, REVIEW_LOG, summarize, type ReviewEntry } from '../../../src/review/log.js';
import { releaseReviewed } from '../../../src/review/release.js';
import { makeSamples } from './fixture.js';

let clock = Date.parse('2026-12-01T10:00:00Z');
const e = (reviewer: string, n: number, decision: ReviewEntry['decision'], reason?: ReviewEntry['reason'], note?: string): ReviewEntry => ({
  reviewer,
  time: new Date((clock += 1000)).toISOString(),
  image: `images/syn_${String(n).padStart(6, '0')}.png`,
  decision,
  ...(reason ? { reason } : {}),
  ...(note ? { note } : {}),
});
const status = (entries: ReviewEntry[], min: number) => imageStatus(latestDecisions(entries).get(entries[0]!.image), min);

describe('release rule', () => {
  it('needs min accepts, no reject, and reads each reviewer\'s latest decision', () => {
    expect(status([e('a', 1, 'accept')], 1)).toBe('released');
    expect(status([e('a', 1, 'accept')], 2)).toBe('pending');
    expect(status([e('a', 1, 'accept'), e('b', 1, 'accept')], 2)).toBe('released');
    expect(status([e('a', 1, 'accept'), e('b', 1, 'reject', 'artefact')], 1)).toBe('rejected');
    expect(status([e('a', 1, 'accept'), e('a', 1, 'accept')], 2)).toBe('pending'); // one reviewer twice is one accept
    expect(status([e('a', 1, 'reject', 'wrong class'), e('a', 1, 'accept')], 1)).toBe('released'); // changed their mind
    expect(status([e('a', 1, 'accept'), e('a', 1, 'skip')], 1)).toBe('pending');
    expect(status([e('a', 1, 'skip')], 1)).toBe('pending');
  });

  it('summarizes per class x group cell', () => {
    const dir = makeSamples(2);
    const set = readSamples(dir);
    const { summary } = summarize(set, [e('a', 1, 'accept'), e('a', 2, 'reject', 'artefact'), e('a', 3, 'accept'), e('a', 5, 'skip'), e('a', 99, 'accept')], 1);
    expect(summary.cells.map((c) => [c.cell, c.images, c.reviewed, c.released, c.rejected, c.acceptanceRate])).toEqual([
      ['healthy | sex=female', 2, 2, 1, 1, 0.5],
      ['healthy | sex=male', 2, 1, 1, 0, 1],
      ['disease | sex=female', 2, 0, 0, 0, null],
      ['disease | sex=male', 2, 0, 0, 0, null],
    ]);
    expect(summary.reasons).toEqual({ artefact: 1 });
    expect(summary.skippedLines).toBe(1); // syn_000099 is not in the manifest
    expect(summary.acceptanceRate).toBeCloseTo(2 / 3, 12);
  });
});

describe('medsynth release', () => {
  it('writes only the released images, their manifest rows and the summary; refuses a non-empty --out', async () => {
    const dir = makeSamples(2);
    for (const x of [e('alice', 1, 'accept'), e('bob', 1, 'accept'), e('alice', 2, 'accept'), e('bob', 2, 'reject', 'near-copy of a patient'), e('alice', 3, 'accept'), e('alice', 4, 'reject', 'other', 'two hearts')]) appendDecision(dir, x);
    const one = await releaseReviewed({ samples: dir, out: join(dir, 'rel1') });
    expect(one.released).toEqual(['images/syn_000001.png', 'images/syn_000003.png']);
    const two = await releaseReviewed({ samples: dir, out: join(dir, 'rel2'), minReviewers: 2 });
    expect(two.released).toEqual(['images/syn_000001.png']);
    const out = join(dir, 'rel1');
    expect(readdirSync(join(out, 'images')).sort()).toEqual(['syn_000001.png', 'syn_000003.png']);
    const m = parseCsv(readFileSync(join(out, 'manifest.csv'), 'utf8'), 'manifest.csv');
    expect(m.header).toEqual(['path', 'label', 'label_name', 'sex', 'synthetic', 'model_id', 'seed']);
    expect(m.rows.map((r) => r.fields[0])).toEqual(one.released);
    expect(readFileSync(join(out, 'images/syn_000003.png'))).toEqual(readFileSync(join(dir, 'images/syn_000003.png')));
    const summary = JSON.parse(readFileSync(join(out, 'review-summary.json'), 'utf8'));
    expect(summary.rule).toMatch(/at least 1 reviewer\(s\) accepted it and none rejected it/);
    expect(summary.reviewers).toEqual(['alice', 'bob']);
    expect(summary.reasons).toEqual({ 'near-copy of a patient': 1, other: 1 });
    expect(readLog(join(out, REVIEW_LOG)).entries).toHaveLength(6);

    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'x.txt'), 'mine');
    await expect(releaseReviewed({ samples: dir, out: busy })).rejects.toThrow(/already exists and was not written by medsynth/);
    expect(readdirSync(busy)).toEqual(['x.txt']);
    await expect(releaseReviewed({ samples: dir, out: out })).rejects.toThrow(/already holds an earlier medsynth release/);
  });

  it('refuses a folder that was never reviewed, and a manifest row outside the folder', async () => {
    const dir = makeSamples(1);
    await expect(releaseReviewed({ samples: dir, out: join(dir, 'rel') })).rejects.toThrow(/no review decisions/);
    expect(existsSync(join(dir, 'rel'))).toBe(false);
    writeFileSync(join(dir, 'manifest.csv'), 'path,label,synthetic\n../escape.png,0,1\n');
    expect(() => readSamples(dir)).toThrow(/outside the samples folder/);
  });
});
