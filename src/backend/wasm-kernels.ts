/**
 * Fast convolution gradients for the wasm backend.
 *
 * Why kernels, not custom-gradient ops: tfjs 4.22's wasm backend has no `Conv2DBackpropFilter` kernel,
 * and its `Conv2DBackpropInput` (the gradient of conv2d w.r.t. its input, and the forward pass of
 * conv2dTranspose) is a scalar loop. Registering both kernels for `wasm` fixes every caller at once:
 * `tf.grad`, `tf.layers`, optimizers, and our own models, with no model code that has to remember to call
 * a special op. Both kernels are written as compositions of the backend's own XNNPACK-backed forward
 * `Conv2D` plus cheap data movement (Transpose, Reshape, Slice), so they inherit XNNPACK's
 * SIMD GEMM speed. Only NHWC (`channelsLast`) is supported, as everywhere in medsynth.
 *
 * Notation: x [N, H, W, Ci], filter w [KH, KW, Ci, Co], stride s, output dy [N, OH, OW, Co],
 * padding (top, left) as tfjs computes it (`computeConv2DInfo`), and
 *   y[n, oh, ow, co] = sum_{kh, kw, ci} x[n, oh*s + kh - top, ow*s + kw - left, ci] * w[kh, kw, ci, co].
 *
 * Filter gradient (Conv2DBackpropFilter):
 *   dw[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*s + kh - top, ow*s + kw - left, ci] * dy[n, oh, ow, co]
 * which is a forward conv with the roles swapped: input x' = x^T [Ci, H, W, N] (batch ↔ channels),
 * filter dy' [OH, OW, N, Co], dilation s, stride 1, padding (top, left): output [Ci, KH, KW, Co] → dw.
 *
 * Input gradient (Conv2DBackpropInput), by sub-pixel decomposition (Shi et al., "Real-time single image
 * and video super-resolution using an efficient sub-pixel CNN", CVPR 2016, Sec. 2.2): write
 * u = h + top = q*s + r with phase r in [0, s). Only taps kh = r + j*s reach phase r, at oh = q - j:
 *   dx[n, q*s + r - top, ...] = sum_j sum_co dy[n, q - j, ..., co] * w[r + j*s, ..., ci, co].
 * With J = ceil(K / s), each phase is a stride-1 correlation of dy (padded J-1 before) with the
 * sub-kernel wr[t] = w[r + (J-1-t)*s] (zero where that tap is past K). All s*s phases are stacked as
 * output channels of ONE forward conv (Co → s*s*Ci), interleaved back by a transpose, then cropped.
 * This does exactly the useful multiply-adds, where zero-dilating dy would waste (s^2-1)/s^2 of them.
 */
import * as tf from '@tensorflow/tfjs';
import { backend_util, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';



interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

function call(name: string, backend: WasmBackendLike, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`internal error: wasm kernel ${name} is missing`);
  return k.kernelFunc({ inputs, attrs, backend: backend as never }) as TensorInfo;
}

