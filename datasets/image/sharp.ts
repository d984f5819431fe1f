/**
 * Decoding worker threads: each file is decoded, centre-cropped, converted and resized (resize.ts, the same
 * functions as on the loading thread, so the pixels are bit-identical) in one of several worker threads,
 * one per core; the loading thread only reads, hashes, hands out batches of files and assembles the results
 * in file order. Decoders in a worker: JPEGs with 1 or 3 components by libjpeg-turbo (libjpeg.ts: the
 * native addon's decodeJpeg, loaded by path in the worker, when it is built with it and MEDSYNTH_NATIVE is
 * not 0; else the wasm build, about a third of sharp's per-file cost for small images), everything else by
 * `sharp` (libvips with libjpeg-turbo and libpng) when it is installed, loaded on first use. The crop and
 * resize: the addon's resizeSquare (native/medsynth_resize.cc, resize.ts's arithmetic in C++, bit-identical,
 * in about a third of the time) when built and MEDSYNTH_NATIVE is not 0, in the workers and on the loading
 * thread, else resize.ts's JavaScript.
 *
 * Why workers. `loadDataset` is synchronous (every command and stage calls it that way), while sharp only
 * has an async API, and one thread cannot use two cores. The loading thread posts batches of file bytes
 * (copied; it keeps its own for a fallback) and blocks on a shared counter (`Atomics.wait`) until the batch
 * it needs next is back, then takes replies with `receiveMessageOnPort`; the resized float32 pixels come
 * back transferred, not copied. (Letting the loading thread decode a batch no worker had started yet, and
 * one worker plus the loading thread, measured no faster on 2 cores: eval/results/load.md.) Workers never
 * see file names, are unref'd and are terminated after every load, so they never keep the process alive.
 *
 * Which decoder: `MEDSYNTH_DECODER=auto` (default) uses sharp when it loads, else the pure-JS decoders in
 * decode.ts (then the workers take JPEGs only, and PNGs are decoded on the loading thread); `js` forces the
 * pure-JS path; `sharp` demands sharp (ConfigError when it is missing). `MEDSYNTH_DECODE_WORKERS` sets the
 * number of threads (default: one per core, at most 4). Any file a worker declines (corrupt, truncated:
 * sharp fails on libjpeg/libpng warnings; palette PNGs, whose grey/colour rule is the palette's; CMYK JPEGs;
 * 8-bit grey PNGs, which sharp hands over as 3 channels) and DICOM files are decoded on the loading thread
 * by the pure-JS decoders, which then either decode it or throw their one-line DatasetError naming the
 * file, so messages do not depend on the decoder or the thread.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { ConfigError } from '../../src/core/errors.js';
import { decodeImageStored, detectFormat, jpegReadyForLibjpeg, type DecodedImage, type StoredImage } from './decode.js';
import { jpegDecodeCounts, libjpegModule, libjpegPaths, nativeJpegPath } from './libjpeg.js';
import { resizeSource, toSquareWith, type NativeResize } from './resize.js';
import { nativeAddonExport, nativeAddonPath } from '../../src/core/native-addon.js';
import { decodeDicomFrames, isDicom, parseDicomFile } from '../dicom/pixels.js';

export type DecoderChoice = 'auto' | 'sharp' | 'js';

/** The decoder named by MEDSYNTH_DECODER (default `auto`). */
export function decoderChoice(env: NodeJS.ProcessEnv = process.env): DecoderChoice {
  const v = (env.MEDSYNTH_DECODER ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'sharp' || v === 'js') return v;
  throw new ConfigError(`MEDSYNTH_DECODER=${v}: give auto, sharp or js (or leave it unset)`);
}

