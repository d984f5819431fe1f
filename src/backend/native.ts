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
 * Element-wise float32 kernels on both cores (plain C++, a calling thread plus helpers, above a measured
 * size, NATIVE_MIN): Add, Sub, Multiply, RealDiv for same shapes, a scalar, or a row broadcast along the
 * last axis; LeakyRelu and Relu; Concat and SplitV along any axis; and `MedsynthLeakyReluGrad`,
 * dx = dy · step(x, alpha) in one pass, which src/backend/gradients.ts uses for the LeakyRelu and Relu
 * gradients. Their results are the cpu backend's bits (one IEEE float32 operation per element), for any
 * thread count.
 *
 * And fused normalisation kernels (wasm only, no wasm counterpart): `MedsynthGroupNorm`,
 * `MedsynthBatchNorm` (training forward: y, x̂ and the statistics in three passes) and their `...Grad`
 * backward kernels (dx, dγ, dβ in two passes), which src/nn/layers.ts calls by name when they are
 * registered, in place of ~45 composed element-wise kernels per layer and step.
 *
 * And src/core/gaussian.ts's seeded ziggurat loop (the DP-SGD noise), the same samples at about a quarter
 * of the JavaScript loop's time, offered through the hook in src/core/accelerators.ts.
 *
 * The addon's file is found by src/core/native-addon.ts, which datasets/image/libjpeg.ts uses too: when
 * built where libjpeg-turbo's headers are, the addon also exports `decodeJpeg` (native/medsynth_jpeg.cc),
 * the image loader's JPEG decoder, which this module does not use.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import { setConvPerExample, setNormalFill, type ConvPerExampleFn, type NormalFillFn } from '../core/accelerators.js';
import { nativeAddonPath, preferPassiveOpenMp } from '../core/native-addon.js';
import { splitParts } from './wasm-kernels.js';

