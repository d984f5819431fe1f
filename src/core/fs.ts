import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';
import { packageVersion } from './version.js';

/**
 * Writes a file atomically: the bytes go to a temporary sibling, which is renamed over the target, so a
 * reader (or a crash) never sees a half-written file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The file medsynth writes into every folder that a command may later replace with `--force`. It names
 * the command that wrote the folder; `writeDirAtomic` replaces an existing folder only when this file is
 * there and names the same command, so `--force` can never delete a folder medsynth did not write.
 */
export const OUTPUT_MARKER = '.medsynth-output.json';

/** The command recorded in `dir`'s marker file, or null when there is no readable marker. */
export function markerCommand(dir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as { writtenBy?: unknown };
    return typeof m.writtenBy === 'string' ? m.writtenBy : null;
  } catch {
    return null;
  }
}

export interface WriteDirOptions {
  /** Replace an existing `out` whatever it holds (internal folders only, e.g. a run's checkpoint/). */
  overwrite?: boolean;
  /** The option that named `out`, for messages (default `--out`). */
  option?: string;
  /**
   * A user-facing output: write the marker file naming this command (e.g. 'medsynth report') into the
   * folder, accept an existing empty folder, and with `force` replace a non-empty one that holds this
   * command's marker. Anything else that exists is refused.
   */
  marker?: string;
  /** With `marker`: replace an earlier output of the same command (the CLI's --force). */
  force?: boolean;
}

/**
 * Builds an output folder atomically. `build` fills a fresh temporary folder beside `out`; only when it
 * returns is the folder renamed to `out`. If it throws, the temporary folder is removed and `out` is left
 * as it was, so a failed command writes nothing. An existing `out` is refused unless `overwrite`, or
 * (with `marker`) unless it is empty, or `force` is set and it holds the same command's marker. A replaced
 * folder is first moved aside and removed only after the new one is in place.
 */
export async function writeDirAtomic<T>(
  out: string,
  build: (tmpDir: string) => Promise<T> | T,
  opts: WriteDirOptions = {},
): Promise<T> {
  if (!opts.overwrite) checkOutputDir(out, opts);
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = atomicSibling(out, 'tmp', stamp);
  mkdirSync(tmp);
  try {
    const result = await build(tmp);
    if (opts.marker) {
      writeFileSync(join(tmp, OUTPUT_MARKER), JSON.stringify({ writtenBy: opts.marker, version: packageVersion() }, null, 2) + '\n');
    }
    if (existsSync(out)) {
      const old = atomicSibling(out, 'old', stamp);
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The folders `writeDirAtomic` puts beside `out` while it works: `.<name>.tmp-<pid>-<ms>` (the folder being
 * built) and `.<name>.old-<pid>-<ms>` (the folder it replaces, until the new one is in place).
 */
function atomicSibling(out: string, kind: 'tmp' | 'old', stamp: string): string {
  return join(dirname(out), `.${basename(out)}.${kind}-${stamp}`);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** True when a process with this id is running (and is not this one). */
export function otherProcessAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AtomicRecovery {
  /** The `.old-` folder renamed back to `out` (a crash came between moving `out` aside and renaming the new one in). */
  restored: string | null;
  /** Leftover temporary folders removed. */
  removed: string[];
}

/**
 * Cleans up after a `writeDirAtomic(out, …)` that was killed (kill -9, power loss) part-way. Only folders
 * that match its naming pattern exactly (`.<name>.tmp-<pid>-<ms>`, `.<name>.old-<pid>-<ms>`), whose
 * process is no longer running, are touched; anything else beside `out` is left alone.
 *   - `out` missing, an `.old-` folder present: the crash came after `out` was moved aside; the newest
 *     `.old-` folder is the last complete `out` and is renamed back (the half-finished replacement is dropped);
 *   - every other leftover `.tmp-` / `.old-` folder is removed (`out`, if present, is complete).
 */
export function recoverDirAtomic(out: string): AtomicRecovery {
  const parent = dirname(out);
  const result: AtomicRecovery = { restored: null, removed: [] };
  if (!existsSync(parent)) return result;
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(out))}\\.(tmp|old)-(\\d+)-(\\d+)$`);
  const leftovers = readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ name: e.name, m: pattern.exec(e.name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null && !otherProcessAlive(Number(x.m[2])))
    .map((x) => ({ path: join(parent, x.name), kind: x.m[1] as 'tmp' | 'old', ms: Number(x.m[3]) }));
  if (!existsSync(out)) {
    const newestOld = leftovers.filter((x) => x.kind === 'old').sort((a, b) => b.ms - a.ms)[0];
    if (newestOld) {
      renameSync(newestOld.path, out);
      result.restored = newestOld.path;
    }
  }
  for (const x of leftovers) {
    if (x.path === result.restored) continue;
    rmSync(x.path, { recursive: true, force: true });
    result.removed.push(x.path);
  }
  return result;
}

/**
 * Throws the ConfigError `writeDirAtomic` would throw for `out`, so a command can refuse before its long
 * work rather than after it.
 */
export function checkOutputDir(out: string, opts: WriteDirOptions = {}): void {
  if (!existsSync(out) || opts.overwrite) return;
  const option = opts.option ?? '--out';
  if (!opts.marker) throw new ConfigError(`${option} ${out} already exists; choose a new folder or remove it first`);
  if (!statSync(out).isDirectory()) throw new ConfigError(`${option} ${out} is a file; choose a new folder`);
  if (readdirSync(out).length === 0) return;
  const writer = markerCommand(out);
  if (writer !== opts.marker) {
    const what = writer === null ? 'was not written by medsynth' : `was written by ${writer}`;
    throw new ConfigError(`${option} ${out} already exists and ${what}; choose a new folder (--force replaces only an earlier ${opts.marker} output)`);
  }
  if (!opts.force) throw new ConfigError(`${option} ${out} already holds an earlier ${opts.marker} output; choose a new folder, or add --force to replace it`);
}
