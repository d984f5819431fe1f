/**
 * Two kinds of error. A `UserError` is something the user can fix (a bad file, a wrong option); the CLI
 * prints its one-line message without a stack and exits with code 2. Anything else is a bug in medsynth and
 * is printed with its stack (exit code 1).
 */
export class UserError extends Error {
  readonly exitCode: number = 2;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A dataset file, folder, manifest row or column is missing or malformed. */
export class DatasetError extends UserError {}

/** A command-line option or config file value is invalid. */
export class ConfigError extends UserError {}

/** A requested compute backend is not installed or failed to start. */
export class BackendError extends UserError {}

/** A setting would break a stated differential-privacy guarantee. */
export class PrivacyAssumptionError extends UserError {}

/** Messages stay on one line: newlines inside a user error would break log parsing. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** Internal invariant: throws a plain Error (a bug), never a UserError. */
export function assert(cond: unknown, message: () => string): asserts cond {
  if (!cond) throw new Error(`internal error: ${message()}`);
}
