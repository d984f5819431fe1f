/**
 * JPEG decoding by libjpeg-turbo: natively through the optional addon's `decodeJpeg` (native/medsynth_jpeg.cc,
 * the system's libjpeg-turbo with SIMD, about half the wasm build's time on the HAM10000 files) when it was
 * built with it and MEDSYNTH_NATIVE is not 0, else compiled to WebAssembly (@cornerstonejs/codec-libjpeg-turbo-8bit, the
 * DICOM viewer Cornerstone's build; the same project publishes the CharLS and OpenJPEG codecs the DICOM
 * adapter uses). It is the pure-JS path's JPEG decoder: portable like any wasm, and the same library,
 * with the same inverse DCT, "fancy" chroma upsampling and fixed-point colour conversion, that sharp
 * decodes with (libvips → mozjpeg, a libjpeg-turbo fork), so both decoders give identical 8-bit samples
 * (measured on the 3000 HAM10000 JPEGs: max difference 0; eval/results/load.md). jpeg-js, the decoder
 * before it, rounds its IDCT and converts colour differently (up to 38 levels at full size).
 *
 * The addon decodes with the wasm codec's settings (libjpeg defaults, grey or RGB out, a libjpeg warning
 * fails the file), so both give the same samples (every byte of the 3000 HAM10000 files, and the test
 * files of test/datasets/image/libjpeg.test.ts) and reject the same files, with the same message.
 *
 * The module is compiled and instantiated synchronously on first use (`instantiateWasm` hands Emscripten
 * a ready instance), because `loadDataset` is synchronous; one decoder object is reused for every file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { nativeAddonExport, nativeAddonPath } from '../../src/core/native-addon.js';

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
}

interface JpegDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
}

export interface LibjpegImage {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB), pixel-interleaved. */
  components: 1 | 3;
  /** 8-bit samples, a copy (the decoder's buffer is reused by the next call). */
  data: Uint8Array;
}

/** The few WebAssembly names used here (the project's TypeScript lib settings do not declare them). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

let decoder: JpegDecoder | null | undefined;
let compiled: object | null | undefined;

/** Where the codec's Emscripten glue and wasm binary are (for worker threads that load their own copy). */
export function libjpegPaths(): { js: string; wasm: string } | null {
  try {
    const require = createRequire(import.meta.url);
    return {
      js: require.resolve('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'),
      wasm: require.resolve('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm'),
    };
  } catch {
    return null;
  }
}

/**
 * The codec's compiled WebAssembly module, compiled once per process: this thread's decoder and every
 * decoding worker instantiate it (a compiled module can be handed to a worker), so workers do not compile
 * it again. Null when the package is missing.
 */
export function libjpegModule(): object | null {
  if (compiled !== undefined) return compiled;
  const paths = libjpegPaths();
  try {
    compiled = paths ? new wasmApi.Module(readFileSync(paths.wasm)) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

function load(): JpegDecoder | null {
  if (decoder !== undefined) return decoder;
  decoder = null;
  try {
    const paths = libjpegPaths();
    if (!paths) throw new Error('@cornerstonejs/codec-libjpeg-turbo-8bit is not installed');
    const require = createRequire(import.meta.url);
    const factory = require(paths.js) as (m: object) => Promise<unknown>;
    const wasm = libjpegModule();
    if (!wasm) throw new Error('the wasm binary did not compile');
    const module: { instantiateWasm?: unknown; JPEGDecoder?: new () => JpegDecoder } = {
      instantiateWasm(imports: object, receive: (i: { exports: object }) => void) {
        const instance = new wasmApi.Instance(wasm, imports);
        receive(instance);
        return instance.exports;
      },
    };
    // The factory's promise settles with the same object; everything it sets up is done by now.
    void factory(module).catch(() => undefined);
    if (typeof module.JPEGDecoder !== 'function') throw new Error('the module did not start synchronously');
    decoder = new module.JPEGDecoder();
  } catch {
    decoder = null; // jpeg-js decodes instead (decode.ts)
  }
  return decoder;
}

/** The one message for a JPEG libjpeg-turbo rejects, from either build (the wasm one gives no reason). */
const REJECTED = 'libjpeg-turbo could not decode it (corrupt or unsupported JPEG data)';

type NativeDecode = (bytes: Uint8Array) => LibjpegImage;

/**
 * The path of the native addon when it loads here and exports decodeJpeg (null otherwise, or with
 * MEDSYNTH_NATIVE=0): decoding workers load it by this path themselves.
 */
export function nativeJpegPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const path = nativeAddonPath(env);
  return path !== null && nativeDecoder(path) ? path : null;
}

function nativeDecoder(path: string): NativeDecode | null {
  return nativeAddonExport<NativeDecode>(path, 'decodeJpeg'); // null: the wasm decoder stays
}

/** JPEG decodes by build, in this thread and (counted by sharp.ts) in the decoding workers: tests check which ran. */
export const jpegDecodeCounts = { native: 0, wasm: 0 };

/**
 * Decodes a JPEG with 1 or 3 components to grey or RGB bytes: natively when the addon has decodeJpeg,
 * else in wasm. Returns null when neither can be loaded (the caller then uses jpeg-js); throws an Error
 * when libjpeg-turbo rejects the data.
 */
export function decodeJpegLibjpeg(bytes: Uint8Array): LibjpegImage | null {
  const path = nativeAddonPath();
  const native = path === null ? null : nativeDecoder(path);
  return native ? decodeJpegNative(bytes, native) : decodeJpegWasm(bytes);
}

/** The addon's decode (throws the wasm path's message when libjpeg-turbo rejects the data). */
export function decodeJpegNative(bytes: Uint8Array, native: NativeDecode | null = nativeDecoder(nativeAddonPath() ?? '')): LibjpegImage {
  if (!native) throw new Error('internal error: the native JPEG decoder is not built');
  jpegDecodeCounts.native++;
  try {
    return native(bytes);
  } catch {
    throw new Error(REJECTED);
  }
}

/** The wasm build's decode; null when it cannot be loaded. */
export function decodeJpegWasm(bytes: Uint8Array): LibjpegImage | null {
  const d = load();
  if (!d) return null;
  jpegDecodeCounts.wasm++;
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    d.decode();
  } catch (err) {
    // Emscripten hands C++ exceptions over as numbers (a pointer), without the message.
    throw new Error(typeof err === 'number' ? REJECTED : String(err));
  }
  const info = d.getFrameInfo();
  if (info.bitsPerSample !== 8) throw new Error(`${info.bitsPerSample}-bit samples are not supported (8-bit JPEG only)`);
  if (info.componentCount !== 1 && info.componentCount !== 3) throw new Error(`${info.componentCount} components are not supported here`);
  const data = d.getDecodedBuffer().slice();
  if (data.length < info.width * info.height * info.componentCount) throw new Error('pixel data is shorter than the image size');
  return { width: info.width, height: info.height, components: info.componentCount, data };
}
