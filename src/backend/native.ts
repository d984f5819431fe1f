/**
 * Optional native kernels (native/medsynth_dnnl.cc, on oneDNN) behind the wasm backend's kernel names.
 *
 * wasm SIMD is 128-bit and tfjs's wasm build runs one thread in Node: about 23 GFLOP/s for XNNPACK's conv
 * and matmul here, where PyTorch reaches ~60–100 GFLOP/s on the same 2 cores with oneDNN (AVX2, OpenMP).
 * When the addon has been built (scripts/build-native.mjs, which needs Debian's libdnnl-dev), Conv2D,
 * Conv2DBackpropInput, Conv2DBackpropFilter and BatchMatMul for `wasm` are replaced by calls into it. The
 * addon reads and writes the tensors where they live, in the wasm heap, so nothing is copied and every
 * other op stays on wasm. Shapes it does not handle (dilation, NCHW, 'valid' convolutions that leave
 * rows unread, non-float32) fall back to the wasm kernels. `MEDSYNTH_NATIVE=0` turns it off.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';

interface Addon {
  conv(kind: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, dims: number[]): void;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, dims: number[]): void;
  version(): string;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

export interface NativeInfo {
  library: 'oneDNN';
  version: string;
  path: string;
}

let addon: Addon | null | undefined;
let enabled = true;

/** Routes the kernels to the addon (true, the default when it is built) or to the wasm kernels. */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}
let addonPath = '';

/** The built addon, or null when it was not built (or MEDSYNTH_NATIVE=0). */
export function loadNativeAddon(env = process.env): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (env.MEDSYNTH_NATIVE === '0') return addon;
  const require = createRequire(import.meta.url);
  // src/backend/ and dist/src/backend/ are two and three levels below the package root.
  for (const rel of ['../../native/build/Release/medsynth_dnnl.node', '../../../native/build/Release/medsynth_dnnl.node']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) {
      addon = require(url.pathname) as Addon;
      addonPath = url.pathname;
      break;
    }
  }
  return addon;
}

function convDims(info: backend_util.Conv2DInfo): number[] | null {
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') return null;
  const { top, left } = info.padInfo;
  // oneDNN wants out = (in + padBefore + padAfter - k) / stride + 1 exactly.
  const bottom = (outHeight - 1) * strideHeight + filterHeight - inHeight - top;
  const right = (outWidth - 1) * strideWidth + filterWidth - inWidth - left;
  if (bottom < 0 || right < 0 || top < 0 || left < 0) return null;
  return [batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth, top, left, bottom, right];
}

function convKernel(kind: 0 | 1 | 2, lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const b = backend as unknown as WasmBackendLike;
    const a = attrs as unknown as {
      strides: number | [number, number];
      pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
      dilations?: number | [number, number];
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      dataFormat: 'NHWC' | 'NCHW';
      inputShape?: [number, number, number, number];
      filterShape?: [number, number, number, number];
    };
    if (!enabled || a.dataFormat === 'NCHW') return fallback(args);
    let info: backend_util.Conv2DInfo;
    let first: TensorInfo;
    let second: TensorInfo;
    let outShape: number[];
    if (kind === 0) {
      const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
      info = backend_util.computeConv2DInfo(x.shape as never, filter.shape as never, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
      [first, second, outShape] = [x, filter, info.outShape];
    } else if (kind === 1) {
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      info = backend_util.computeConv2DInfo(a.inputShape!, filter.shape as never, a.strides, 1, a.pad, a.dimRoundingMode);
      [first, second, outShape] = [dy, filter, a.inputShape!];
    } else {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      info = backend_util.computeConv2DInfo(x.shape as never, a.filterShape!, a.strides, 1, a.pad, a.dimRoundingMode);
      [first, second, outShape] = [x, dy, a.filterShape!];
    }
    const dims = convDims(info);
    if (!dims || first.dtype !== 'float32' || second.dtype !== 'float32') return fallback(args);
    const out = b.makeOutput(outShape, 'float32');
    // Views are taken after the allocation: a heap growth would detach older ones.
    lib.conv(kind, b.typedArrayFromHeap(first), b.typedArrayFromHeap(second), b.typedArrayFromHeap(out), dims);
    return out;
  };
}

function matMulKernel(lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b: bb } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!enabled || a.dtype !== 'float32' || bb.dtype !== 'float32' || a.shape.length !== 3 || bb.shape.length !== 3) return fallback(args);
    const [ba, a1, a2] = a.shape as [number, number, number];
    const [bb0, b1, b2] = bb.shape as [number, number, number];
    if (ba !== bb0 && ba !== 1 && bb0 !== 1) return fallback(args);
    const [m, k] = transposeA ? [a2, a1] : [a1, a2];
    const n = transposeB ? b1 : b2;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput([Math.max(ba, bb0), m, n], 'float32');
    lib.matmul(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(bb), backend.typedArrayFromHeap(out), [
      ba, bb0, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0,
    ]);
    return out;
  };
}

/**
 * Puts the native kernels in front of the current wasm ones (call after the wasm kernels are
 * registered, before the backend starts). Returns what was loaded, or null when the addon is absent.
 */
let registered: NativeInfo | null | undefined;

export function registerNativeKernels(): NativeInfo | null {
  if (registered !== undefined) return registered;
  const lib = loadNativeAddon();
  if (!lib) return (registered = null);
  const wrap = (name: string, make: (fallback: KernelFunc) => KernelFunc): KernelConfig | null => {
    const current = tf.getKernel(name, 'wasm');
    if (!current) return null;
    return { kernelName: name, backendName: 'wasm', kernelFunc: make(current.kernelFunc), setupFunc: current.setupFunc };
  };
  const configs = [
    wrap('Conv2D', (f) => convKernel(0, lib, f)),
    wrap('Conv2DBackpropInput', (f) => convKernel(1, lib, f)),
    wrap('Conv2DBackpropFilter', (f) => convKernel(2, lib, f)),
    wrap('BatchMatMul', (f) => matMulKernel(lib, f)),
  ];
  for (const c of configs) {
    if (!c) continue;
    tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
  return (registered = { library: 'oneDNN', version: lib.version(), path: addonPath });
}
