/**
 * Optional native kernels (native/medsynth_dnnl.cc, on oneDNN) behind the wasm backend's kernel names.
 *
 * wasm SIMD is 128-bit and tfjs's wasm build runs one thread in Node: about 23 GFLOP/s for XNNPACK's conv
 * and matmul here, where PyTorch reaches ~60–100 GFLOP/s on the same 2 cores with oneDNN (AVX2, OpenMP).
 * When the addon has been built (scripts/build-native.mjs, which needs Debian's libdnnl-dev), Conv2D,
 * Conv2DBackpropInput, Conv2DBackpropFilter, BatchMatMul, and Sum and Mean over leading axes for `wasm` are replaced by calls into it. The
 * addon reads and writes the tensors where they live, in the wasm heap, so nothing is copied and every
 * other op stays on wasm. Shapes it does not handle (dilation, NCHW, 'valid' convolutions that leave
 * rows unread, non-float32) fall back to the wasm kernels. `MEDSYNTH_NATIVE=0` turns it off.
 *
 * One kernel of its own, `MedsynthConvPerExample` (wasm only): per-example conv weight gradients and their
 * squared norms, one batch-1 backward-weights convolution per example, for src/privacy's per-example
 * norms; offered to src/privacy through the hook in src/core/accelerators.ts.
 *
 * And fused normalisation kernels (wasm only, no wasm counterpart): `MedsynthGroupNorm`,
 * `MedsynthBatchNorm` (training forward: y, x̂ and the statistics in three passes) and their `...Grad`
 * backward kernels (dx, dγ, dβ in two passes), which src/nn/layers.ts calls by name when they are
 * registered, in place of ~45 composed element-wise kernels per layer and step.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import { setConvPerExample, type ConvPerExampleFn } from '../core/accelerators.js';

interface Addon {
  conv(kind: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, dims: number[]): void;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, dims: number[]): void;
  sumLeading(x: Float32Array, out: Float32Array, dims: number[]): void;
  convPerExample(x: Float32Array, dy: Float32Array, out: Float32Array | null, dims: number[], norms: Float32Array | null): void;
  convPerExampleLayout(dims: number[]): { size: number; index: Int32Array };
  normForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, xhat: Float32Array, mean: Float32Array, variance: Float32Array, dims: number[], eps: number): void;
  normBackward(dy: Float32Array, xhat: Float32Array, gamma: Float32Array, variance: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dims: number[], eps: number): void;
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
  // The fused norms have no wasm kernel to fall back to: src/nn/layers.ts takes its composed path when
  // they are not registered.
  if (registered) setNormKernels(addon!, on);
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

/** The per-example conv weight-gradient kernel's name (outputs: squared norms [B], then with `grads` the gradients [B, size]). */
export const CONV_PER_EXAMPLE = 'MedsynthConvPerExample';

interface PerExampleAttrs {
  strides: number;
  pad: 'same' | 'valid';
  filterShape: [number, number, number, number];
  /** Also output the gradients (else only their squared norms). */
  grads: boolean;
}

function perExampleInfo(x: readonly number[], dy: readonly number[], a: PerExampleAttrs): number[] | null {
  const info = backend_util.computeConv2DInfo(x as never, a.filterShape, a.strides, 1, a.pad);
  const fits = dy.length === 4 && dy[0] === x[0] && dy[1] === info.outHeight && dy[2] === info.outWidth && dy[3] === info.outChannels;
  return fits ? convDims(info) : null;
}

function convPerExampleKernel(lib: Addon): KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const a = args.attrs as unknown as PerExampleAttrs;
    const dims = perExampleInfo(x.shape, dy.shape, a);
    if (!dims || x.dtype !== 'float32' || dy.dtype !== 'float32') {
      throw new Error(`internal error: ${CONV_PER_EXAMPLE} cannot take x ${x.shape} dy ${dy.shape} ${JSON.stringify(a)}`);
    }
    const b = args.backend as unknown as WasmBackendLike;
    const norms = b.makeOutput([x.shape[0]!], 'float32');
    const grads = a.grads ? b.makeOutput([x.shape[0]!, perExampleLayout(lib, dims).size], 'float32') : null;
    // Views after all allocations (a heap growth detaches older ones).
    lib.convPerExample(b.typedArrayFromHeap(x), b.typedArrayFromHeap(dy), grads ? b.typedArrayFromHeap(grads) : null, dims, b.typedArrayFromHeap(norms));
    return grads ? [norms, grads] : [norms];
  };
}