interface Addon {
  conv(kind: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, dims: number[]): void;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, dims: number[]): void;
  sumLeading(x: Float32Array, out: Float32Array, dims: number[]): void;
  convPerExample(x: Float32Array, dy: Float32Array, out: Float32Array | null, dims: number[], norms: Float32Array | null): void;
  convPerExampleLayout(dims: number[]): { size: number; index: Int32Array };
  normForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, xhat: Float32Array, mean: Float32Array, variance: Float32Array, dims: number[], eps: number): void;
  normBackward(dy: Float32Array, xhat: Float32Array, gamma: Float32Array, variance: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dims: number[], eps: number): void;
  version(): string;
  binary(op: 0 | 1 | 2 | 3, a: Float32Array, b: Float32Array, out: Float32Array, dims: number[]): void;
  unary(kind: 0 | 1, x: Float32Array, out: Float32Array, n: number, alpha: number): void;
  stepGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number, alpha: number): void;
  concat(parts: Float32Array[], whole: Float32Array, dims: number[], split: boolean): void;
  elementwiseThreads(): number;
  fillNormal(out: Float32Array, state: readonly number[], w: Float64Array, bound: Float64Array, scale: Float64Array, fe: Float64Array, r: number, sd: number): void;
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
  const path = nativeAddonPath(env);
  if (path !== null) {
    preferPassiveOpenMp(env);
    addon = createRequire(import.meta.url)(path) as Addon;
    addonPath = path;
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

let matMulCalls = 0;

/** How many BatchMatMul kernels the addon has run in this process (a diagnostic; the tests read it). */
export function nativeMatMulCalls(): number {
  return matMulCalls;
}

function matMulKernel(lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b: bb } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    // tf.matMul hands 2-D operands to this kernel as they are (every Dense layer): a batch of one.
    const rank = a.shape.length;
    if (!enabled || a.dtype !== 'float32' || bb.dtype !== 'float32' || rank < 2 || rank > 3 || bb.shape.length !== rank) return fallback(args);
    const [ba, a1, a2] = (rank === 2 ? [1, ...a.shape] : a.shape) as [number, number, number];
    const [bb0, b1, b2] = (rank === 2 ? [1, ...bb.shape] : bb.shape) as [number, number, number];
    if (ba !== bb0 && ba !== 1 && bb0 !== 1) return fallback(args);
    const [m, k] = transposeA ? [a2, a1] : [a1, a2];
    const n = transposeB ? b1 : b2;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(rank === 2 ? [m, n] : [Math.max(ba, bb0), m, n], 'float32');
    lib.matmul(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(bb), backend.typedArrayFromHeap(out), [
      ba, bb0, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0,
    ]);
    matMulCalls++;
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

// ---- Element-wise kernels (native/medsynth_dnnl.cc, "Element-wise float32 kernels") ----------------

/**
 * Below these many output elements the wasm kernels are as quick as a call into the addon (measured on
 * 2 cores, eval/results/throughput.md 2026-12-05): an N-API call and waking the helper thread cost a few
 * microseconds. wasm's Add/Sub/Multiply/RealDiv (XNNPACK) and Relu (a clamp) are SIMD loops already, and
 * over a few hundred thousand elements memory bandwidth bounds both, so the addon wins only by its second
 * core, when that core is free (Relu: 10 % slower up to 262K elements when it was not). wasm's LeakyRelu is
 * a scalar loop (the addon: 2× faster at 2048 elements, 10× at 800K), the composed gradient two kernels
 * (step, multiply: the addon 1.6–2×), and Concat's short-block path (src/backend/wasm-kernels.ts) a
 * JavaScript loop (the addon 2.5–3×). A row broadcast along the last axis (a bias add) is not an XNNPACK
 * loop on wasm but tfjs's generic broadcast: the addon is 2–4× faster from 4096 elements ([32, 128] + [128]:
 * 13 → 3.5 µs; measured 2026-12-05, load ~1.8).
 */
export const NATIVE_MIN = {
  binary: 32768,
  binaryRow: 4096,
  relu: 524288,
  leakyRelu: 2048,
  concat: 16384,
} as const;

/** The gradient kernel of LeakyReLU and ReLU: inputs {dy, x}, attrs {alpha}; dx = dy · step(x, alpha). */
export const LEAKY_RELU_GRAD = 'MedsynthLeakyReluGrad';

const elementwiseCalls = new Map<string, number>();

/** How many times the addon ran the element-wise kernel `name` (a diagnostic; the tests read it). */
export function nativeElementwiseCalls(name: string): number {
  return elementwiseCalls.get(name) ?? 0;
}

function counted(name: string): void {
  elementwiseCalls.set(name, (elementwiseCalls.get(name) ?? 0) + 1);
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * How an operand of a binary op with output [..., C] of n elements is read: 0 one value per output
 * element (same shape, up to leading 1s), 1 a scalar, 2 a [C] (or [1, ..., 1, C]) row broadcast along
 * the last axis; -1 any other broadcast, which stays on wasm.
 */
function operandKind(shape: readonly number[], n: number, cols: number): 0 | 1 | 2 | -1 {
  const size = sizeOf(shape);
  if (size === n) return 0;
  if (size === 1) return 1;
  if (size === cols && shape[shape.length - 1] === cols) return 2;
  return -1;
}

/**
 * Add, Sub, Multiply, RealDiv of float32 tensors, same shape or one operand a scalar or a last-axis row:
 * out = a op b, one float32 operation per element, the same bits as the cpu backend.
 */
function binaryKernel(op: 0 | 1 | 2 | 3, name: string, lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (!enabled || a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = sizeOf(shape);
    const cols = shape[shape.length - 1]!;
    const ka = operandKind(a.shape, n, cols);
    const kb = operandKind(b.shape, n, cols);
    if (ka < 0 || kb < 0 || n < (ka === 2 || kb === 2 ? NATIVE_MIN.binaryRow : NATIVE_MIN.binary)) return fallback(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(shape, 'float32');
    lib.binary(op, backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), backend.typedArrayFromHeap(out), [n, cols, ka, kb]);
    counted(name);
    return out;
  };
}

/** LeakyRelu (kind 0) and Relu (kind 1) forward, as the cpu backend computes them. */
function unaryKernel(kind: 0 | 1, name: string, lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const n = sizeOf(x.shape);
    if (!enabled || x.dtype !== 'float32' || n < (kind === 0 ? NATIVE_MIN.leakyRelu : NATIVE_MIN.relu)) return fallback(args);
    const alpha = kind === 0 ? (args.attrs as unknown as { alpha: number }).alpha : 0;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput([...x.shape], 'float32');
    lib.unary(kind, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), n, alpha);
    counted(name);
    return out;
  };
}

