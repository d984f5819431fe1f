/**
 * The `medsynth` command line: a thin layer over the library. Each command parses its options into a
 * typed object and calls one library function.
 */
import { Command, CommanderError } from 'commander';
import { UserError, oneLine } from '../core/errors.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerBalanceCommand } from './commands/balance.js';
import { registerDataCommands } from './commands/data.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerEvaluateCommand } from './commands/evaluate.js';
import { registerMetricsCommand } from './commands/metrics.js';
import { registerPrivacyCommands } from './commands/privacy.js';
import { registerReportCommand } from './commands/report.js';
import { registerReviewCommands } from './commands/review.js';
import { registerSampleCommand } from './commands/sample.js';
import { registerTrainCommand } from './commands/train.js';
import { packageVersion } from './context.js';

export function buildProgram(): Command {
  const program = new Command('medsynth')
    .description('Privacy-preserving synthetic medical images: train, sample, evaluate, audit.')
    .version(packageVersion(), '-V, --version')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride(); // set before subcommands are added, so they inherit it
  registerDataCommands(program);
  registerTrainCommand(program);
  registerSampleCommand(program);
  registerBalanceCommand(program);
  registerEvaluateCommand(program);
  registerMetricsCommand(program);
  registerPrivacyCommands(program);
  registerAuditCommand(program);
  registerReportCommand(program);
  registerReviewCommands(program);
  registerDemoCommand(program);
  // evaluate's example lives here until evaluate.ts carries its own (then drop these lines).
  program.commands
    .find((c) => c.name() === 'evaluate')
    ?.addHelpText('after', '\nExample:\n  $ medsynth evaluate --real data/phantom --synthetic samples/ --json evaluation.json\n');
  program.addHelpText('after', '\nExample:\n  $ medsynth demo --quick\n\nEach command has its own --help, with an example.\n');
  markRequiredOptions(program);
  return program;
}

/**
 * Commander's help does not mark `.requiredOption`s; this appends "(required)" to each of their
 * descriptions, in every command, so the help shows what must be given.
 */
function markRequiredOptions(cmd: Command): void {
  for (const opt of cmd.options) {
    if (opt.mandatory && !/\(required\b/.test(opt.description)) opt.description = `${opt.description} (required)`;
  }
  for (const sub of cmd.commands) markRequiredOptions(sub);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 2 (commander already printed the message).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}

/**
 * A reader that stops reading (`medsynth evaluate --help | head -3`) closes the pipe, and the next write
 * to it fails with EPIPE, which Node raises as an unhandled 'error' event: a stack trace and exit 1, and a
 * command that was writing files would stop half-way. A command's files are what it is for, so it goes on
 * without its console output: writes to a closed stdout or stderr are dropped (Node then reports them as
 * ERR_STREAM_DESTROYED, dropped too). Any other stream error is still raised.
 */
export function tolerateClosedPipes(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}

/** Prints user errors on one line without a stack (exit 2); anything else is a bug (stack, exit 1). */
export function handleError(err: unknown): void {
  if (err instanceof UserError) {
    process.stderr.write(`medsynth: error: ${oneLine(err.message)}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`medsynth: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}