const layouts = new Map<string, { size: number; index: Int32Array }>();

/** Floats per example in the kernel's output and where each HWIO filter entry sits there (batch size aside). */
function perExampleLayout(lib: Addon, dims: number[]): { size: number; index: Int32Array } {
  const key = dims.slice(1).join(',');
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = lib.convPerExampleLayout([1, ...dims.slice(1)])));
  return l;
}

/** The hook for src/core/accelerators.ts: null off wasm, when turned off, or for a shape oneDNN is not given. */
function perExampleHook(lib: Addon): ConvPerExampleFn {
  return (x, dy, spec) => {
    if (!enabled || tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
    const attrs: PerExampleAttrs = { strides: spec.stride, pad: spec.padding, filterShape: spec.filterShape, grads: spec.grads };
    const dims = perExampleInfo(x.shape, dy.shape, attrs);
    if (!dims) return null;
    const out = tf.engine().runKernel(CONV_PER_EXAMPLE, { x, dy } as never, attrs as never) as tf.Tensor[];
    return { squaredNorms: out[0] as tf.Tensor1D, grads: (out[1] as tf.Tensor2D | undefined) ?? null, index: perExampleLayout(lib, dims).index };
  };
}

/** Below this many input elements the wasm Sum and Mean are as quick as a call into the addon. */
const SUM_NATIVE_MIN = 4096;

let leadingReduceCalls = 0;

/** How many Sum/Mean kernels the addon has run in this process (a diagnostic; the tests read it). */
export function nativeReduceCalls(): number {
  return leadingReduceCalls;
}

/**
 * Sum (or Mean) over the leading axes of a float32 tensor, keeping at least the last one: a bias
 * gradient (NHWC summed over N, H, W) or batch-norm statistics. tfjs's wasm Sum and Mean first transpose
 * the reduced axes to the end, which for that case moves the whole tensor; the addon sums rows in place
 * (native/medsynth_dnnl.cc runSumLeading, the same bits for any thread count), and Mean divides the sums
 * by the row count. Every other Sum and Mean goes to the wasm kernel.
 */
function leadingReduceKernel(lib: Addon, fallback: KernelFunc, mean: boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[] | null; keepDims: boolean };
    const rank = x.shape.length;
    const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a !== null && a < 0 ? a + rank : a)))].sort((a, b) => (a ?? 0) - (b ?? 0));
    const size = x.shape.reduce((a, b) => a * b, 1);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!enabled || x.dtype !== 'float32' || !leading || size < SUM_NATIVE_MIN) return fallback(args);
    const kept = x.shape.slice(axes.length);
    const cols = kept.reduce((a, b) => a * b, 1);
    const rows = size / cols;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    const o = backend.typedArrayFromHeap(out);
    lib.sumLeading(backend.typedArrayFromHeap(x), o, [rows, cols]);
    leadingReduceCalls++;
    if (mean) for (let c = 0; c < cols; c++) o[c] = o[c]! / rows;
    return out;
  };
}

// ---- Fused group and batch normalisation ---------------------------------------------------------------

/**
 * The fused norm kernels' names (wasm only; src/nn/layers.ts uses them when registered and registers their
 * gradients). Forward inputs {x, gamma, beta}, attrs {eps} (+ {groups} for GroupNorm), outputs
 * [y, x̂, mean, variance] with the statistics [N, groups] (GroupNorm) or [C] (BatchNorm). Gradient inputs
 * {dy, xhat, gamma, variance}, the same attrs, outputs [dx, dγ, dβ].
 */
export const NORM_KERNELS = {
  groupNorm: 'MedsynthGroupNorm',
  groupNormGrad: 'MedsynthGroupNormGrad',
  batchNorm: 'MedsynthBatchNorm',
  batchNormGrad: 'MedsynthBatchNormGrad',
} as const;

let normCalls = 0;

/** How many fused norm kernels (forward or gradient) the addon has run in this process (the tests read it). */
export function nativeNormCalls(): number {
  return normCalls;
}

