/**
 * Runs tfjs's threaded SIMD wasm build under Node, so XNNPACK's kernels use every core.
 *
 * tfjs 4.22 only enables threads in browsers, and three things stop them in Node (found by reading the
 * wasm backend's glue and its backend.cc):
 *  1. the WASM_HAS_MULTITHREAD_SUPPORT flag answers false whenever IS_NODE;
 *  2. the pthread worker script and the Emscripten factory are handed over as `Blob`s through
 *     `URL.createObjectURL`, and Node's worker_threads only load files (or data/file URLs);
 *  3. backend.cc caps the pool at (logical cores / 2), assuming x86 hyper-threading, so a 2-core machine
 *     gets 1 thread whatever `setThreadsCount` asks.
 * While the backend starts, this module sets the flag; records the text of each Blob and makes
 * `createObjectURL` write it to a temporary file instead (the factory gets the few module-level names
 * its bundle expects; the worker is pointed at the factory's file); and reports twice the wanted thread
 * count from `os.cpus()`. The glue asks for the worker script once per pooled worker (8 times) while the
 * workers already made are starting; each file is therefore written once, complete, under a name made from
 * its content (`writeOnce`): rewriting one shared file in place let a starting worker read it empty, exit
 * without a word, and leave the start waiting on nothing (Node exit 13, seen once in CI).
 * Everything is restored as soon as the backend is up, and the temporary files are
 * removed (all workers have loaded them by then). The running pthread workers are unref'd so they do not
 * keep the process alive. Tested with tfjs-backend-wasm 4.22.0 exactly (package.json pins it); the string
 * patch is checked and the threaded path is skipped, with the reason, if it does not apply.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const WORKER_LOAD = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}';
const FACTORY_PREFIX = 'var WasmBackendModuleThreadedSimd';
const FACTORY_PRELUDE =
  "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os'),commonjsGlobal=globalThis;\n";

export interface ThreadedResult {
  threads: number;
  /** Why the threaded build was not used, when it was not. */
  reason?: string;
}

/**
 * Writes `text` to `dir/<stem>-<sha256 prefix>.cjs` unless that file exists, and returns its path. The file
 * appears whole (written beside it, then renamed), and a file another thread may be reading is never
 * truncated or rewritten.
 */
export function writeOnce(dir: string, stem: string, text: string): string {
  const path = join(dir, `${stem}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.cjs`);
  if (existsSync(path)) return path;
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, path);
  return path;
}

/**
 * Wanted threads: MEDSYNTH_WASM_THREADS, else 1 when the native oneDNN kernels are loaded, else all cores;
 * at most 8 (the glue preloads 8 workers). With the native kernels, the convolutions and matmuls already
 * use every core through OpenMP, whose idle threads spin-wait; a second wasm thread then competes with
 * them and a training step got slower (eval/results/throughput.md: cvae28 2187 → 1172 images/s).
 */
export function wantedThreads(env = process.env, nativeLoaded = false): number {
  const raw = env.MEDSYNTH_WASM_THREADS;
  const n = raw ? Number(raw) : nativeLoaded ? 1 : os.cpus().length;
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 8) : 1;
}

/**
 * Starts the wasm backend with `threads` threads (call instead of `tf.setBackend('wasm')`). Falls back to
 * the single-threaded build, returning the reason, when threads are not wanted or the patch cannot apply.
 */
export async function setWasmBackendThreaded(threads: number): Promise<ThreadedResult> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (threads <= 1 || typeof SharedArrayBuffer === 'undefined') {
    await tf.setBackend('wasm');
    return { threads: 1, reason: threads <= 1 ? 'one thread requested' : 'no SharedArrayBuffer' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-wasm-'));
  const OrigBlob = globalThis.Blob;
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  const texts = new WeakMap<Blob, string>();
  let factoryPath: string | null = null;
  let patchFailed: string | null = null;
  globalThis.Blob = class extends OrigBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0];
      const text = (parts ?? []).map(String).join('');
      texts.set(this, text);
      if (text.startsWith(FACTORY_PREFIX)) factoryPath = writeOnce(dir, 'factory', FACTORY_PRELUDE + text);
    }
  };
  URL.createObjectURL = (obj: Blob) => {
    const text = texts.get(obj);
    if (text === undefined) return origCreate(obj);
    if (!text.includes(WORKER_LOAD) || !factoryPath) {
      patchFailed = 'the tfjs worker script is not the expected 4.22.0 one';
      return origCreate(obj);
    }
    return writeOnce(dir, 'worker', text.replace(WORKER_LOAD, `if(true){importScripts(${JSON.stringify(factoryPath)})}`));
  };
  // backend.cc allows at most cpus/2 threads.
  os.cpus = () => new Array(2 * threads).fill(origCpus()[0]);
  const flagBefore = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch {
    ok = false;
  } finally {
    os.cpus = origCpus;
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    rmSync(dir, { recursive: true, force: true });
  }
  if (!ok || patchFailed) {
    // The engine keeps the wasm factory, so a second setBackend starts the plain single-threaded build.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', flagBefore);
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('internal error: the wasm backend failed to start');
    return { threads: 1, reason: patchFailed ?? 'the threaded wasm build failed to start' };
  }
  const module = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers: { unref(): void }[] } } }).wasm;
  module?.PThread?.runningWorkers.forEach((w) => w.unref());
  return { threads: wasm.getThreadsCount() };
}
