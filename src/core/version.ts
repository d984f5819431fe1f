import { existsSync, readFileSync } from 'node:fs';

let cached: string | null = null;

/** medsynth's version from its package.json (found from src/ or dist/src/). */
export function packageVersion(): string {
  if (cached === null) {
    const candidates = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)];
    const path = candidates.find((u) => existsSync(u) && JSON.parse(readFileSync(u, 'utf8')).name === 'medsynth');
    cached = path ? (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version : 'unknown';
  }
  return cached;
}