// The worker body, kept as source so it runs the same from the TypeScript tree (tests) and from dist/; the
// resize is resize.ts's own functions (resizeSource), so its pixels are this thread's. It decodes and
// resizes; it never sees file names.
const workerSource = (): string => `
const { workerData } = require('node:worker_threads');
${resizeSource()}
// sharp is loaded on first use: a folder of JPEGs (libjpeg-turbo below) never needs it, and loading libvips
// is a good part of a worker's start-up.
let sharpModule;
function sharpLib() {
  if (sharpModule === undefined) {
    sharpModule = workerData.sharpPath ? require(workerData.sharpPath) : null;
    if (sharpModule) sharpModule.cache(false);
  }
  return sharpModule;
}
const port = workerData.port;
const counter = new Int32Array(workerData.counter);
const size = workerData.size;
const want = workerData.channels; // 1 or 3; 0: each image keeps its own colour class
// JPEG with 1 or 3 components: libjpeg-turbo, synchronously in this thread: the native addon's decodeJpeg
// when the loading thread found it (its path; an N-API addon loads in any thread), else WebAssembly
// (datasets/image/libjpeg.ts; the module the loading thread compiled). Both give sharp's samples (all three
// are libjpeg-turbo) at a fraction of sharp's per-file cost.
let nativeJpeg = null;
if (workerData.nativeJpeg) {
  try {
    nativeJpeg = require(workerData.nativeJpeg).decodeJpeg ?? null;
  } catch {
    nativeJpeg = null;
  }
}
let jpegDecoder = null;
if (!nativeJpeg && workerData.libjpeg) {
  try {
    const m = { instantiateWasm(imports, receive) { const i = new WebAssembly.Instance(workerData.libjpeg.module, imports); receive(i); return i.exports; } };
    require(workerData.libjpeg.js)(m).catch(() => undefined);
    if (typeof m.JPEGDecoder === 'function') jpegDecoder = new m.JPEGDecoder();
  } catch {
    jpegDecoder = null;
  }
}
const jpegOk = nativeJpeg !== null || jpegDecoder !== null;
// The crop and resize: the addon's resizeSquare (bit-identical to resize.ts's JavaScript) when the loading
// thread found it, else the JavaScript above.
let nativeResize = null;
if (workerData.nativeResize) {
  try {
    nativeResize = require(workerData.nativeResize).resizeSquare ?? null;
  } catch {
    nativeResize = null;
  }
}
let resizedNative = 0;
let nativeCount = 0;
let wasmCount = 0;
let nativeOut = new Uint8Array(0);
// The wasm samples stay in the decoder's memory (no copy): they are resized before the next decode.
function decodeJpeg(bytes) {
  if (nativeJpeg) {
    nativeCount++;
    // Into one reused buffer (the samples are resized before the next decode); it grows to the largest file.
    const r = nativeJpeg(bytes, nativeOut);
    if (r.data.buffer.byteLength > nativeOut.length) nativeOut = new Uint8Array(r.data.buffer);
    return { width: r.width, height: r.height, channels: r.components, bitDepth: 8, data: r.data, scale: 1 / 255 };
  }
  wasmCount++;
  jpegDecoder.getEncodedBuffer(bytes.length).set(bytes);
  jpegDecoder.decode();
  const fi = jpegDecoder.getFrameInfo();
  if (fi.bitsPerSample !== 8 || (fi.componentCount !== 1 && fi.componentCount !== 3)) return undefined;
  const data = jpegDecoder.getDecodedBuffer();
  if (data.length < fi.width * fi.height * fi.componentCount) return undefined;
  return { width: fi.width, height: fi.height, channels: fi.componentCount, bitDepth: 8, data, scale: 1 / 255 };
}
async function decodeSharp(bytes) {
  const img = sharpLib()(bytes, { failOn: 'warning', limitInputPixels: false }).keepIccProfile();
  const meta = await img.metadata();
  if (meta.isPalette || meta.space === 'cmyk' || !(meta.format === 'png' || meta.format === 'jpeg')) return null;
  const sixteen = meta.depth === 'ushort';
  const colour = (meta.channels ?? 1) >= 3;
  let pipe = img;
  if (meta.hasAlpha) pipe = pipe.removeAlpha();
  // Without this, sharp turns 16-bit colour into 8-bit sRGB before the raw cast.
  if (sixteen) pipe = pipe.toColourspace(colour ? 'rgb16' : 'grey16');
  const { data, info } = await pipe.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== (colour ? 3 : 1)) return null;
  const bitDepth = sixteen ? 16 : 8;
  let samples = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (sixteen) samples = new Uint16Array(data.byteOffset % 2 === 0 ? data.buffer : samples.slice().buffer, data.byteOffset % 2 === 0 ? data.byteOffset : 0, data.byteLength / 2);
  return { width: info.width, height: info.height, channels: info.channels, bitDepth, data: samples, scale: 1 / (2 ** bitDepth - 1) };
}
function resized(img) {
  if (nativeResize) resizedNative++;
  return toSquareWith(nativeResize, img.data, img.width, img.height, img.channels, img.scale, size, want || img.channels);
}
// One message is a batch of files; the reply lists them in order, each resized or declined (null: the
// loading thread decodes it, which gives the one-line error if the file is bad).
port.on('message', async (batch) => {
  // sharp's decodes start at once, so libvips works on them in parallel on its own threads.
  const viaSharp = batch.files.map((f) => (jpegOk && f.jpeg) || !workerData.sharpPath ? null : decodeSharp(f.bytes).catch(() => null));
  const items = [];
  const transfer = [];
  for (let k = 0; k < batch.files.length; k++) {
    let px = null;
    let img = null;
    try {
      if (viaSharp[k]) img = await viaSharp[k];
      else if (jpegOk && batch.files[k].jpeg) {
        let r;
        try {
          r = decodeJpeg(batch.files[k].bytes);
        } catch {
          r = null; // corrupt: the pure-JS path gives the one-line error
        }
        if (r === undefined && workerData.sharpPath) img = await decodeSharp(batch.files[k].bytes).catch(() => null);
        else if (r) {
          img = r;
          px = resized(r); // now, before anything else can use the decoder's memory
        }
      }
      if (img && !px) px = resized(img);
    } catch {
      px = null;
    }
    if (px) {
      items.push({ width: img.width, height: img.height, channels: img.channels, bitDepth: img.bitDepth, pixels: px });
      transfer.push(px.buffer);
    } else items.push(null);
  }
  port.postMessage({ id: batch.id, items, native: nativeCount, wasm: wasmCount, resized: resizedNative }, transfer);
  nativeCount = 0;
  resizedNative = 0;
  wasmCount = 0;
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
});
`;

