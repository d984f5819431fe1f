/**
 * `medsynth review`: the local review server (issue #24). Node's own http server, bound to 127.0.0.1 only.
 *
 * Security, each tested in test/src/review/server.test.ts:
 * - a random 128-bit session token, in the printed URL; every request without it (query `token` or header
 *   `x-medsynth-token`, compared in constant time) gets 403;
 * - a Host header other than 127.0.0.1:PORT or localhost:PORT gets 403 (DNS rebinding), and a POST whose
 *   Origin is another site gets 403;
 * - images are served only when their path is a synthetic row of the manifest (anything else 404; `..`,
 *   absolute paths, backslashes and NUL 400), so nothing outside the samples folder is reachable;
 * - a decision body above 16 KiB gets 413, JSON that does not parse 400, a decision that does not match the
 *   schema or names an unknown image 422; in each case nothing is written;
 * - responses carry a Content-Security-Policy that allows only this origin and the page's own inline code
 *   (by nonce), and no Referer leaves the page.
 *
 * Routes: GET / (the page), GET /api/state, GET /img/<manifest path>, POST /api/decision, and with
 * --show-nearest GET /nearest/<manifest path> (the nearest REAL training image, nearest.ts; encoded per
 * request, never written, no-store).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { appendDecision, readLog, readSamples, REJECT_REASONS, REVIEW_LOG, ReviewEntrySchema, type SampleSet } from './log.js';
import type { NearestIndex } from './nearest.js';
import { reviewPage } from './page.js';

export const MAX_BODY_BYTES = 16 * 1024;
export const HOST = '127.0.0.1';

export interface ReviewServerOptions {
  dir: string;
  reviewer: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); default: 16 random bytes, hex. */
  token?: string;
  /** --show-nearest: the run's train split, for the near-copy check (off by default). */
  nearest?: NearestIndex;
}

export interface ReviewServer {
  url: string;
  port: number;
  token: string;
  samples: SampleSet;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      reject(new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => !failed && resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', (e) => !failed && reject(e));
  });
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...extra });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');

export async function startReviewServer(opts: ReviewServerOptions): Promise<ReviewServer> {
  const samples = readSamples(opts.dir); // a UserError before anything listens
  const known = new Map(samples.samples.map((s) => [s.image, s]));
  const token = opts.token ?? randomBytes(16).toString('hex');
  const tokenBuf = Buffer.from(token);
  const logFile = join(opts.dir, REVIEW_LOG);
  let port = 0;
  const nearestCache = new Map<string, { png: Uint8Array; rms: number }>();
  /** A synthetic image of the manifest named in a URL path, or a 400/404. */
  const imagePath = (encoded: string): string => {
    let rel: string;
    try {
      rel = decodeURIComponent(encoded);
    } catch {
      throw new HttpError(400, 'bad path');
    }
    if (rel.split('/').includes('..') || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0')) throw new HttpError(400, 'bad path');
    if (!known.has(rel)) throw new HttpError(404, 'not a synthetic image of this folder');
    return rel;
  };

  const tokenOk = (given: string | null | undefined) => {
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    const host = req.headers.host ?? '';
    if (host !== `${HOST}:${port}` && host !== `localhost:${port}`) throw new HttpError(403, 'forbidden host');
    const headerToken = req.headers['x-medsynth-token'];
    if (!tokenOk(url.searchParams.get('token') ?? (typeof headerToken === 'string' ? headerToken : null))) throw new HttpError(403, 'forbidden: open the URL medsynth review printed (it carries the session token)');

    // Checked on the raw path: URL parsing would fold "/img/../x" into "/x" before the route sees it.
    const rawPath = (req.url ?? '/').split('?')[0]!;
    if (/(^|\/|%2f|%5c|\\)(\.|%2e){2}($|\/|%2f|%5c|\\)/i.test(rawPath)) throw new HttpError(400, 'bad path');
    if (req.method === 'GET' && url.pathname === '/') {
      const nonce = randomBytes(16).toString('base64');
      send(res, 200, reviewPage({ token, reviewer: opts.reviewer, nonce, reasons: [...REJECT_REASONS], showNearest: opts.nearest !== undefined }), 'text/html; charset=utf-8', {
        'content-security-policy': `default-src 'none'; img-src 'self'; connect-src 'self'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/state') {
      const { entries, skipped } = readLog(logFile);
      const mine: Record<string, unknown> = {};
      const others: Record<string, number> = {};
      for (const e of entries) {
        if (!known.has(e.image)) continue;
        if (e.reviewer === opts.reviewer) mine[e.image] = { decision: e.decision, reason: e.reason, note: e.note, time: e.time };
        else others[e.reviewer] = (others[e.reviewer] ?? 0) + 1;
      }
      const cells = new Map<string, { cell: string; images: { image: string; label: string; groups: Record<string, string> }[] }>();
      for (const s of samples.samples) {
        const c = cells.get(s.cell) ?? { cell: s.cell, images: [] };
        c.images.push({ image: s.image, label: s.label, groups: s.groups });
        cells.set(s.cell, c);
      }
      json(res, 200, { reviewer: opts.reviewer, reasons: REJECT_REASONS, cells: [...cells.values()], decisions: mine, otherReviewers: others, skippedLines: skipped, showNearest: opts.nearest !== undefined });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/nearest/')) {
      const rel = imagePath(url.pathname.slice('/nearest/'.length));
      if (!opts.nearest) throw new HttpError(404, 'the server was started without --show-nearest');
      let hit = nearestCache.get(rel);
      if (!hit) nearestCache.set(rel, (hit = opts.nearest.nearest(readFileSync(join(opts.dir, rel)), rel)));
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-medsynth-rms': hit.rms.toFixed(5) });
      res.end(hit.png);
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/img/')) {
      const rel = imagePath(url.pathname.slice('/img/'.length));
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'private, max-age=3600', 'x-content-type-options': 'nosniff' });
      createReadStream(join(opts.dir, rel)).on('error', () => res.destroy()).pipe(res);
      return;
    }
    if (url.pathname === '/api/decision') {
      if (req.method !== 'POST') throw new HttpError(405, 'POST only');
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${HOST}:${port}` && origin !== `http://localhost:${port}`) throw new HttpError(403, 'forbidden origin');
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send application/json');
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, 'malformed JSON');
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(422, 'expected a JSON object');
      const entry = ReviewEntrySchema.safeParse({ ...(body as object), reviewer: opts.reviewer, time: new Date().toISOString() });
      if (!entry.success) throw new HttpError(422, entry.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      if (!known.has(entry.data.image)) throw new HttpError(422, 'not a synthetic image of this folder');
      appendDecision(opts.dir, entry.data);
      json(res, 200, { ok: true, entry: entry.data });
      return;
    }
    throw new HttpError(404, 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) send(res, status, err instanceof HttpError ? err.message : 'internal error', 'text/plain; charset=utf-8', status === 413 ? { connection: 'close' } : {});
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${HOST}:${port}/?token=${token}`,
    port,
    token,
    samples,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
