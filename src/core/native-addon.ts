/**
 * Where the optional native addon (native/, built by scripts/build-native.mjs) is, for the two places that
 * load it: src/backend/native.ts (the oneDNN kernels) and datasets/image/native-jpeg.ts (its JPEG decoder,
 * also loaded by path inside the decoding worker threads, which see no hook set in the main thread).
 */
import { existsSync } from 'node:fs';

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
