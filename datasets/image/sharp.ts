/**
 * The fast PNG/JPEG decoder: `sharp` (libvips with libjpeg-turbo and libpng) decodes in a worker thread,
 * medsynth's own crop/convert/resize (resize.ts) does the rest, so both decoders give the same
 * preprocessing. In that worker, JPEGs with 1 or 3 components are decoded by the same libjpeg-turbo
 * compiled to WebAssembly that the pure-JS path uses (libjpeg.ts): identical samples to sharp's, at about a
 * third of sharp's per-file cost for small images (eval/results/load.md).
 *
 * Why a worker. `loadDataset` is synchronous (every command and stage calls it that way), while sharp
 * only has an async API. One worker thread runs sharp; the loading thread posts the file bytes to it
 * (transferred, not copied) and blocks on a shared counter (`Atomics.wait`) until a result is ready,
 * then takes it with `receiveMessageOnPort`. Several decodes are in flight at once, so libvips decodes
 * on libuv's thread pool while this thread resizes the previous image: the work spreads over the cores.
 *
 * Which decoder: `MEDSYNTH_DECODER=auto` (default) uses sharp when it loads, else the pure-JS decoders
 * in decode.ts; `js` forces the pure-JS path; `sharp` demands sharp (ConfigError when it is missing).
 * Any file sharp declines (corrupt, truncated: sharp fails on libjpeg/libpng warnings; palette PNGs,
 * whose grey/colour rule is the palette's; CMYK JPEGs) goes to the pure-JS decoder, which then either
 * decodes it or throws its one-line DatasetError, so messages do not depend on the decoder.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { ConfigError } from '../../src/core/errors.js';
import { decodeImageStored, detectFormat, jpegReadyForLibjpeg, type DecodedImage, type StoredImage } from './decode.js';
import { libjpegPaths } from './libjpeg.js';
import { decodeDicomFrames, isDicom, parseDicomFile } from '../dicom/pixels.js';

/** A decoded image at its stored precision: HWC integers, `scale` maps them to [0, 1]. */
export interface RawImage {
  width: number;
  height: number;
  /** Stored channels in `data` (1 grey, 3 RGB; alpha is already dropped). */
  channels: 1 | 3;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
  /** 1 / (2^bits − 1). */
  scale: number;
}

export type DecoderChoice = 'auto' | 'sharp' | 'js';

/** The decoder named by MEDSYNTH_DECODER (default `auto`). */
export function decoderChoice(env: NodeJS.ProcessEnv = process.env): DecoderChoice {
  const v = (env.MEDSYNTH_DECODER ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'sharp' || v === 'js') return v;
  throw new ConfigError(`MEDSYNTH_DECODER=${v}: give auto, sharp or js (or leave it unset)`);
}

// The worker body, kept as source so it runs the same from the TypeScript tree (tests) and from dist/.
// It only decodes; it never sees file names.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const sharp = workerData.sharpPath ? require(workerData.sharpPath) : null;
if (sharp) sharp.cache(false);
const port = workerData.port;
const counter = new Int32Array(workerData.counter);
function done(msg, transfer) {
  port.postMessage(msg, transfer);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}
