/**
 * JPEG-LS and JPEG 2000 frames, decoded by the CharLS and OpenJPEG WebAssembly builds published on npm
 * (@cornerstonejs/codec-charls, @cornerstonejs/codec-openjpeg). Those modules start asynchronously, and
 * the loader is synchronous, so they run in one worker thread: the caller posts a frame and sleeps in
 * Atomics.wait until the worker has answered (the same bridge as datasets/image/sharp.ts). The worker is
 * started on the first compressed frame and does not keep the process alive.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

export type CodecName = 'jpeg-ls' | 'j2k';

export interface CodecFrame {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  /** Decoded samples, pixel-interleaved, 1 byte per sample up to 8 bits, else 2 (little endian). */
  bytes: Uint8Array;
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const port = workerData.port;
const counter = new Int32Array(workerData.counter);
const modules = {};
function load(name) {
  if (!modules[name]) modules[name] = require(workerData.paths[name])();
  return modules[name];
}
function done(msg, transfer) {
  port.postMessage(msg, transfer);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}
port.on('message', async (job) => {
  try {
    const m = await load(job.codec);
    const d = job.codec === 'jpeg-ls' ? new m.JpegLSDecoder() : new m.J2KDecoder();
    try {
      d.getEncodedBuffer(job.bytes.length).set(job.bytes);
      d.decode();
      const fi = d.getFrameInfo();
      const out = d.getDecodedBuffer().slice();
      done({ ok: true, width: fi.width, height: fi.height, bitsPerSample: fi.bitsPerSample, componentCount: fi.componentCount, buffer: out.buffer }, [out.buffer]);
    } finally {
      d.delete();
    }
  } catch (err) {
    done({ ok: false, message: err instanceof Error ? err.message : 'codec error ' + String(err) }, []);
  }
});
`;

let bridge: { worker: Worker; port: MessagePort; counter: Int32Array } | null = null;

function start(): NonNullable<typeof bridge> {
  if (bridge) return bridge;
  const require = createRequire(import.meta.url);
  const paths = { 'jpeg-ls': require.resolve('@cornerstonejs/codec-charls'), j2k: require.resolve('@cornerstonejs/codec-openjpeg') };
  const { port1, port2 } = new MessageChannel();
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { paths, port: port2, counter: counter.buffer }, transferList: [port2] });
  worker.unref();
  port1.unref();
  bridge = { worker, port: port1, counter };
  return bridge;
}

/**
 * Decodes one compressed frame. Throws an Error with the codec's message when the frame cannot be decoded
 * (the caller turns it into a one-line DatasetError naming the file). Sync point: waits for the worker.
 */
export function decodeCodecFrame(codec: CodecName, frame: Uint8Array): CodecFrame {
  const b = start();
  const seen = Atomics.load(b.counter, 0);
  const copy = frame.slice();
  b.port.postMessage({ codec, bytes: copy }, [copy.buffer]);
  for (let last = seen; ; ) {
    const got = receiveMessageOnPort(b.port);
    if (got) {
      const m = got.message as { ok: boolean; message?: string; width: number; height: number; bitsPerSample: number; componentCount: number; buffer: ArrayBuffer };
      if (!m.ok) throw new Error(m.message ?? 'codec error');
      return { width: m.width, height: m.height, bitsPerSample: m.bitsPerSample, componentCount: m.componentCount, bytes: new Uint8Array(m.buffer) };
    }
    if (Atomics.wait(b.counter, 0, last, 120_000) === 'timed-out') throw new Error(`the ${codec} decoder gave no answer for 120 s`);
    last = Atomics.load(b.counter, 0);
  }
}
