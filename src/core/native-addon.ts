/**
 * Where the optional native addon (native/, built by scripts/build-native.mjs) is, for the two places that
 * load it: src/backend/native.ts (the oneDNN kernels) and datasets/image (its JPEG decoder and resize, also
 * loaded by path inside the decoding worker threads, which see no hook set in the main thread).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The built addon's file path, or null when it was not built or MEDSYNTH_NATIVE=0 turns it off. */
export function nativeAddonPath(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.MEDSYNTH_NATIVE === '0') return null;
  // src/core/ and dist/src/core/ are two and three levels below the package root.
  for (const rel of ['../../native/build/Release/medsynth_dnnl.node', '../../../native/build/Release/medsynth_dnnl.node']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return url.pathname;
  }
  return null;
}

/**
 * OpenMP's wait policy for the addon's parallel regions (oneDNN's convolutions and matmuls, the
 * per-example kernels), set in `env` before the addon, and with it libgomp, is loaded: `passive` (a thread
 * that waits at a barrier sleeps) unless the user set OMP_WAIT_POLICY. libgomp's default spins first, which
 * costs nothing on an otherwise idle machine but, when two processes share the cores (a `train` beside an
 * `evaluate`, test workers), makes each barrier wait for a spinning thread of the other process: a DP-GAN
 * phantom run took 40–43 s instead of 27–28 s beside one busy process, and about 19 s either way alone
 * (eval/results/throughput.md, 2026-12-06). The results are the same bits either way: only waiting changes.
 * A GOMP_SPINCOUNT the user set still wins over the policy (libgomp reads it after). Returns the policy in force.
 */
export function preferPassiveOpenMp(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OMP_WAIT_POLICY === undefined || env.OMP_WAIT_POLICY === '') env.OMP_WAIT_POLICY = 'passive';
  return env.OMP_WAIT_POLICY;
}

const exportsByKey = new Map<string, unknown>();

/**
 * The function `name` of the addon at `path`, or null when it does not load here (built for another Node,
 * a library missing) or was built without that function; the caller keeps its own path then. Cached.
 */
export function nativeAddonExport<F>(path: string, name: string): F | null {
  const key = `${path}\n${name}`;
  if (!exportsByKey.has(key)) {
    let fn: unknown = null;
    try {
      preferPassiveOpenMp();
      const addon = createRequire(import.meta.url)(path) as Record<string, unknown>;
      fn = typeof addon[name] === 'function' ? addon[name] : null;
    } catch {
      fn = null;
    }
    exportsByKey.set(key, fn);
  }
  return exportsByKey.get(key) as F | null;
}
