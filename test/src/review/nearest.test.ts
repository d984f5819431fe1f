/**
 * The near-copy check (#24): `review --show-nearest RUN` serves, per synthetic image, the nearest REAL
 * training image of the run's train split (pixel distance), with the token and path checks of every
 * image route, no-store, and nothing written; without it the route is 404 and the page says the check is off.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../datasets/image/decode.js';
import { loadNearestIndex } from '../../../src/review/nearest.js';
import { startReviewServer, type ReviewServer } from '../../../src/review/server.js';
import { makeSamples } from './fixture.js';

const open: ReviewServer[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

describe('review --show-nearest', () => {
  it('serves the nearest real training image, in memory only, and says so on the page', async () => {
    // A "training set" that is itself a folder-csv dataset (the fixture's manifest) and a run.json naming it.
    const data = makeSamples(4);
    const run = join(data, 'run');
    const samples = makeSamples(1);
    mkdirSync(run);
    writeFileSync(join(run, 'run.json'), JSON.stringify({ data, size: 32, channels: 1, splitSeed: 1 }));
    const index = loadNearestIndex(run);
    // A training image is its own nearest neighbour at distance 0, when it is in the train split.
    const hits = readdirSync(join(data, 'images')).map((f) => index.nearest(readFileSync(join(data, 'images', f)), f));
    expect(hits.some((h) => h.rms === 0)).toBe(true);
    const h0 = hits.find((h) => h.rms === 0)!;
    expect(decodeImage(h0.png, 'nearest').width).toBe(32);

    const before = readdirSync(samples).sort();
    const on = await startReviewServer({ dir: samples, reviewer: 'a', port: 0, nearest: index });
    open.push(on);
    const base = `http://127.0.0.1:${on.port}`;
    const r = await fetch(`${base}/nearest/images/syn_000001.png?token=${on.token}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(Number(r.headers.get('x-medsynth-rms'))).toBeGreaterThanOrEqual(0);
    expect(Buffer.from(await r.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    expect((await fetch(`${base}/nearest/images/syn_000001.png`)).status).toBe(403);
    expect((await fetch(`${base}/nearest/secret.txt?token=${on.token}`)).status).toBe(404);
    expect(await (await fetch(on.url)).text()).toMatch(/Near-copy check ON/);
    expect(readdirSync(samples).sort()).toEqual(before); // nothing written

    const off = await startReviewServer({ dir: samples, reviewer: 'a', port: 0 });
    open.push(off);
    expect((await fetch(`http://127.0.0.1:${off.port}/nearest/images/syn_000001.png?token=${off.token}`)).status).toBe(404);
    expect(await (await fetch(off.url)).text()).toMatch(/Near-copy check off: no real image is shown/);
  });
});
