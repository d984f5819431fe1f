/**
 * "still running: <stage>, elapsed 1m20s" every few seconds, for a stage that reports no progress of its
 * own (the demo's audit).
 *
 * Why a worker thread: the stage's tensor code runs synchronously on the main thread for minutes (its
 * awaits resolve as microtasks), so a setInterval there would never fire. The worker has its own event
 * loop and writes each line with one synchronous write(2) to the file descriptor (stderr by default), so
 * lines appear while the main thread is busy, and each is a single write (no interleaving mid-line).
 * The worker is unref'd: it never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const t0 = Date.now();
const fmt = (s) => { const m = Math.floor(s / 60); return m > 0 ? m + 'm' + String(Math.round(s % 60)).padStart(2, '0') + 's' : Math.round(s) + 's'; };
setInterval(() => {
  try { writeSync(workerData.fd, workerData.prefix + fmt((Date.now() - t0) / 1000) + workerData.suffix + '\\n'); } catch {}
}, workerData.everyMs);
`;

export interface Ticker {
  /** Stops the lines; resolves when the worker has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the ticker: a line `${indent}still running: ${stage}, elapsed <time>${suffix}` every `everyMs`.
 * `fd` is where the lines go (2, stderr, by default; tests pass a file's descriptor).
 */
export function startTicker(stage: string, opts: { everyMs: number; indent?: string; suffix?: string; fd?: number }): Ticker {
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: { fd: opts.fd ?? 2, everyMs: opts.everyMs, prefix: `${opts.indent ?? ''}still running: ${stage}, elapsed `, suffix: opts.suffix ?? '' },
    stdout: false,
    stderr: false,
  });
  worker.unref();
  return {
    stop: async () => {
      await worker.terminate();
    },
  };
}