/**
 * dx = dy · step(x, alpha) in one pass (src/backend/gradients.ts calls it for LeakyRelu and Relu where it is
 * registered). Small or non-float32 tensors take the same formula in JavaScript on the heap views: a
 * product of two float32 values rounded once to float32 either way, so the bits do not depend on the path.
 * With the native kernels turned off, it is the wasm Step and Multiply kernels, as without the addon.
 */
function stepGradKernel(lib: Addon): KernelFunc {
  return (args) => {
    const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
    const { alpha } = args.attrs as unknown as { alpha: number };
    const n = sizeOf(x.shape);
    if (sizeOf(dy.shape) !== n) throw new Error(`internal error: ${LEAKY_RELU_GRAD} given dy ${dy.shape} for x ${x.shape}`);
    const backend = args.backend as unknown as WasmBackendLike & {
      typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
      disposeData(dataId: object): boolean;
    };
    if (!enabled) {
      const step = tf.getKernel('Step', 'wasm')!.kernelFunc({ inputs: { x }, attrs: { alpha }, backend: args.backend }) as TensorInfo;
      const out = tf.getKernel('Multiply', 'wasm')!.kernelFunc({ inputs: { a: dy, b: step }, attrs: {}, backend: args.backend }) as TensorInfo;
      backend.disposeData(step.dataId);
      return out;
    }
    const out = backend.makeOutput([...x.shape], 'float32');
    const o = backend.typedArrayFromHeap(out);
    const dv = backend.typedArrayFromHeap(dy);
    const xv = backend.typedArrayFromHeap(x);
    if (n >= NATIVE_MIN.leakyRelu && dy.dtype === 'float32' && x.dtype === 'float32') {
      lib.stepGrad(dv, xv, o, n, alpha);
      counted(LEAKY_RELU_GRAD);
      return out;
    }
    const a = Math.fround(alpha);
    for (let i = 0; i < n; i++) {
      const xi = xv[i]!;
      o[i] = dv[i]! * (Number.isNaN(xi) ? NaN : xi > 0 ? 1 : a);
    }
    return out;
  };
}

/** Axis and inner block sizes of a Concat (inputs) or SplitV (outputs), each part seen as [outer, inner]. */
function blocks(shapes: readonly (readonly number[])[], axis: number): { outer: number; inner: number[] } {
  return { outer: sizeOf(shapes[0]!.slice(0, axis)), inner: shapes.map((s) => sizeOf(s.slice(axis))) };
}

