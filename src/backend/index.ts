/**
 * Compute backend selection.
 *
 *   auto        -> @tensorflow/tfjs-node-gpu if it can be imported, else @tensorflow/tfjs-node, else wasm
 *   tensorflow  -> tfjs-node-gpu or tfjs-node (libtensorflow; CUDA with the -gpu package)
 *   wasm        -> @tensorflow/tfjs-backend-wasm (XNNPACK kernels; the default that needs nothing installed)
 *   cpu         -> tfjs's pure-JS kernels: a correctness oracle, far too slow to train on
 *
 * The two node packages are optional: installing them downloads libtensorflow, so they are never
 * dependencies. Under `auto` a missing one is skipped silently; asked for by name, it is an error.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../core/errors.js';
import { registerFastGradients } from './gradients.js';
import { registerNativeKernels, type NativeInfo } from './native.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { setWasmBackendThreaded, wantedThreads } from './wasm-threads.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** What the user asked for. */
  requested: BackendChoice;
  /** tfjs backend name actually running: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** The npm package providing it. */
  package: string;
  /** Its version. */
  version: string;
  /** Threads the backend uses (wasm: 1 unless the threaded build runs). */
  threads: number | null;
  /** Native oneDNN kernels serving conv and matmul on wasm, when built (src/backend/native.ts). */
  native: NativeInfo | null;
  /** Why wasm runs one thread when more were wanted (src/backend/wasm-threads.ts). */
  threadNote?: string;
}

const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let active: BackendInfo | null = null;

/** `--backend` value, else `MEDSYNTH_BACKEND`, else `auto`. Throws BackendError on an unknown name. */
export function resolveBackendChoice(flag: string | undefined, env = process.env): BackendChoice {
  const raw = flag ?? (env.MEDSYNTH_BACKEND || undefined) ?? 'auto';
  const value = raw.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  const where = flag !== undefined ? '--backend' : 'MEDSYNTH_BACKEND';
  throw new BackendError(`${where} '${raw}' is not a backend; use one of ${BACKEND_CHOICES.join(', ')}`);
}

/** Initialises tfjs on the chosen backend (once per process) and reports what runs. */
export async function initBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (active && (active.requested === choice || active.name === choice)) return active;
  // Silences tfjs's "install the node backend" banner and other console chatter; checks we rely on stay.
  tf.env().set('PROD', true);
  registerFastGradients();
  let info: BackendInfo | null = null;
  if (choice === 'auto' || choice === 'tensorflow') {
    info = await tryNodeBackend(choice);
    if (!info && choice === 'tensorflow') {
      throw new BackendError(
        "--backend tensorflow needs @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node; install one with 'npm install @tensorflow/tfjs-node@4.22.0', or use --backend wasm",
      );
    }
  }
  if (!info && (choice === 'auto' || choice === 'wasm')) {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    const native = registerNativeKernels();
    let threads = 1;
    let threadNote: string | undefined;
    try {
      const r = await setWasmBackendThreaded(wantedThreads(process.env, native !== null));
      threads = r.threads;
      threadNote = r.reason;
    } catch (err) {
      throw new BackendError(`the wasm backend failed to start (${firstLine(err)}); try --backend cpu and report this as a bug`);
    }
    info = { requested: choice, name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', version: tf.version_core, threads, native, threadNote };
  }
  if (!info && choice === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new BackendError('the cpu backend failed to start');
    info = { requested: choice, name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', version: tf.version_core, threads: 1, native: null };
  }
  await tf.ready();
  active = info!;
  return active;
}

async function tryNodeBackend(choice: BackendChoice): Promise<BackendInfo | null> {
  for (const pkg of NODE_PACKAGES) {
    let mod: { version?: Record<string, string> } | null = null;
    try {
      mod = (await import(pkg)) as { version?: Record<string, string> };
    } catch (err) {
      if (isModuleNotFound(err, pkg)) continue;
      // Installed but broken (e.g. libtensorflow missing): silent under auto only when not asked for.
      if (choice === 'tensorflow') {
        throw new BackendError(`${pkg} is installed but failed to load (${firstLine(err)}); reinstall it or use --backend wasm`);
      }
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      const version = mod?.version?.['tfjs-node'] ?? mod?.version?.['tfjs-node-gpu'] ?? 'unknown';
      return { requested: choice, name: 'tensorflow', package: pkg, version, threads: null, native: null };
    }
  }
  return null;
}

function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(pkg);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/** The backend in use, or null before `initBackend`. */
export function activeBackend(): BackendInfo | null {
  return active;
}
