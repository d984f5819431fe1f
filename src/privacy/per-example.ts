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
 * Conv2d (k×k, stride s, padding p), per example (unfolded activations: Li et al., "Large Language
 * Models Can Be Strong Differentially Private Learners", ICLR 2022, App. on conv; Bu et al. 2023):
 *   U_i = unfold(a_i) ∈ R^{P × k²Cin} (one row per output position), G_i ∈ R^{P × Cout}
 *   ∇W_i = U_iᵀ G_i (reshaped to [k, k, Cin, Cout]),  ∇b_i = Σ_p G_i[p]
 * ConvTranspose2d y = convTᵀ(x, W) is the input-gradient of a conv from y-space, so the roles swap:
 *   U_i = unfold(g_i) in y-space (same k, s, p; one row per x position), ∇W_i = U_iᵀ x_i ([k, k, Cout, Cin])
 * unfold is a forward conv with a fixed one-hot filter, so it runs on the fast conv kernels.
 * Other layers (GroupNorm, ...) are refused for now rather than miscounted.
 */
import * as tf from '@tensorflow/tfjs';
import { PrivacyAssumptionError } from '../core/errors.js';
import { Conv2d, ConvTranspose2d, Dense, type Layer, type Tape } from '../nn/layers.js';

interface Record_ {
  layer: Layer;
  input: tf.Tensor;
  grad: tf.Tensor | null;
}

export class CaptureTape implements Tape {
  readonly records: Record_[] = [];

  record(layer: Layer, input: tf.Tensor, output: tf.Tensor): tf.Tensor {
    if (!(layer instanceof Dense || layer instanceof Conv2d || layer instanceof ConvTranspose2d)) {
      throw new PrivacyAssumptionError(`layer ${layer.name}: per-example gradients for ${layer.constructor.name} are not implemented yet; DP-SGD supports Dense, Conv2d and ConvTranspose2d layers so far`);
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
/** One-hot filter [k, k, c, k·k·c] whose conv extracts k×k patches (channel order kh, kw, c). */
function unfoldFilter(k: number, c: number): tf.Tensor4D {
  const f = new Float32Array(k * k * c * k * k * c);
  for (let kh = 0; kh < k; kh++) {
    for (let kw = 0; kw < k; kw++) {
      for (let ch = 0; ch < c; ch++) {
        const outCh = (kh * k + kw) * c + ch;
        f[((kh * k + kw) * c + ch) * (k * k * c) + outCh] = 1;
      }
    }
  }
  return tf.tensor4d(f, [k, k, c, k * k * c]);
}

/** Per-example gradients of one recorded layer: [B, ...weightShape] and [B, ...biasShape]. Caller owns them. */
function perExampleGrads(r: Record_, b: number): { w: tf.Tensor; bias: tf.Tensor } {
  return tf.tidy(() => {
    const layer = r.layer;
    const g = r.grad!;
    if (layer instanceof Dense) {
      // [B, in, 1] x [B, 1, out]
      const w = tf.matMul(tf.reshape(r.input, [b, -1, 1]) as tf.Tensor3D, tf.reshape(g, [b, 1, -1]) as tf.Tensor3D);
      return { w, bias: g.clone() };
    }
    if (layer instanceof Conv2d) {
      const k = layer.kernelSize;
      const u = tf.conv2d(r.input as tf.Tensor4D, unfoldFilter(k, layer.inChannels), layer.stride, layer.padding); // [B, OH, OW, k²Cin]
      const uu = tf.reshape(u, [b, -1, k * k * layer.inChannels]) as tf.Tensor3D;
      const gg = tf.reshape(g, [b, -1, layer.outChannels]) as tf.Tensor3D;
      return { w: tf.matMul(uu, gg, true, false), bias: tf.sum(gg, 1) }; // [B, k²Cin, Cout], [B, Cout]
    }
    const t = layer as ConvTranspose2d;
    const k = t.kernelSize;
    const u = tf.conv2d(g as tf.Tensor4D, unfoldFilter(k, t.outChannels), t.stride, t.padding); // [B, H, W, k²Cout]
    const uu = tf.reshape(u, [b, -1, k * k * t.outChannels]) as tf.Tensor3D;
    const xx = tf.reshape(r.input, [b, -1, t.inChannels]) as tf.Tensor3D;
    return { w: tf.matMul(uu, xx, true, false), bias: tf.sum(tf.reshape(g, [b, -1, t.outChannels]), 1) };
  });
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
      if (!r.grad) continue;
      if (r.layer instanceof Dense) {
        // Goodfellow's shortcut: no need to materialise a_i g_iᵀ.
        const a2 = tf.sum(tf.square(r.input), 1);
        const g2 = tf.sum(tf.square(r.grad), 1);
        acc = tf.add(acc, tf.add(tf.mul(a2, g2), g2)); // weight + bias
      } else {
        const { w, bias } = perExampleGrads(r, b);
        acc = tf.add(acc, tf.add(tf.sum(tf.reshape(tf.square(w), [b, -1]), 1), tf.sum(tf.square(bias), 1)));
      }
    }
    return acc.dataSync() as Float32Array;
  });
  return { squaredNorms: norms, loss };
}

/** Σ_i c_i ∇_θ loss_i for every parameter of the captured layers; the caller owns the tensors. */
export function clippedSum(tape: CaptureTape, factors: Float32Array): Map<tf.Variable, tf.Tensor> {
  const out = new Map<tf.Variable, tf.Tensor>();
  const b = factors.length;
  for (const r of tape.records) {
    if (!r.grad) continue;
    const layer = r.layer as Dense | Conv2d | ConvTranspose2d;
    const [gw, gb] = tf.tidy(() => {
      const c = tf.tensor1d(factors);
      if (layer instanceof Dense) {
        const cg = tf.mul(r.grad!, tf.reshape(c, [b, 1]));
        return [tf.matMul(r.input as tf.Tensor2D, cg as tf.Tensor2D, true, false), tf.sum(cg, 0)];
      }
      const { w, bias } = perExampleGrads(r, b);
      const cw = tf.sum(tf.mul(w, tf.reshape(c, [b, 1, 1])), 0);
      const cb = tf.sum(tf.mul(bias, tf.reshape(c, [b, 1])), 0);
      return [tf.reshape(cw, layer.kernel.shape), cb];
    });
    out.set(layer.kernel, gw!);
    out.set(layer.bias, gb!);
  }
  return out;
}