/** The addon's resizeSquare (native/medsynth_resize.cc), or null when it is not built or MEDSYNTH_NATIVE=0. */
export function nativeResize(env: NodeJS.ProcessEnv = process.env): NativeResize | null {
  const path = nativeAddonPath(env);
  if (path === null) return null;
  return nativeAddonExport<NativeResize>(path, 'resizeSquare'); // null: the JavaScript resize stays
}

/** The addon's path when it has resizeSquare: decoding workers load it by this path themselves. */
function nativeResizePath(env: NodeJS.ProcessEnv = process.env): string | null {
  return nativeResize(env) ? nativeAddonPath(env) : null;
}

/** Images resized by the addon, in any thread (tests check that a load used it, not a silent fallback). */
export const nativeResizeCount = { n: 0 };

/** What the loader learns of a decoded image besides its resized pixels. */
export interface ImageInfo {
  width: number;
  height: number;
  /** The source colour class: 1 grey, 3 colour. */
  channels: 1 | 3;
  bitDepth: 8 | 16;
}

type WorkerItem = (ImageInfo & { pixels: Float32Array }) | null;

let sharpPathCache: string | null | undefined;

/** The resolved path of the sharp package, or null when it is not installed or its binary does not load. */
function sharpPath(): string | null {
  if (sharpPathCache !== undefined) return sharpPathCache;
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve('sharp');
    require(path); // loads the native binary: throws here when the platform package is missing
    sharpPathCache = path;
  } catch {
    sharpPathCache = null;
  }
  return sharpPathCache;
}

/** True when the sharp decoder will be used under the current MEDSYNTH_DECODER. */
export function sharpAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const choice = decoderChoice(env);
  if (choice === 'js') return false;
  const ok = sharpPath() !== null;
  if (!ok && choice === 'sharp') {
    throw new ConfigError('MEDSYNTH_DECODER=sharp but the sharp package does not load here; run npm install, or unset MEDSYNTH_DECODER to use the pure-JS decoders');
  }
  return ok;
}

/**
 * Decoding worker threads behind a synchronous front. `post` sends a batch of files (copied; the caller
 * keeps its bytes) to the worker with the fewest files outstanding, starting workers as they are first
 * needed; `take` blocks until that batch's reply is in and returns its items in the batch's order. All
 * workers signal one shared counter, on which the loading thread sleeps (`Atomics.wait`); replies are then
 * taken with `receiveMessageOnPort`. The workers are unref'd and terminated by `close` (call it also on
 * error), so they never keep the process alive.
 */
class DecodePool {
  private readonly workers: Array<{ worker: Worker; port: MessagePort; files: number }> = [];
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private readonly replies = new Map<number, WorkerItem[]>();
  private readonly owner = new Map<number, { w: number; files: number }>();
  private readonly data: object;

