/**
 * The decoded-pixel cache: the second command on the same data does not decode it again.
 *
 * What is cached: only the decoded, preprocessed pixels (NHWC float32) and what decoding found out
 * (channels, bit depth, source sizes, the preprocessing record). Labels, attributes, ids and patient ids
 * are rebuilt from the manifest or the DICOM headers on every load, so no metadata, tag value or patient
 * id is ever written here.
 *
 * Key: sha256 over the data fingerprint (sha256 of the manifest or labels and every image file's bytes)
 * and the named preprocessing request (adapter, size, channels, decoder, DICOM window and frames, limit).
 * Change a byte of any image, or any preprocessing choice, and the key changes.
 *
 * Entry file `<dir>/datasets/<key>.f32`: a 4-byte little-endian header length, a JSON header (format
 * version, key, n, element count, sha256 of the payload, the decoded facts), then the payload. Writes go to
 * a temporary sibling (pid + random suffix) that is renamed over the entry, so concurrent writers never
 * interleave and a reader sees a whole old or a whole new file. A reader checks the length and the payload
 * sha256 and treats any mismatch (a truncated or damaged file) as a miss, then rewrites the entry.
 *
 * Where: `cacheDir` in the load options (null: off); else $MEDSYNTH_CACHE (a folder, or `off`); else off
 * for library calls. The CLI turns it on by default in the user cache folder (`defaultCacheDir`), with
 * `--cache-dir` and `--no-cache` (src/cli/commands/shared.ts). The folder is capped at
 * $MEDSYNTH_CACHE_MAX_GB (default 5): the least recently used entries are removed first, as are the
 * temporary files of writers that died before renaming; only files that match those two patterns are
 * ever removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { otherProcessAlive } from '../src/core/fs.js';
import type { Preprocessing, SourceDims } from './dataset.js';

const FORMAT = 1;
const ENTRY = /^[0-9a-f]{64}\.f32$/;
/** A writer's temporary file: `<key>.f32.tmp-<pid>-<8 hex>`. */
const TEMP = /^[0-9a-f]{64}\.f32\.tmp-(\d+)-[0-9a-f]{8}$/;

/** What decoding found out besides the pixels. */
export interface DecodedFacts {
  n: number;
  channels: 1 | 3;
  bitDepth: 8 | 16;
  sourceDims: SourceDims;
  preprocessing: Preprocessing;
}

export interface CachedPixels extends DecodedFacts {
  images: Float32Array;
}

let processDefault: string | null | undefined;

/**
 * Sets the cache folder for loads that do not name one (the CLI calls this once per command; null turns
 * the cache off). Takes precedence over $MEDSYNTH_CACHE.
 */
export function setDefaultCacheDir(dir: string | null | undefined): void {
  processDefault = dir;
}

/** The user cache folder: $XDG_CACHE_HOME/medsynth, else ~/.cache/medsynth. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'medsynth');
}

/** $MEDSYNTH_CACHE: a folder, `off`/`0`/`false`/`none` (null), or unset (undefined). */
export function envCacheDir(env: NodeJS.ProcessEnv = process.env): string | null | undefined {
  const v = env.MEDSYNTH_CACHE?.trim();
  if (v === undefined || v === '') return undefined;
  return ['off', '0', 'false', 'none', 'no'].includes(v.toLowerCase()) ? null : v;
}

/** The cache folder a load uses: the option, else the process default, else $MEDSYNTH_CACHE, else none. */
export function resolveCacheDir(option: string | null | undefined): string | null {
  if (option !== undefined) return option;
  if (processDefault !== undefined) return processDefault;
  return envCacheDir() ?? null;
}

/** The entry key for a fingerprint and a preprocessing request. */
export function cacheKey(fingerprint: string, request: Record<string, unknown>): string {
  const ordered = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify({ format: FORMAT, fingerprint, request: ordered })).digest('hex');
}

const entryPath = (dir: string, key: string): string => join(dir, 'datasets', `${key}.f32`);

/** The cached pixels for `key`, or null (missing, truncated, damaged or another format: all misses). */
export function cacheGet(dir: string, key: string): CachedPixels | null {
  const path = entryPath(dir, key);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return null;
  }
  try {
    if (buf.length < 4) return null;
    const headLen = buf.readUInt32LE(0);
    if (4 + headLen > buf.length) return null;
    const head = JSON.parse(buf.subarray(4, 4 + headLen).toString('utf8')) as {
      format: number;
      key: string;
      length: number;
      sha256: string;
      facts: DecodedFacts;
    };
    if (head.format !== FORMAT || head.key !== key) return null;
    const start = 4 + headLen;
    if (buf.length - start !== head.length * 4) return null;
    const payload = buf.subarray(start);
    if (createHash('sha256').update(payload).digest('hex') !== head.sha256) return null;
    // Copy into an aligned buffer (the read buffer's offset need not be a multiple of 4).
    const images = new Float32Array(head.length);
    new Uint8Array(images.buffer).set(payload);
    const now = new Date();
    try {
      utimesSync(path, now, now); // recently used: evicted last
    } catch {
      // read-only cache: still a hit
    }
    return { ...head.facts, images };
  } catch {
    return null;
  }
}

/** Stores pixels under `key` (atomically), then trims the folder to its size cap. Failures are ignored: a cache is optional. */
export function cachePut(dir: string, key: string, pixels: CachedPixels): void {
  const { images, ...facts } = pixels;
  const payload = new Uint8Array(images.buffer, images.byteOffset, images.byteLength);
  const head = Buffer.from(
    JSON.stringify({ format: FORMAT, key, length: images.length, sha256: createHash('sha256').update(payload).digest('hex'), facts }),
    'utf8',
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length, 0);
  const path = entryPath(dir, key);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fd: number | undefined;
  try {
    mkdirSync(join(dir, 'datasets'), { recursive: true });
    fd = openSync(tmp, 'wx', 0o600);
    writeSync(fd, len);
    writeSync(fd, head);
    for (let o = 0; o < payload.length; ) o += writeSync(fd, payload, o, Math.min(payload.length - o, 1 << 26));
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    return;
  }
  trimCache(dir);
}

/** Removes least recently used entries until the folder is under $MEDSYNTH_CACHE_MAX_GB (default 5). */
export function trimCache(dir: string, maxBytes = Number(process.env.MEDSYNTH_CACHE_MAX_GB ?? 5) * 2 ** 30): void {
  const folder = join(dir, 'datasets');
  let entries: { path: string; size: number; used: number }[];
  try {
    // Temporary files of writers that were killed before their rename: theirs to remove, and ours.
    for (const f of readdirSync(folder)) {
      const m = TEMP.exec(f);
      if (m && Number(m[1]) !== process.pid && !otherProcessAlive(Number(m[1]))) rmSync(join(folder, f), { force: true });
    }
    entries = readdirSync(folder)
      .filter((f) => ENTRY.test(f))
      .map((f) => {
        const s = statSync(join(folder, f));
        return { path: join(folder, f), size: s.size, used: s.mtimeMs };
      });
  } catch {
    return;
  }
  let total = entries.reduce((s, e) => s + e.size, 0);
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    rmSync(e.path, { force: true });
    total -= e.size;
  }
}
