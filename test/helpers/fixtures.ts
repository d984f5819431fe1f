import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Reads test/fixtures/<name>.json. Every fixture records its `source`. */
export function loadFixture<T>(name: string): T & { source: string } {
  return JSON.parse(readFileSync(resolve(REPO_ROOT, 'test/fixtures', `${name}.json`), 'utf8')) as T & {
    source: string;
  };
}

/** ../shared/data beside the checkout, where the real public datasets live (absent on a bare clone). */
export const SHARED_DATA = resolve(REPO_ROOT, '../shared/data');

/** Path of a shared dataset, or null after printing why the tests that need it are skipped. */
export function sharedDataset(name: string): string | null {
  const path = resolve(SHARED_DATA, name);
  if (existsSync(path)) return path;
  console.warn(`skipping tests on ${name}: ${path} not found (the real datasets live in ../shared/data)`);
  return null;
}
