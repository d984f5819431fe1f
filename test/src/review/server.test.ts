/**
 * The review server's security and log contract (#24), against the started server on a free port with
 * Node's fetch: token or 403, loopback Host only, path traversal, oversized bodies, malformed JSON and bad
 * decisions each 4xx with the log untouched, the log append-only across a restart, two reviewers kept.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { readLog, REVIEW_LOG } from '../../../src/review/log.js';
import { MAX_BODY_BYTES, startReviewServer, type ReviewServer } from '../../../src/review/server.js';
import { makeSamples } from './fixture.js';

const open: ReviewServer[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function start(dir: string, reviewer = 'alice'): Promise<ReviewServer> {
  const s = await startReviewServer({ dir, reviewer, port: 0 });
  open.push(s);
  return s;
}

const base = (s: ReviewServer) => `http://127.0.0.1:${s.port}`;
const post = (s: ReviewServer, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base(s)}/api/decision?token=${s.token}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const logText = (dir: string) => {
  try {
    return readFileSync(join(dir, REVIEW_LOG), 'utf8');
  } catch {
    return '';
  }
};

/** A raw request (fetch normalises paths and will not send a forged Host header). */
function raw(s: ReviewServer, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: s.port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

describe('medsynth review server', () => {
  it('binds to 127.0.0.1, prints a URL with a random token, and answers 403 without it', async () => {
    const dir = makeSamples();
    const s = await start(dir);
    const t = await start(dir);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    expect(s.token).not.toBe(t.token);
    expect((await fetch(s.url)).status).toBe(200);
    const page = await (await fetch(s.url)).text();
    expect(page).not.toMatch(/(src|href)="https?:|<link |@import|url\(/i); // self-contained
    for (const path of ['/', '/api/state', '/img/images/syn_000001.png', `/?token=${'0'.repeat(32)}`, '/?token=']) {
      expect((await fetch(`${base(s)}${path}`)).status, path).toBe(403);
    }
    expect((await post({ ...s, token: 'wrong' } as ReviewServer, '{}')).status).toBe(403);
    expect((await fetch(`${base(s)}/api/state`, { headers: { 'x-medsynth-token': s.token } })).status).toBe(200);
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 is refused.
    expect(await raw(s, `/?token=${s.token}`, { host: `evil.example:${s.port}` })).toBe(403);
    expect(await raw(s, `/?token=${s.token}`, { host: `localhost:${s.port}` })).toBe(200);
    // a cross-site POST is refused even with the token
    expect((await post(s, JSON.stringify({ image: 'images/syn_000001.png', decision: 'accept' }), { origin: 'http://evil.example' })).status).toBe(403);
    expect(logText(dir)).toBe('');
  });

  it('serves only the manifest\'s synthetic images: traversal 400, anything else 404', async () => {
    const dir = makeSamples();
    const s = await start(dir);
    const ok = await fetch(`${base(s)}/img/images/syn_000001.png?token=${s.token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await ok.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    for (const p of ['/img/../manifest.csv', '/img/images/../../etc/passwd', '/img/%2e%2e/manifest.csv', '/img/images%2f..%2f..%2fsecret.txt', '/img/%2fetc%2fpasswd', '/img/images%5c..%5csecret.txt']) {
      expect(await raw(s, `${p}?token=${s.token}`), p).toBe(400);
    }
    for (const p of ['/img/secret.txt', '/img/manifest.csv', '/img/images/syn_999999.png']) {
      expect(await raw(s, `${p}?token=${s.token}`), p).toBe(404);
    }
  });

  it('refuses oversized bodies, malformed JSON and bad decisions with a 4xx and leaves the log intact', async () => {
    const dir = makeSamples();
    const s = await start(dir);
    expect((await post(s, JSON.stringify({ image: 'images/syn_000001.png', decision: 'accept' }))).status).toBe(200);
    const before = logText(dir);
    expect(before.split('\n').filter(Boolean)).toHaveLength(1);
    const big = JSON.stringify({ image: 'images/syn_000002.png', decision: 'reject', reason: 'other', note: 'x'.repeat(MAX_BODY_BYTES) });
    const bad: [string, string, number][] = [
      ['oversized', big, 413],
      ['malformed JSON', '{"image": "images/syn_000002.png", "decision": ', 400],
      ['not an object', '[1,2]', 422],
      ['unknown decision', JSON.stringify({ image: 'images/syn_000002.png', decision: 'maybe' }), 422],
      ['reject without reason', JSON.stringify({ image: 'images/syn_000002.png', decision: 'reject' }), 422],
      ['other without note', JSON.stringify({ image: 'images/syn_000002.png', decision: 'reject', reason: 'other' }), 422],
      ['unknown image', JSON.stringify({ image: '../secret.txt', decision: 'accept' }), 422],
      ['forged reviewer', JSON.stringify({ image: 'images/syn_000002.png', decision: 'accept', extra: 1 }), 422],
    ];
    for (const [what, body, status] of bad) expect((await post(s, body)).status, what).toBe(status);
    expect((await fetch(`${base(s)}/api/decision?token=${s.token}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    expect(logText(dir)).toBe(before);
    // The server still works after the refusals.
    expect((await post(s, JSON.stringify({ image: 'images/syn_000002.png', decision: 'reject', reason: 'artefact' }))).status).toBe(200);
    expect(readLog(join(dir, REVIEW_LOG)).entries.map((e) => e.decision)).toEqual(['accept', 'reject']);
  });

  it('keeps the log across a restart and keeps both reviewers\' decisions', async () => {
    const dir = makeSamples();
    const a = await start(dir, 'alice');
    expect((await post(a, JSON.stringify({ image: 'images/syn_000001.png', decision: 'accept' }))).status).toBe(200);
    expect((await post(a, JSON.stringify({ image: 'images/syn_000002.png', decision: 'reject', reason: 'near-copy of a patient' }))).status).toBe(200);
    await open.pop()!.close();
    const first = logText(dir);

    const a2 = await start(dir, 'alice');
    const b = await start(dir, 'bob');
    const stateA = (await (await fetch(`${base(a2)}/api/state?token=${a2.token}`)).json()) as any;
    expect(stateA.decisions['images/syn_000001.png'].decision).toBe('accept');
    expect(stateA.decisions['images/syn_000002.png'].reason).toBe('near-copy of a patient');
    expect(stateA.cells.map((c: any) => c.cell)).toEqual(['healthy | sex=female', 'healthy | sex=male', 'disease | sex=female', 'disease | sex=male']);
    expect((await post(b, JSON.stringify({ image: 'images/syn_000001.png', decision: 'reject', reason: 'other', note: 'rib count' }))).status).toBe(200);
    expect((await post(a2, JSON.stringify({ image: 'images/syn_000003.png', decision: 'skip' }))).status).toBe(200);
    const stateB = (await (await fetch(`${base(b)}/api/state?token=${b.token}`)).json()) as any;
    expect(Object.keys(stateB.decisions)).toEqual(['images/syn_000001.png']);
    expect(stateB.otherReviewers).toEqual({ alice: 3 });

    const now = logText(dir);
    expect(now.startsWith(first)).toBe(true); // append-only
    const entries = readLog(join(dir, REVIEW_LOG)).entries;
    expect(entries.map((e) => `${e.reviewer}:${e.image}:${e.decision}`)).toEqual([
      'alice:images/syn_000001.png:accept',
      'alice:images/syn_000002.png:reject',
      'bob:images/syn_000001.png:reject',
      'alice:images/syn_000003.png:skip',
    ]);
    for (const e of entries) expect(new Date(e.time).toISOString()).toBe(e.time);
  });

  it('skips a torn last line of the log and keeps appending after it', async () => {
    const dir = makeSamples();
    writeFileSync(join(dir, REVIEW_LOG), JSON.stringify({ reviewer: 'x', time: new Date().toISOString(), image: 'images/syn_000001.png', decision: 'accept' }) + '\n{"reviewer":"x","ti');
    const s = await start(dir);
    expect((await post(s, JSON.stringify({ image: 'images/syn_000004.png', decision: 'accept' }))).status).toBe(200);
    const r = readLog(join(dir, REVIEW_LOG));
    expect(r.skipped).toBe(1);
    expect(r.entries.map((e) => e.image)).toEqual(['images/syn_000001.png']);
  });
});