  constructor(
    private readonly max: number,
    withSharp: boolean,
    size: number,
    channels: 1 | 3 | 0,
  ) {
    const path = withSharp ? sharpPath() : null;
    if (withSharp && path === null) throw new Error('internal error: DecodePool built with sharp, which does not load (check sharpAvailable first)');
    // With the native decoder, the wasm module is neither compiled here nor instantiated in the workers.
    const nativeJpeg = nativeJpegPath();
    const paths = nativeJpeg ? null : libjpegPaths();
    const module = nativeJpeg ? null : libjpegModule();
    this.data = { sharpPath: path, counter: this.counter.buffer, size, channels, nativeJpeg, nativeResize: nativeResizePath(), libjpeg: paths && module ? { js: paths.js, module } : null };
  }

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(workerSource(), {
      eval: true,
      // Not the parent's flags: under `node --input-type=module -e`, an inherited flag makes the eval'd
      // CommonJS worker source fail before it can answer, and the caller would wait for it forever.
      execArgv: [],
      workerData: { ...this.data, port: port2 },
      transferList: [port2],
    });
    worker.unref();
    live++;
    worker.once('exit', () => live--);
    this.workers.push({ worker, port: port1, files: 0 });
  }

  post(id: number, files: Array<{ bytes: Uint8Array; jpeg: boolean }>): void {
    // A new worker while fewer than `max` run and all are busy; else the least loaded one.
    let w = 0;
    for (let k = 1; k < this.workers.length; k++) if (this.workers[k]!.files < this.workers[w]!.files) w = k;
    if (this.workers.length < this.max && (this.workers.length === 0 || this.workers[w]!.files > 0)) {
      this.start();
      w = this.workers.length - 1;
    }
    const target = this.workers[w]!;
    target.port.postMessage({ id, files }, files.map((f) => f.bytes.buffer as ArrayBuffer));
    target.files += files.length;
    this.owner.set(id, { w, files: files.length });
  }

  /** Blocks until batch `id` is back. Sync point: the calling thread sleeps in Atomics.wait. */
  take(id: number): WorkerItem[] {
    for (;;) {
      const got = this.replies.get(id);
      if (got) {
        this.replies.delete(id);
        const o = this.owner.get(id)!;
        this.owner.delete(id);
        this.workers[o.w]!.files -= o.files;
        return got;
      }
      const seen = Atomics.load(this.counter, 0);
      let any = false;
      for (const { port } of this.workers) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
          const reply = m.message as { id: number; items: WorkerItem[]; native: number; wasm: number; resized: number };
          this.replies.set(reply.id, reply.items);
          jpegDecodeCounts.native += reply.native;
          jpegDecodeCounts.wasm += reply.wasm;
          nativeResizeCount.n += reply.resized;
          any = true;
        }
      }
      if (any) continue;
      if (!this.owner.has(id)) throw new Error(`internal error: batch ${id} was never posted`);
      if (Atomics.wait(this.counter, 0, seen, 120_000) === 'timed-out') {
        throw new Error('internal error: the decoding worker gave no answer for 120 s');
      }
    }
  }

  close(): void {
    for (const { worker, port } of this.workers) {
      port.close();
      void worker.terminate();
    }
    this.workers.length = 0;
  }
}

/** Decoding workers started and not yet exited (tests check that a load leaves none behind). */
let live = 0;
export function liveDecodeWorkers(): number {
  return live;
}

/** An image as the loading thread decodes it: samples at their stored precision, `scale` maps them to [0, 1]. */
type Pixels = StoredImage | (DecodedImage & { scale: 1 });

/**
 * Decoding worker threads: MEDSYNTH_DECODE_WORKERS if set (a whole number ≥ 1), else one per core, at most
 * four (each holds its own libvips and wasm instance; the HAM10000 JPEGs gain nothing beyond the cores).
 */
export function decodeWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const v = (env.MEDSYNTH_DECODE_WORKERS ?? '').trim();
  if (v !== '') {
    const k = Number(v);
    if (!(Number.isInteger(k) && k >= 1 && k <= 64)) throw new ConfigError(`MEDSYNTH_DECODE_WORKERS=${v}: give a whole number of threads from 1 to 64 (or leave it unset)`);
    return k;
  }
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Files per message to a worker, and the bytes at which a batch goes out earlier (large files). */
const BATCH_FILES = 8;
const BATCH_BYTES = 1 << 20;
/** Read-ahead: files (per worker) and bytes read but not yet handed over, so the workers never run dry. */
const AHEAD_BATCHES = 4;
const AHEAD_BYTES = 64 << 20;

/**
 * Decodes, centre-crops and resizes files 0 … n−1 to size × size with `channels` (undefined: each image
 * keeps its own colour class; the caller checks they agree), handing each to `onImage` in file order with
 * its source description. `read(i)` is called once per file, in order (so it may hash the bytes); `where(i)`
 * names the file in error messages. The work runs in decoding worker threads (sharp when `sharpAvailable()`,
 * else libjpeg-turbo, native or wasm, for JPEG only), while this thread reads, hashes and assembles; files no worker
 * takes (DICOM, PNG without sharp) or declines are decoded here by the pure-JS decoders, whose DatasetError
 * messages are the same either way. The resize is resize.ts's (or the addon's copy of it) in every thread.
 * Returns the decoder used.
 */
