/**
 * Hooks through which an optional accelerator offers an operation to code that may not import it: the
 * native oneDNN addon (src/backend/native.ts) registers here, src/privacy calls here (ARCHITECTURE.md:
 * privacy may import core, not backend). A hook that is absent, or returns null (other backend, shape it
 * does not handle, native kernels turned off), leaves the caller on its own path. Types only from tfjs.
 */
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/**
 * Per-example weight gradients of a conv layer from its input x [B, H, W, Cin] and the gradient dy
 * [B, OH, OW, Cout] of the summed loss at its output (the weight gradient of the batch, one example at a
 * time): squaredNorms[i] = ||∇W_i||², and with `grads: true` also the gradients, row i of grads [B, D]
 * holding ∇W_i with its filter entry (kh, kw, ci, co) (flattened in that order) at column index[entry],
 * any other column zero. A transposed conv is the same call with the roles swapped (x = its output
 * gradient, dy = its input, filter [k, k, Cout, Cin]).
 */
export type ConvPerExampleFn = (
  x: Tensor4D,
  dy: Tensor4D,
  spec: { filterShape: [number, number, number, number]; stride: number; padding: 'same' | 'valid'; grads: boolean },
) => { squaredNorms: Tensor1D; grads: Tensor2D | null; index: Int32Array } | null;

let convPerExample: ConvPerExampleFn | null = null;

/** Installs (or, with null, removes) the accelerator's per-example conv gradients. */
export function setConvPerExample(fn: ConvPerExampleFn | null): void {
  convPerExample = fn;
}

/** The installed per-example conv gradients, or null (then every call site keeps its own path). */
export function getConvPerExample(): ConvPerExampleFn | null {
  return convPerExample;
}

/**
 * The ziggurat loop of src/core/gaussian.ts fillNormal, run by an accelerator: fills `out` from the seeded
 * xoshiro128** `state` with the given tables (passed in so that every constant is JavaScript's double), the
 * same float32 samples as the JavaScript loop. Returns false when it declines (turned off), and the caller
 * runs its own loop.
 */
export type NormalFillFn = (
  out: Float32Array,
  state: readonly number[],
  tables: { w: Float64Array; bound: Float64Array; scale: Float64Array; fe: Float64Array; r: number },
  sd: number,
) => boolean;

let normalFill: NormalFillFn | null = null;

/** Installs (or, with null, removes) the accelerator's Gaussian fill. */
export function setNormalFill(fn: NormalFillFn | null): void {
  normalFill = fn;
}

/** The installed Gaussian fill, or null. */
export function getNormalFill(): NormalFillFn | null {
  return normalFill;
}
