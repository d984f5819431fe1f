/**
 * What every command shares: `--backend`, and `--json [file]` with one meaning everywhere (as `evaluate`
 * has it): `--json` alone prints the machine-readable result on stdout and keeps stdout free of anything
 * else; `--json FILE` writes it to FILE and leaves the human output as it is. A command that reports as it
 * goes (`train`) writes JSON lines, one object per line to the last.
 */
import { appendFileSync, statSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { defaultCacheDir, envCacheDir } from '../../../datasets/cache.js';
import { setLoadDefaults } from '../../../datasets/load.js';
import { BACKEND_CHOICES } from '../../backend/index.js';
import { ConfigError, UserError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import type { ProgressCallback, StageProgress } from '../../core/progress.js';

export interface SharedOptions {
  backend?: string;
  /** true: JSON on stdout; a string: the file to write it to. */
  json?: string | true;
}

export const JSON_HELP = 'print the result as JSON on stdout, or write it to FILE';

/** Adds `--backend` and `--json [file]` to a command. */
export function withSharedOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'compute backend (default: $MEDSYNTH_BACKEND or auto)').choices([...BACKEND_CHOICES]))
    .option('--json [file]', JSON_HELP);
}

/** Adds the help text's example line(s) after the options. */
export function withExample(cmd: Command, ...examples: string[]): Command {
  return cmd.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}

/** Where `--json` sends its output; checked before a command starts its work. */
export class JsonOutput {
  /** The file of `--json FILE`, or null. */
  readonly file: string | null;
  /** `--json` without FILE: JSON on stdout, no human output there. */
  readonly stdout: boolean;
  private started = false;

  constructor(json: string | true | undefined, private readonly option = '--json') {
    this.file = typeof json === 'string' ? json : null;
    this.stdout = json === true;
    if (this.file !== null) {
      let isDir = false;
      try {
        isDir = statSync(this.file).isDirectory();
      } catch {
        // a new file
      }
      if (isDir) throw new ConfigError(`${option} ${this.file} is a folder; give a file name, e.g. ${this.file}/result.json`);
    }
  }

  /** Writes one JSON document: indented on stdout, or atomically to the file. Does nothing without --json. */
  write(value: unknown): void {
    const text = JSON.stringify(value, null, 2) + '\n';
    if (this.stdout) process.stdout.write(text);
    else if (this.file !== null) this.guard(() => writeFileAtomic(this.file!, text));
  }

  /** Writes one JSON line (JSON Lines): to stdout, or appended to the file (emptied at the first line). */
  line(value: unknown): void {
    const text = JSON.stringify(value) + '\n';
    if (this.stdout) process.stdout.write(text);
    else if (this.file !== null) {
      const first = !this.started;
      this.started = true;
      this.guard(() => (first ? writeFileSync(this.file!, text) : appendFileSync(this.file!, text)));
    }
  }

  private guard(write: () => void): void {
    try {
      write();
    } catch (err) {
      throw new UserError(`${this.option} ${this.file}: cannot write the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the folder exists and is writable`);
    }
  }
}

/** A duration for progress lines: "3m05s", "42s", "?" when unknown. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** `[#######.............]  35%`: a text bar for progress lines (files and pipes as well as terminals). */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** One progress line: the job's bar and ETA, the stage and where it is. */
export function formatProgress(p: StageProgress): string {
  const eta = p.fraction >= 1 ? 'done' : p.etaSeconds === null ? 'time left unknown' : `about ${formatSeconds(p.etaSeconds)} left`;
  const stage = `${p.stage} ${p.index}/${p.stages} ${Math.floor(p.stageFraction * 100)}%`;
  return `${progressBar(p.fraction)}  ${eta}; ${stage}${p.message ? `: ${p.message}` : ''}`;
}

/**
 * A progress callback that prints: every stage's start (with what it does), then at most one line per
 * `everyMs` while the stage runs, and the end. `now` in ms (tests pass a fake clock).
 */
export function progressPrinter(say: (line: string) => void, opts: { everyMs: number; indent?: string; now?: () => number }): ProgressCallback {
  const now = opts.now ?? (() => performance.now());
  const indent = opts.indent ?? '';
  let last = -Infinity;
  return (p) => {
    const t = now();
    if (p.started) {
      last = t;
      say(`${indent}${p.stage} (${p.index}/${p.stages}): ${p.message}`);
      return;
    }
    if (p.fraction < 1 && t - last < opts.everyMs) return;
    last = t;
    say(`${indent}${formatProgress(p)}`);
  };
}

/** The data-loading flags of `withDataLoadOptions` as commander parses them. */
export interface DataLoadCliOptions {
  /** false with --no-cache. */
  cache?: boolean;
  cacheDir?: string;
  labels?: string;
  frames?: 'first' | 'all';
  window?: 'minmax' | 'percentile';
  site?: 'manufacturer' | 'institution';
  saltFile?: string;
}

/**
 * Adds the data-loading flags to `cmd` (in place; returns it): the decoded-pixel cache (`--cache-dir`,
 * `--no-cache`; skip with `{ cache: false }` when the command already has them, as `evaluate` does) and
 * the DICOM folder options, and a preAction hook that makes them the defaults of every dataset load the
 * command's action makes (`applyDataLoadOptions`), so the action itself needs no change.
 */
export function withDataLoadOptions(cmd: Command, { cache = true }: { cache?: boolean } = {}): Command {
  cmd.hook('preAction', (self) => applyDataLoadOptions(self.opts<DataLoadCliOptions>()));
  if (cache) {
    cmd
      .option('--cache-dir <dir>', `decoded-image cache (default: $MEDSYNTH_CACHE or ${defaultCacheDir()})`)
      .option('--no-cache', 'decode the images again; do not read or write the decoded-image cache');
  }
  return cmd
    .option('--labels <file.csv>', 'DICOM folder: labels by SOPInstanceUID, StudyInstanceUID or PatientID (default: labels.csv in the folder)')
    .addOption(new Option('--frames <which>', 'DICOM multi-frame files: the first frame, or every frame as an image').choices(['first', 'all']))
    .addOption(new Option('--window <rule>', 'DICOM grey images without a VOI window or LUT: min-max or 0.5-99.5 percentile').choices(['minmax', 'percentile']))
    .addOption(new Option('--site <tag>', 'DICOM: a site attribute from Manufacturer or InstitutionName (off by default)').choices(['manufacturer', 'institution']))
    .option('--salt-file <file>', 'DICOM: keep the PatientID hash salt in this file (created if missing) so patient ids match across commands');
}

/**
 * Makes the data-loading flags the defaults of every dataset load in this command. The cache is on by
 * default: --no-cache or MEDSYNTH_CACHE=off turn it off; --cache-dir, then $MEDSYNTH_CACHE, name the folder.
 */
export function applyDataLoadOptions(opts: DataLoadCliOptions): void {
  const env = envCacheDir();
  const cacheDir = opts.cache === false ? null : (opts.cacheDir ?? (env === undefined ? defaultCacheDir() : env));
  setLoadDefaults({ cacheDir, labels: opts.labels, frames: opts.frames, window: opts.window, site: opts.site, saltFile: opts.saltFile });
}

/**
 * One verdict as a line: the area, the level, and the text without repeating the level when the text
 * already opens with it (e.g. "not informative: CI too wide").
 */
export function verdictLine(area: string, v: { level: string; text: string }): string {
  const text = v.text.startsWith(`${v.level}:`) ? v.text.slice(v.level.length + 1).trimStart() : v.text;
  return `${area.padEnd(9)} ${v.level.padEnd(7)} ${text}`;
}