/** Disposes intermediate results (never the kernel's own inputs). */
function free(backend: WasmBackendLike, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function asPair(v: number | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0]!, v[1]!];
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('medsynth wasm Conv2DBackpropFilter supports NHWC only');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode,
  );
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const [, hIn, wIn] = x.shape as number[];
  // Padding after so that the dilated correlation yields exactly kh x kw outputs; a negative value means
  // rows/cols the forward conv never read ('valid' leftovers): crop the output instead.
  const bottom = kh + (oh - 1) * sh - hIn! - top;
  const right = kw + (ow - 1) * sw - wIn! - left;
  const xT = call('Transpose', b, { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  const dyT = call('Transpose', b, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, Co]
  const conv = call('Conv2D', b, { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
    dimRoundingMode: 'floor',
  } as unknown as NamedAttrMap); // [Ci, KH', KW', Co] with KH' >= KH
  let cropped = conv;
  if (bottom < 0 || right < 0) {
    const [ci, , , co] = conv.shape as number[];
    cropped = call('Slice', b, { x: conv }, { begin: [0, 0, 0, 0], size: [ci!, kh, kw, co!] });
  }
  const dw = call('Transpose', b, { x: cropped }, { perm: [1, 2, 0, 3] }); // [KH, KW, Ci, Co]
  free(b, xT, dyT, conv);
  if (cropped !== conv) free(b, cropped);
  return dw;
};

const conv2dBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackendLike;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('medsynth wasm Conv2DBackpropInput supports NHWC only');
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(inputShape, [kh, kw, ci, co], strides, 1, pad, dimRoundingMode);
  const [sh, sw] = asPair(strides);
  const { top, left } = info.padInfo;
  const [n, hIn, wIn] = inputShape;
  const [, oh, ow] = dy.shape as number[];
  const jh = Math.ceil(kh / sh);
  const jw = Math.ceil(kw / sw);
  // Phases q cover u = h + top in [0, qh*sh): enough rows for h in [0, H).
  const qh = Math.ceil((hIn + top) / sh);
  const qw = Math.ceil((wIn + left) / sw);

  // Combined phase kernel wc[th, tw, co, (rh, rw, ci)] = w[rh + (jh-1-th)*sh, rw + (jw-1-tw)*sw, ci, co].
  // The filter is small (K*K*Ci*Co), so it is rearranged in JS on the wasm heap view.
  const w = b.typedArrayFromHeap(filter);
  const outC = sh * sw * ci;
  const wc = new Float32Array(jh * jw * co * outC);
  for (let th = 0; th < jh; th++) {
    for (let tw = 0; tw < jw; tw++) {
      for (let rh = 0; rh < sh; rh++) {
        const khh = rh + (jh - 1 - th) * sh;
        if (khh >= kh) continue;
        for (let rw = 0; rw < sw; rw++) {
          const kww = rw + (jw - 1 - tw) * sw;
          if (kww >= kw) continue;
          const src = (khh * kw + kww) * ci * co;
          const dstBase = (th * jw + tw) * co * outC + (rh * sw + rw) * ci;
          for (let c = 0; c < ci; c++) {
            for (let o = 0; o < co; o++) wc[dstBase + o * outC + c] = w[src + c * co + o]!;
          }
        }
      }
    }
  }
  const wcInfo = b.makeOutput([jh, jw, co, outC], 'float32', undefined, wc);
  // dy padded by J-1 before and up to qh after (negative: the forward conv's leftover rows; crop).
  const conv = call('Conv2D', b, { x: dy, filter: wcInfo }, {
    strides: [1, 1],
    pad: [[0, 0], [jh - 1, Math.max(0, qh - oh!)], [jw - 1, Math.max(0, qw - ow!)], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: 'floor',
  } as unknown as NamedAttrMap); // [N, >= qh, >= qw, s*s*Ci]
  const phases = call('Slice', b, { x: conv }, { begin: [0, 0, 0, 0], size: [n, qh, qw, outC] });
  // Interleave the phases: [N, qh, qw, (rh, rw, ci)] → [N, qh, rh, qw, (rw, ci)] → [N, qh*sh, qw*sw, ci].
  // A 4-D Transpose on the wasm backend is a fast copy; its DepthToSpace kernel is a scalar loop.
  const r = call('Reshape', b, { x: phases }, { shape: [n * qh, qw, sh, sw * ci] });
  const t = call('Transpose', b, { x: r }, { perm: [0, 2, 1, 3] });
  const spatial = call('Reshape', b, { x: t }, { shape: [n, qh * sh, qw * sw, ci] });
  free(b, r, t);
  const dx = call('Slice', b, { x: spatial }, { begin: [0, top, left, 0], size: [n, hIn, wIn, ci] });
  free(b, wcInfo, conv, phases, spatial);
  return dx;
};

/**
 * BatchMatMul with transposed operands. The wasm kernel is fast (XNNPACK) only for plain a · b; with
 * transposeA/transposeB — which every matMul gradient uses — it was ~12× slower here (64×3136 · 3136×32:
 * 0.5 ms plain, 6.4 ms with a transpose). Transposing the operand first is a cheap copy.
 */
function makeMatMul(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackendLike;
    const { a, b: bb } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs });
    const swapLast = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
      return call('Transpose', b, { x: t }, { perm });
    };
    const aa = transposeA ? swapLast(a) : a;
    const b2 = transposeB ? swapLast(bb) : bb;
    const out = original({ inputs: { a: aa, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as TensorInfo;
    if (aa !== a) free(b, aa);
    if (b2 !== bb) free(b, b2);
    return out;
  };
}

/**
 * Concat along an axis whose inner blocks are short (e.g. joining an image with 4 condition channels).
 * The wasm kernel copies each inner block with `subarray` + `set`, two allocations per block, which is
 * ~10× slower than a plain loop when blocks hold a handful of floats.
 */
const SHORT_BLOCK = 64;
function makeConcat(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const list = (inputs as unknown as TensorInfo[]).filter((t) => t.shape.every((d) => d > 0));
    if (list.length < 2 || list.some((t) => t.dtype !== 'float32')) return original(args);
    const axisRaw = (attrs as unknown as { axis: number | number[] }).axis;
    const rank = list[0]!.shape.length;
    let axis = Array.isArray(axisRaw) ? axisRaw[0]! : axisRaw;
    if (axis < 0) axis += rank;
    const inner = list.map((t) => t.shape.slice(axis).reduce((a, d) => a * d, 1));
    if (Math.max(...inner) > SHORT_BLOCK) return original(args);
    const outer = list[0]!.shape.slice(0, axis).reduce((a, d) => a * d, 1);
    const outShape = [...list[0]!.shape];
    outShape[axis] = list.reduce((a, t) => a + t.shape[axis]!, 0);
    const b = backend as unknown as WasmBackendLike;
    const out = b.makeOutput(outShape, 'float32');
    const dst = b.typedArrayFromHeap(out);
    const total = inner.reduce((a, d) => a + d, 0);
    let offset = 0;
    list.forEach((t, k) => {
      const src = b.typedArrayFromHeap(t);
      const len = inner[k]!;
      for (let o = 0; o < outer; o++) {
        const s0 = o * len;
        const d0 = o * total + offset;
        for (let j = 0; j < len; j++) dst[d0 + j] = src[s0 + j]!;
      }
      offset += len;
    });
    return out;
  };
}