export function decodeResizeEach(
  n: number,
  read: (i: number) => Uint8Array,
  where: (i: number) => string,
  size: number,
  channels: 1 | 3 | undefined,
  onImage: (i: number, info: ImageInfo, pixels: Float32Array) => void,
  /** For tests: `workers`, the worker threads (default `decodeWorkers()`; 0: everything on this thread with the pure-JS decoders). */
  opts: { workers?: number } = {},
): 'sharp' | 'js' {
  const { workers = decodeWorkers() } = opts;
  const here = (bytes: Uint8Array, i: number): void => {
    const img: Pixels = isDicom(bytes) ? dicomFirstFrame(bytes, where(i)) : decodeImageStored(bytes, where(i));
    const native = nativeResize();
    if (native) nativeResizeCount.n++;
    onImage(i, img, toSquareWith(native, img.data, img.width, img.height, img.channels, img.scale, size, channels ?? img.channels));
  };
  const useSharp = workers > 0 && sharpAvailable();
  if (!useSharp && (workers === 0 || (nativeJpegPath() === null && (libjpegModule() === null || libjpegPaths() === null)))) {
    for (let i = 0; i < n; i++) here(read(i), i);
    return 'js';
  }
  const jpegOk = (bytes: Uint8Array): boolean => detectFormat(bytes) === 'jpeg' && jpegReadyForLibjpeg(bytes);
  const pool = new DecodePool(workers, useSharp, size, channels ?? 0);
  type Batch = { id: number; files: Array<{ bytes: Uint8Array; jpeg: boolean }>; bytes: number; posted: boolean; items?: WorkerItem[] };
  // Files read and not yet handed over, in file order; `batch` is unset for files decoded here.
  const queue: Array<{ i: number; bytes: Uint8Array; batch?: Batch; k: number }> = [];
  let head = 0;
  let open: Batch = { id: 0, files: [], bytes: 0, posted: false };
  let queuedBytes = 0;
  const flush = (): void => {
    if (open.files.length === 0) return;
    pool.post(open.id, open.files);
    open.posted = true;
    open = { id: open.id + 1, files: [], bytes: 0, posted: false };
  };
  try {
    let next = 0;
    for (let delivered = 0; delivered < n; delivered++) {
      while (next < n && queue.length - head < workers * AHEAD_BATCHES * BATCH_FILES && queuedBytes < AHEAD_BYTES) {
        const bytes = read(next);
        queuedBytes += bytes.length;
        const jpeg = jpegOk(bytes);
        if (jpeg || (useSharp && !isDicom(bytes))) {
          // A copy goes to the worker (transferred); this thread keeps the bytes for a declined file.
          const copy = new Uint8Array(bytes);
          queue.push({ i: next, bytes, batch: open, k: open.files.length });
          open.files.push({ bytes: copy, jpeg });
          open.bytes += bytes.length;
          if (open.files.length >= BATCH_FILES || open.bytes >= BATCH_BYTES) flush();
        } else queue.push({ i: next, bytes, k: -1 });
        next++;
      }
      if (next === n) flush(); // everything is read: the last files need not wait for a full batch
      const slot = queue[head]!;
      queue[head++] = undefined as never; // let the bytes go
      if (head > 1024) {
        queue.splice(0, head);
        head = 0;
      }
      queuedBytes -= slot.bytes.length;
      if (!slot.batch) {
        here(slot.bytes, slot.i);
        continue;
      }
      if (!slot.batch.posted) flush(); // about to wait for it: send it now, however small
      slot.batch.items ??= pool.take(slot.batch.id);
      const item = slot.batch.items[slot.k];
      if (item) onImage(slot.i, item, item.pixels);
      else here(slot.bytes, slot.i);
    }
    return useSharp ? 'sharp' : 'js';
  } finally {
    pool.close();
  }
}

/** A DICOM file named by a manifest row: its first frame, windowed as the dicom adapter does by default. */
function dicomFirstFrame(bytes: Uint8Array, file: string): Pixels {
  const d = decodeDicomFrames(parseDicomFile(bytes, file), file, { frames: 'first', window: 'minmax' });
  return { width: d.width, height: d.height, channels: d.channels, bitDepth: d.bitDepth, data: d.frames[0]!, scale: 1 };
}
