import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';

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
 * Builds an output folder atomically. `build` fills a fresh temporary folder beside `out`; only when it
 * returns is the folder renamed to `out`. If it throws, the temporary folder is removed and `out` is left
 * as it was, so a failed command writes nothing. An existing non-empty `out` is refused unless `overwrite`.
 */
export async function writeDirAtomic<T>(
  out: string,
  build: (tmpDir: string) => Promise<T> | T,
  opts: { overwrite?: boolean; option?: string } = {},
): Promise<T> {
  if (existsSync(out) && !opts.overwrite) {
    throw new ConfigError(
      `${opts.option ?? '--out'} ${out} already exists; choose a new folder or remove it first`,
    );
  }
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(out)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const result = await build(tmp);
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
