/** What every command shares: the backend flag, JSON mode, and where human messages go. */
import { Option, type Command } from 'commander';
import { BACKEND_CHOICES, initBackend, resolveBackendChoice, type BackendInfo } from '../backend/index.js';

export { packageVersion } from '../core/version.js';

/** Adds `--backend` and `--json` to a command. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--backend <name>', 'compute backend (default: $MEDSYNTH_BACKEND or auto)').choices([
        ...BACKEND_CHOICES,
      ]),
    )
    .option('--json', 'print machine-readable JSON on stdout', false);
}

export interface CommonOptions {
  backend?: string;
  json: boolean;
}

/** Starts the backend and says which one runs (on stderr, so stdout stays clean for --json). */
export async function startBackend(opts: CommonOptions): Promise<BackendInfo> {
  const info = await initBackend(resolveBackendChoice(opts.backend));
  if (!opts.json) info_(`backend: ${describeBackend(info)}`);
  return info;
}

export function describeBackend(b: BackendInfo): string {
  const threads = b.threads ? `, ${b.threads} thread${b.threads > 1 ? 's' : ''}` : '';
  const native = b.native ? ` + native ${b.native.library} ${b.native.version} kernels` : '';
  return `${b.name} (${b.package} ${b.version}${threads}${native})`;
}

/** A human message on stderr. */
export function info_(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Prints a JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
