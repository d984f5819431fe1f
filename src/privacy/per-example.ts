/**
 * Per-example gradient norms and clipped gradient sums in one forward and one backward pass, from each
 * layer's input activations a and the gradient g of the summed loss at the layer's output — no loop over
 * examples.
 *
 * Capture: a `CaptureTape` passed to the layers records each layer's input and wraps its output in an
 * identity whose gradient function keeps g. The backward pass is taken with respect to the model's INPUT
 * only, which makes tfjs run the gradient functions along every layer output but skip the (unneeded)
 * parameter gradients of the plain backward pass.
 *
 * Dense layer y = a W + b, per example i (Goodfellow, "Efficient Per-Example Gradient Computations",
 * arXiv:1510.01799, 2015):
 *   ∇W_i = a_iᵀ g_i,  ||∇W_i||² = ||a_i||² · ||g_i||²;   ∇b_i = g_i,  ||∇b_i||² = ||g_i||²
 *   clipped sum with factors c_i:  Σ_i c_i ∇W_i = aᵀ (c ⊙ g),   Σ_i c_i ∇b_i = (c ⊙ g) summed over i
 * Conv and transposed-conv layers follow with the unfolded-activation form (Li et al. 2022; Bu et al.
 * 2023): not yet implemented, and such a layer in a private module is refused rather than mishandled.
 */
import * as tf from '@tensorflow/tfjs';
import { PrivacyAssumptionError } from '../core/errors.js';
import { Dense, type Layer, type Tape } from '../nn/layers.js';

interface Record_ {
  layer: Layer;
  input: tf.Tensor;
  grad: tf.Tensor | null;
}

export class CaptureTape implements Tape {
  readonly records: Record_[] = [];

  record(layer: Layer, input: tf.Tensor, output: tf.Tensor): tf.Tensor {
    if (!(layer instanceof Dense)) {
      throw new PrivacyAssumptionError(`layer ${layer.name}: per-example gradients for ${layer.constructor.name} are not implemented yet; DP-SGD supports Dense layers so far`);
    }
    // A clone (a shared buffer on wasm): the tape may be disposed without touching the caller's tensor.
    const rec: Record_ = { layer, input: tf.keep(input.clone()), grad: null };
    this.records.push(rec);
    const hook = tf.customGrad(((x: tf.Tensor) => {
      return {
        value: tf.clone(x),
        gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
          const d = dy as tf.Tensor;
          rec.grad = tf.keep(d.clone());
          return d;
        },
      };
    }) as never);
    return hook(output);
  }

  dispose(): void {
    for (const r of this.records) tf.dispose([r.input, ...(r.grad ? [r.grad] : [])]);
    this.records.length = 0;
  }
}

export interface PerExampleResult {
  /** Squared norm of each example's full gradient (all captured layers), [B]. */
  squaredNorms: Float32Array;
  /** The loss summed over examples. */
  loss: number;
}

/**
 * Runs `sumLoss(x, tape)` (the loss SUMMED over the batch) forward and backward and returns per-example
 * squared gradient norms. The tape keeps activations and output gradients for `clippedSum`; dispose it.
 */
export function perExampleNorms(x: tf.Tensor, sumLoss: (x: tf.Tensor, tape: Tape) => tf.Scalar, tape: CaptureTape): PerExampleResult {
  const b = x.shape[0]!;
  const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => sumLoss(xi, tape))(x);
  const loss = value.dataSync()[0]!;
  tf.dispose([value, grad]);
  const norms = tf.tidy(() => {
    let acc: tf.Tensor = tf.zeros([b]);
    for (const r of tape.records) {
      const g = r.grad ?? tf.zerosLike(r.layer instanceof Dense ? tf.zeros([b, r.layer.outUnits]) : r.input);
      const a2 = tf.sum(tf.square(r.input), 1);
      const g2 = tf.sum(tf.square(g), 1);
      acc = tf.add(acc, tf.add(tf.mul(a2, g2), g2)); // weight + bias
    }
    return acc.dataSync() as Float32Array;
  });
  return { squaredNorms: norms, loss };
}

/** Σ_i c_i ∇_θ loss_i for every parameter of the captured layers; the caller owns the tensors. */
export function clippedSum(tape: CaptureTape, factors: Float32Array): Map<tf.Variable, tf.Tensor> {
  const out = new Map<tf.Variable, tf.Tensor>();
  const c = tf.tensor2d(factors, [factors.length, 1]);
  try {
    for (const r of tape.records) {
      const layer = r.layer as Dense;
      if (!r.grad) continue;
      const [gw, gb] = tf.tidy(() => {
        const cg = tf.mul(r.grad!, c);
        return [tf.matMul(r.input as tf.Tensor2D, cg as tf.Tensor2D, true, false), tf.sum(cg, 0)];
      });
      out.set(layer.kernel, gw!);
      out.set(layer.bias, gb!);
    }
  } finally {
    c.dispose();
  }
  return out;
}
