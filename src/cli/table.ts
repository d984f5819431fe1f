/**
 * Kept only for src/cli/commands/audit.ts, which is being rewritten (#21): the table helpers live in
 * src/core/table.ts so that library modules (src/evaluate) need not import the CLI. Delete this file once
 * audit.ts imports '../../core/table.js'.
 */
export { fmt, formatTable } from '../core/table.js';