// JPEG with 1 or 3 components: libjpeg-turbo in WebAssembly (datasets/image/libjpeg.ts), synchronously in
// this thread: the same samples as sharp's (both are libjpeg-turbo) at a fraction of sharp's per-file cost.
let jpegDecoder = null;
if (workerData.libjpeg) {
  try {
    const fs = require('node:fs');
    const wasm = new WebAssembly.Module(fs.readFileSync(workerData.libjpeg.wasm));
    const m = { instantiateWasm(imports, receive) { const i = new WebAssembly.Instance(wasm, imports); receive(i); return i.exports; } };
    require(workerData.libjpeg.js)(m).catch(() => undefined);
    if (typeof m.JPEGDecoder === 'function') jpegDecoder = new m.JPEGDecoder();
  } catch {
    jpegDecoder = null;
  }
}
function decodeJpeg(bytes) {
  jpegDecoder.getEncodedBuffer(bytes.length).set(bytes);
  jpegDecoder.decode();
  const fi = jpegDecoder.getFrameInfo();
  if (fi.bitsPerSample !== 8 || (fi.componentCount !== 1 && fi.componentCount !== 3)) return undefined;
  const out = jpegDecoder.getDecodedBuffer().slice();
  if (out.length < fi.width * fi.height * fi.componentCount) return undefined;
  return { width: fi.width, height: fi.height, channels: fi.componentCount, sixteen: false, buffer: out.buffer };
}
async function decode(job) {
  if (jpegDecoder && job.jpeg) {
    try {
      const r = decodeJpeg(job.bytes);
      if (r) return r;
    } catch {
      return null; // corrupt: the pure-JS path gives the one-line error
    }
  }
  if (!sharp) return null; // libjpeg-turbo only (no sharp here): the loading thread decodes the rest
  const img = sharp(job.bytes, { failOn: 'warning', limitInputPixels: false }).keepIccProfile();
  const meta = await img.metadata();
  if (meta.isPalette || meta.space === 'cmyk' || !(meta.format === 'png' || meta.format === 'jpeg')) return null;
  const sixteen = meta.depth === 'ushort';
  const colour = (meta.channels ?? 1) >= 3;
  let pipe = img;
  if (meta.hasAlpha) pipe = pipe.removeAlpha();
  // Without this, sharp turns 16-bit colour into 8-bit sRGB before the raw cast.
  if (sixteen) pipe = pipe.toColourspace(colour ? 'rgb16' : 'grey16');
  const { data, info } = await pipe.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  if (channels !== (colour ? 3 : 1)) return null;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { width: info.width, height: info.height, channels, sixteen, buffer: bytes.buffer };
}
port.on('message', (job) => {
  decode(job).then(
    (r) => done(r ? { id: job.id, ok: true, ...r } : { id: job.id, ok: false }, r ? [r.buffer] : []),
    () => done({ id: job.id, ok: false }, []),
  );
});
`;

interface WorkerReply {
  id: number;
  ok: boolean;
  width?: number;
  height?: number;
  channels?: 1 | 3;
  sixteen?: boolean;
  buffer?: ArrayBuffer;
}

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
 * A synchronous front for the decoding worker (sharp, and libjpeg-turbo in wasm for JPEG). `submit` queues
 * one file's bytes (they are transferred: the caller must not use them afterwards); `next` blocks until
 * some submitted file is decoded and returns its id with the image, or null when the worker declined it
 * (the caller then decodes it on its own thread, which gives the one-line error if the file is bad). Call
 * `close` when done (also on error).
 */
export class DecodeWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private pending = 0;

  /** `withSharp`: decode with sharp what libjpeg-turbo does not take; false: libjpeg-turbo only. */
  constructor(withSharp: boolean) {
    const path = withSharp ? sharpPath() : null;
    if (withSharp && path === null) throw new Error('internal error: DecodeWorker built with sharp, which does not load (check sharpAvailable first)');
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.counter = new Int32Array(new SharedArrayBuffer(4));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Not the parent's flags: under `node --input-type=module -e`, an inherited flag makes the eval'd
      // CommonJS worker source fail before it can answer, and the caller would wait for it forever.
      execArgv: [],
      workerData: { sharpPath: path, port: port2, counter: this.counter.buffer, libjpeg: libjpegPaths() },
      transferList: [port2],
    });
    this.worker.unref();
  }

  /** Number of files submitted and not yet returned by `next`. */
  get inFlight(): number {
    return this.pending;
  }

  submit(id: number, bytes: Uint8Array): void {
    // Copy only when the bytes are a view into a larger buffer (Node's pooled small reads).
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    // JPEGs the worker may hand to libjpeg-turbo: the checks decode.ts makes first (not truncated; jpeg-js
    // not forced) are made here, so a file that fails them goes through sharp and then the pure-JS path.
    const jpeg = detectFormat(own) === 'jpeg' && jpegReadyForLibjpeg(own);
    this.port.postMessage({ id, bytes: own, jpeg }, [own.buffer as ArrayBuffer]);
    this.pending++;
  }

  /** Blocks until one result arrives. Sync point: the calling thread sleeps in Atomics.wait. */
  next(): { id: number; image: RawImage | null } {
    if (this.pending === 0) throw new Error('internal error: DecodeWorker.next with nothing submitted');
    for (;;) {
      const seen = Atomics.load(this.counter, 0);
      const got = receiveMessageOnPort(this.port);
      if (got) {
        this.pending--;
        return { id: (got.message as WorkerReply).id, image: toRaw(got.message as WorkerReply) };
      }
      const r = Atomics.wait(this.counter, 0, seen, 120_000);
      if (r === 'timed-out') throw new Error('internal error: the sharp worker gave no answer for 120 s');
    }
  }

  close(): void {
    this.port.close();
    void this.worker.terminate();
  }
}

function toRaw(m: WorkerReply): RawImage | null {
  if (!m.ok || !m.buffer) return null;
  const bitDepth: 8 | 16 = m.sixteen ? 16 : 8;
  const data = m.sixteen ? new Uint16Array(m.buffer) : new Uint8Array(m.buffer);
  return { width: m.width!, height: m.height!, channels: m.channels!, bitDepth, data, scale: 1 / (2 ** bitDepth - 1) };
}

/** An image as `decodeEach` hands it over: samples at their stored precision, `scale` maps them to [0, 1]. */
export type Pixels = RawImage | StoredImage | (DecodedImage & { scale: 1 });

/** Files decoded ahead of the one being resized, so the decoder threads stay busy. */
const IN_FLIGHT = 8;

/**
 * Decodes files 0 … n−1 and hands each to `onImage` (in completion order, which may differ from file
 * order). `read(i)` is called once per file, in order 0 … n−1 (so it may hash the bytes); `where(i)` names
 * the file in error messages. Uses sharp when `sharpAvailable()`, else (and for any file sharp declines)
 * the pure-JS decoders, whose DatasetError messages are the same either way; without sharp, JPEGs are still
 * decoded in the worker (libjpeg-turbo in wasm) while this thread resizes. Returns the decoder used.
 */
export function decodeEach(
  n: number,
  read: (i: number) => Uint8Array,
  where: (i: number) => string,
  onImage: (i: number, img: Pixels) => void,
): 'sharp' | 'js' {
  const decodeJs = (bytes: Uint8Array, i: number): Pixels =>
    isDicom(bytes) ? dicomFirstFrame(bytes, where(i)) : decodeImageStored(bytes, where(i));
  const useSharp = sharpAvailable();
  // Without sharp, a worker still decodes the JPEGs (libjpeg-turbo in wasm) while this thread resizes.
  if (!useSharp && libjpegPaths() === null) {
    for (let i = 0; i < n; i++) onImage(i, decodeJs(read(i), i));
    return 'js';
  }
  const toWorker = (bytes: Uint8Array): boolean =>
    !isDicom(bytes) && (useSharp || (detectFormat(bytes) === 'jpeg' && jpegReadyForLibjpeg(bytes)));
  const dec = new DecodeWorker(useSharp);
  // The worker takes ownership of the bytes, so keep a copy only for the (rare) fallback path: cheap,
  // since a declined file is decoded again from the copy rather than read from disk again.
  const kept = new Map<number, Uint8Array>();
  try {
    let submitted = 0;
    const drainOne = (): void => {
      const { id, image } = dec.next();
      const bytes = kept.get(id)!;
      kept.delete(id);
      onImage(id, image ?? decodeJs(bytes, id));
    };
    while (submitted < n) {
      if (dec.inFlight >= IN_FLIGHT) drainOne();
      const bytes = read(submitted);
      if (!toWorker(bytes)) {
        onImage(submitted++, decodeJs(bytes, submitted - 1));
        continue;
      }
      kept.set(submitted, bytes);
      dec.submit(submitted, new Uint8Array(bytes)); // a copy: Buffer#slice would share (and lose) the bytes
      submitted++;
    }
    while (dec.inFlight > 0) drainOne();
    return useSharp ? 'sharp' : 'js';
  } finally {
    dec.close();
  }
}

/** A DICOM file named by a manifest row: its first frame, windowed as the dicom adapter does by default. */
function dicomFirstFrame(bytes: Uint8Array, file: string): Pixels {
  const d = decodeDicomFrames(parseDicomFile(bytes, file), file, { frames: 'first', window: 'minmax' });
  return { width: d.width, height: d.height, channels: d.channels, bitDepth: d.bitDepth, data: d.frames[0]!, scale: 1 };
}
