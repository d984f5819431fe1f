/** Parsers for option values shared by several commands. Each throws commander's InvalidArgumentError. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { ConfigError } from '../core/errors.js';

export const IMAGE_SIZES = [28, 32, 64, 128] as const;

export function parseSize(value: string): number {
  const n = Number(value);
  if (!(IMAGE_SIZES as readonly number[]).includes(n)) {
    throw new InvalidArgumentError(`use one of ${IMAGE_SIZES.join(', ')}`);
  }
  return n;
}

export function parseChannels(value: string): 1 | 3 {
  if (value !== '1' && value !== '3') throw new InvalidArgumentError('use 1 (grey) or 3 (RGB)');
  return Number(value) as 1 | 3;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

export function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new InvalidArgumentError('expected a whole number from 0 to 4294967295');
  }
  return n;
}

/** `a,b,c` → ['a','b','c'] (empty parts dropped). */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads and parses a JSON file named by `option`; a missing or malformed file is a ConfigError. */
export function readJsonFile(path: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${option} ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${option} ${path}: not valid JSON (${(err as Error).message}); fix the file`);
  }
}