/**
 * A SplitV's axis (made non-negative) and part sizes along it, as tfjs resolves its attributes: a count
 * splits evenly, and one size of -1 takes what the others leave. Sizes are not checked here.
 */
export function splitParts(shape: readonly number[], attrs: unknown): { axis: number; sizes: number[] } {
  const { numOrSizeSplits, axis: axisRaw } = attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
  let axis = Array.isArray(axisRaw) ? axisRaw[0]! : axisRaw;
  if (axis < 0) axis += shape.length;
  const dim = shape[axis]!;
  const sizes = typeof numOrSizeSplits === 'number' ? new Array<number>(numOrSizeSplits).fill(dim / numOrSizeSplits) : [...numOrSizeSplits];
  const minus = sizes.indexOf(-1);
  if (minus >= 0) sizes[minus] = dim - sizes.reduce((a, v, i) => (i === minus ? a : a + v), 0);
  return { axis, sizes };
}

/** SplitV into short inner blocks (the gradient of such a Concat), by the same plain loop. */
function makeSplitV(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return original(args);
    const { axis, sizes } = splitParts(x.shape, attrs);
    const dim = x.shape[axis]!;
    const after = x.shape.slice(axis + 1).reduce((a, d) => a * d, 1);
    const total = dim * after;
    if (total > SHORT_BLOCK || sizes.some((v) => !Number.isInteger(v) || v < 0)) return original(args);
    const outer = x.shape.slice(0, axis).reduce((a, d) => a * d, 1);
    const b = backend as unknown as WasmBackendLike;
    let offset = 0;
    return sizes.map((size) => {
      const shape = [...x.shape];
      shape[axis] = size;
      const out = b.makeOutput(shape, 'float32');
      const len = size * after;
      if (len > 0) {
        const src = b.typedArrayFromHeap(x);
        const dst = b.typedArrayFromHeap(out);
        for (let o = 0; o < outer; o++) {
          const s0 = o * total + offset;
          const d0 = o * len;
          for (let j = 0; j < len; j++) dst[d0 + j] = src[s0 + j]!;
        }
      }
      offset += len;
      return out;
    });
  };
}

/**
 * Identity that shares the input's buffer (reference-counted, as the wasm Reshape already does) instead of
 * copying it. tfjs clones every tensor it saves for the backward pass through Identity, so the copying
 * kernel duplicated ~230 activations per DCGAN step. tfjs tensors are immutable and no wasm kernel writes
 * into its inputs, so sharing is safe.
 */
const identity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/**
 * Cast to the dtype the tensor already has shares the buffer, as Identity above (the wasm kernel copies).
 * tfjs's gradients of Multiply, RealDiv, Square, Sqrt, Abs and moments() cast float32 operands to float32,
 * 55 full-size copies per gan28 step; the cpu backend shares the data in this case too.
 */
function makeCast(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as unknown as { dtype: string };
    if (dtype !== x.dtype || dtype === 'string' || dtype === 'complex64') return original(args);
    return identity(args);
  };
}

export const wasmKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2dBackpropInput },
];

let registered = false;

/** Registers (or replaces) the wasm conv-gradient, matmul, concat, split, identity and cast kernels. Idempotent. */
export function registerWasmKernels(): void {
  if (registered) return;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  const concat = tf.getKernel('Concat', 'wasm');
  const splitV = tf.getKernel('SplitV', 'wasm');
  const ident = tf.getKernel('Identity', 'wasm');
  const cast = tf.getKernel('Cast', 'wasm');
  const kernels = [...wasmKernels];
  if (matMul) {
    // Keep the original's setupFunc: it binds the wasm function the original kernelFunc calls.
    kernels.push({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: makeMatMul(matMul.kernelFunc), setupFunc: matMul.setupFunc });
  }
  if (concat) kernels.push({ kernelName: 'Concat', backendName: 'wasm', kernelFunc: makeConcat(concat.kernelFunc), setupFunc: concat.setupFunc });
  if (ident) {
    const original = ident.kernelFunc;
    kernels.push({
      kernelName: 'Identity',
      backendName: 'wasm',
      kernelFunc: (args) => ((args.inputs as { x: TensorInfo }).x.dtype === 'string' ? original(args) : identity(args)),
      setupFunc: ident.setupFunc,
    });
  }
  if (cast) kernels.push({ kernelName: 'Cast', backendName: 'wasm', kernelFunc: makeCast(cast.kernelFunc), setupFunc: cast.setupFunc });
  if (splitV) kernels.push({ kernelName: 'SplitV', backendName: 'wasm', kernelFunc: makeSplitV(splitV.kernelFunc), setupFunc: splitV.setupFunc });
  for (const k of kernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(k);
  }
  registered = true;
}