/**
 * x as [n, s, c] with g groups (native/medsynth_dnnl.cc runNormForward): GroupNorm on NHWC is
 * [N, H·W, C] with `groups` groups; BatchNorm over all axes but the last is [1, rows, C] with C groups.
 */
function normDims(shape: readonly number[], groups: number | null): number[] {
  const c = shape[shape.length - 1]!;
  const all = shape.reduce((a, b) => a * b, 1);
  if (groups === null) return [1, all / c, c, c];
  if (shape.length !== 4 || c % groups !== 0) throw new Error(`internal error: group norm of shape [${shape}] with ${groups} groups`);
  return [shape[0]!, all / (shape[0]! * c), c, groups];
}

function normForwardKernel(lib: Addon, group: boolean): KernelFunc {
  return (args) => {
    const { x, gamma, beta } = args.inputs as Record<'x' | 'gamma' | 'beta', TensorInfo>;
    const { eps, groups } = args.attrs as unknown as { eps: number; groups?: number };
    if (x.dtype !== 'float32' || gamma.dtype !== 'float32' || beta.dtype !== 'float32') throw new Error('internal error: fused norm of a non-float32 tensor');
    const dims = normDims(x.shape, group ? groups! : null);
    const b = args.backend as unknown as WasmBackendLike;
    const statShape = group ? [dims[0]!, dims[3]!] : [dims[2]!];
    const outs = [b.makeOutput(x.shape, 'float32'), b.makeOutput(x.shape, 'float32'), b.makeOutput(statShape, 'float32'), b.makeOutput(statShape, 'float32')];
    // Views after all allocations (a heap growth detaches older ones).
    const v = (t: TensorInfo) => b.typedArrayFromHeap(t);
    lib.normForward(v(x), v(gamma), v(beta), v(outs[0]!), v(outs[1]!), v(outs[2]!), v(outs[3]!), dims, eps);
    normCalls++;
    return outs;
  };
}

function normGradKernel(lib: Addon, group: boolean): KernelFunc {
  return (args) => {
    const { dy, xhat, gamma, variance } = args.inputs as Record<'dy' | 'xhat' | 'gamma' | 'variance', TensorInfo>;
    const { eps, groups } = args.attrs as unknown as { eps: number; groups?: number };
    const dims = normDims(xhat.shape, group ? groups! : null);
    const b = args.backend as unknown as WasmBackendLike;
    const c = dims[2]!;
    const outs = [b.makeOutput(xhat.shape, 'float32'), b.makeOutput([c], 'float32'), b.makeOutput([c], 'float32')];
    const v = (t: TensorInfo) => b.typedArrayFromHeap(t);
    lib.normBackward(v(dy), v(xhat), v(gamma), v(variance), v(outs[0]!), v(outs[1]!), v(outs[2]!), dims, eps);
    normCalls++;
    return outs;
  };
}

/** Registers the fused norm kernels (forward and gradient) for wasm, or unregisters the forward ones (off). */
function setNormKernels(lib: Addon, on: boolean): void {
  const kernels: [string, KernelFunc][] = [
    [NORM_KERNELS.groupNormGrad, normGradKernel(lib, true)],
    [NORM_KERNELS.batchNormGrad, normGradKernel(lib, false)],
    [NORM_KERNELS.groupNorm, normForwardKernel(lib, true)],
    [NORM_KERNELS.batchNorm, normForwardKernel(lib, false)],
  ];
  for (const [name, kernelFunc] of kernels) {
    const present = tf.getKernel(name, 'wasm') !== undefined;
    // The gradient kernels stay: a tape recorded with the fused forward still needs them.
    if (on && !present) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    if (!on && present && !name.endsWith('Grad')) tf.unregisterKernel(name, 'wasm');
  }
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
    wrap('Sum', (f) => leadingReduceKernel(lib, f, false)),
    wrap('Mean', (f) => leadingReduceKernel(lib, f, true)),
  ];
  for (const c of configs) {
    if (!c) continue;
    tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
  if (!tf.getKernel(CONV_PER_EXAMPLE, 'wasm')) tf.registerKernel({ kernelName: CONV_PER_EXAMPLE, backendName: 'wasm', kernelFunc: convPerExampleKernel(lib) });
  setConvPerExample(perExampleHook(lib));
  setNormKernels(lib, enabled);
  return (registered = { library: 'oneDNN', version: lib.version(), path: addonPath });
}