/** Concat of float32 tensors along any axis: rows of [outer, Σ inner] filled from each input's [outer, inner]. */
function concatKernel(lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const list = args.inputs as unknown as TensorInfo[];
    const rank = list[0]!.shape.length;
    const axisRaw = (args.attrs as unknown as { axis: number | number[] }).axis;
    let axis = Array.isArray(axisRaw) ? axisRaw[0]! : axisRaw;
    if (axis < 0) axis += rank;
    const shape = [...list[0]!.shape];
    shape[axis] = list.reduce((a, t) => a + t.shape[axis]!, 0);
    const fits = list.length >= 2 && list.every((t) => t.dtype === 'float32' && sizeOf(t.shape) > 0 && t.shape.length === rank && t.shape.every((d, i) => i === axis || d === shape[i]));
    if (!enabled || !fits || sizeOf(shape) < NATIVE_MIN.concat) return fallback(args);
    const { outer, inner } = blocks(list.map((t) => t.shape), axis);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(shape, 'float32');
    lib.concat(list.map((t) => backend.typedArrayFromHeap(t)), backend.typedArrayFromHeap(out), [outer, ...inner], false);
    counted('Concat');
    return out;
  };
}

/** SplitV of a float32 tensor (the gradient of Concat): the inverse copy. */
function splitKernel(lib: Addon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, sizes } = splitParts(x.shape, args.attrs);
    const dim = x.shape[axis]!;
    const valid = sizes.every((v) => Number.isInteger(v) && v > 0) && sizes.reduce((a, v) => a + v, 0) === dim;
    if (!enabled || x.dtype !== 'float32' || !valid || sizes.length < 2 || sizeOf(x.shape) < NATIVE_MIN.concat) return fallback(args);
    const shapes = sizes.map((v) => x.shape.map((d, i) => (i === axis ? v : d)));
    const { outer, inner } = blocks(shapes, axis);
    const backend = args.backend as unknown as WasmBackendLike;
    const outs = shapes.map((s) => backend.makeOutput(s, 'float32'));
    // Views after all allocations (a heap growth detaches older ones).
    lib.concat(outs.map((t) => backend.typedArrayFromHeap(t)), backend.typedArrayFromHeap(x), [outer, ...inner], true);
    counted('SplitV');
    return outs;
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

let fillCalls = 0;

/** How many Gaussian fills the addon has run in this process (a diagnostic; the tests read it). */
export function nativeFillNormalCalls(): number {
  return fillCalls;
}

/** src/core/gaussian.ts's ziggurat loop in the addon (the same samples), offered through the hook. */
function normalFill(lib: Addon): NormalFillFn {
  return (out, state, t, sd) => {
    if (!enabled) return false;
    lib.fillNormal(out, state, t.w, t.bound, t.scale, t.fe, t.r, sd);
    fillCalls++;
    return true;
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
    wrap('Sum', (f) => leadingReduceKernel(lib, f, false)),
    wrap('Mean', (f) => leadingReduceKernel(lib, f, true)),
    wrap('Add', (f) => binaryKernel(0, 'Add', lib, f)),
    wrap('Sub', (f) => binaryKernel(1, 'Sub', lib, f)),
    wrap('Multiply', (f) => binaryKernel(2, 'Multiply', lib, f)),
    wrap('RealDiv', (f) => binaryKernel(3, 'RealDiv', lib, f)),
    wrap('LeakyRelu', (f) => unaryKernel(0, 'LeakyRelu', lib, f)),
    wrap('Relu', (f) => unaryKernel(1, 'Relu', lib, f)),
    wrap('Concat', (f) => concatKernel(lib, f)),
    wrap('SplitV', (f) => splitKernel(lib, f)),
  ];
  for (const c of configs) {
    if (!c) continue;
    tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
  if (!tf.getKernel(LEAKY_RELU_GRAD, 'wasm')) tf.registerKernel({ kernelName: LEAKY_RELU_GRAD, backendName: 'wasm', kernelFunc: stepGradKernel(lib) });
  if (!tf.getKernel(CONV_PER_EXAMPLE, 'wasm')) tf.registerKernel({ kernelName: CONV_PER_EXAMPLE, backendName: 'wasm', kernelFunc: convPerExampleKernel(lib) });
  setConvPerExample(perExampleHook(lib));
  setNormKernels(lib, enabled);
  setNormalFill(normalFill(lib));
  return (registered = { library: 'oneDNN', version: lib.version(), path: addonPath });
}
