/**
 * Per-unit gradient norms and clipped gradient sums in one forward and one backward pass, from each
 * layer's input activations a and the gradient g of the summed loss at the layer's output — no loop over
 * examples. A unit is an image, or every image of one patient (`unitOf`); a unit's gradient is the SUM of
 * its images' gradients, and that sum is what gets clipped.
 *
 * Capture: a `CaptureTape` passed to the layers records each layer's input and wraps its output in an
 * identity whose gradient function keeps g. The backward pass is taken with respect to the model's INPUT
 * only, which makes tfjs run the gradient functions along every layer output but skip the (unneeded)
 * parameter gradients of the plain backward pass.
 *
 * Dense layer y = a W + b, per example i (Goodfellow, "Efficient Per-Example Gradient Computations",
 * arXiv:1510.01799, 2015):
 *   ∇W_i = a_iᵀ g_i,  ||∇W_i||² = ||a_i||² · ||g_i||²;   ∇b_i = g_i,  ||∇b_i||² = ||g_i||²
 *   per unit u (the Gram form of the same identity, "ghost norm": Li et al. 2022, Sec. 4):
 *   ||Σ_{i∈u} ∇(W,b)_i||² = Σ_{i,j∈u} (a_i·a_j + 1)(g_i·g_j)
 * Conv2d (k×k, stride s, padding p), per example (unfolded activations: Li et al., "Large Language
 * Models Can Be Strong Differentially Private Learners", ICLR 2022, App. on conv; Bu et al. 2023):
 *   U_i = unfold(a_i) ∈ R^{P × k²Cin} (one row per output position), G_i ∈ R^{P × Cout}
 *   ∇W_i = U_iᵀ G_i (reshaped to [k, k, Cin, Cout]),  ∇b_i = Σ_p G_i[p]
 * ConvTranspose2d y = convTᵀ(x, W) is the input-gradient of a conv from y-space, so the roles swap:
 *   U_i = unfold(g_i) in y-space (same k, s, p; one row per x position), ∇W_i = U_iᵀ x_i ([k, k, Cout, Cin])
 * GroupNorm y = γ·x̂ + β (x̂ computed per example, so examples stay independent; Wu & He 2018):
 *   ∇γ_i = Σ_{h,w} g_i ⊙ x̂_i,  ∇β_i = Σ_{h,w} g_i
 *
 * Conv without patch copies ("shift form", when s divides k; A = k/s): split each tap kh = a·s + r
 * (a < A, r < s). Space-to-depth of the padded input gives T_i ∈ R^{Q × s²Cin}, one row per coarse
 * position q of a (OH+A−1) × (OW+A−1) grid; shifting G_i by each coarse offset δ = (a, a') (zeros
 * outside) and stacking the A² shifts as columns gives Gs_i ∈ R^{Q × A²Cout}. Then
 *   T_iᵀ Gs_i = ∇W_i with its entries permuted,  so  ||∇W_i||² = ||T_iᵀ Gs_i||²_F
 *            = Σ_{q,q'} (T_i T_iᵀ)[q,q'] · (Gs_i Gs_iᵀ)[q,q']        (ghost norm on the coarse grid)
 * (the Gram identity Σ_{p,p'} (U_i U_iᵀ)(G_i G_iᵀ) of Li et al. 2022 / Bu et al. 2023, with the sum over
 * the A² offsets moved onto G). It needs pads, a transpose and batched matmuls, and writes A²× the size
 * of G; the unfold (U_i, G_i) writes k²/s²× the size of the input, as ONE depthwise conv with a one-hot
 * filter (k² strided slices, the first implementation, cost ~10× more on wasm). Per layer, the form that
 * writes fewer floats (the unfold's counted twice: its depthwise conv does k² multiply-adds per float),
 * the unfold when s does not divide k. Then ghost or materialised per layer ("mixed ghost clipping": Bu,
 * Mao & Xu, "Scalable and Efficient Training of Large Convolutional Neural Networks with Differential
 * Privacy", NeurIPS 2022): the ghost form when its multiply-adds R²(K + N) are fewer than the materialised
 * R·K·N (R rows, K and N columns of the two factors), i.e. for small feature maps with many channels.
 * With units (patients) the per-example gradients are materialised ([B, D]) and summed per unit by a
 * [units, B] membership matrix before taking norms.
 *
 * Native per-example conv gradients (when an accelerator offers them: src/core/accelerators.ts, on the
 * oneDNN addon): ∇W_i = the backward-weights convolution of (a_i, g_i) alone, i.e. the same U_iᵀ G_i
 * computed one example at a time (Goodfellow 2015's per-example gradient, no unfolding), and
 * ||∇W_i||² summed in the same native call while ∇W_i is in cache; nothing is materialised (a batch-1
 * conv per example writes k²·Cin·Cout floats to a per-thread block), so clippedSum takes the
 * backward-filter convolution of c ⊙ g for these layers. Measured on cvae28, cvae64 and gan28's D
 * (eval/results/dp.md, 2026-12-05; interleaved with the factor forms) it took less time for the whole
 * model's norms + clipped sum, and no layer shape there was clearly slower on it (cvae64's 8×8-map
 * layers, where the ghost form applies, were within the noise), so it replaces the factor forms whenever
 * it is offered; with units it also supplies the materialised gradients.
 *
 * Clipped sum with per-image factors c_i (c_i = the clip factor of image i's unit):
 *   Σ_i c_i ∇θ_i = the ordinary batch gradient of the layer with g replaced by c ⊙ g
 * (a backward-filter convolution on the fast kernels; no per-example tensors), except for conv layers
 * whose per-example gradients were materialised for their norms: those are weighted and summed directly,
 * which saves the backward-filter convolution (the layerwise mix of book-keeping and materialisation in
 * Bu, Wang, Zha & Karypis, "Differentially Private Optimization on Large Model at Small Cost", ICML 2023).
 */
import * as tf from '@tensorflow/tfjs';
import { getConvPerExample } from '../core/accelerators.js';
import { PrivacyAssumptionError } from '../core/errors.js';
import { Conv2d, ConvTranspose2d, Dense, GroupNorm, type Layer, type Tape } from '../nn/layers.js';

type Supported = Dense | Conv2d | ConvTranspose2d | GroupNorm;

interface Record_ {
  layer: Supported;
  input: tf.Tensor;
  grad: tf.Tensor | null;
  /**
   * Conv layers whose per-example weight gradients were materialised: m [B, ...], row i holding ∇W_i in
   * some entry order (convFactors' [K, N], or the native kernel's blocked layout), and where each
   * [k, k, Cin, Cout] filter entry sits in a row flattened; clippedSum then weights them instead of
   * running a backward-filter convolution.
   */
  perExample?: { m: tf.Tensor; index: Int32Array };
  /** Conv layers: the output gradient summed over positions per example (∇b_i), [B, Cout], when computed. */
  gradSums?: tf.Tensor2D;
}

export class CaptureTape implements Tape {
  readonly records: Record_[] = [];

  record(layer: Layer, input: tf.Tensor, output: tf.Tensor): tf.Tensor {
    if (!(layer instanceof Dense || layer instanceof Conv2d || layer instanceof ConvTranspose2d || layer instanceof GroupNorm)) {
      throw new PrivacyAssumptionError(
        `layer ${layer.name}: per-example gradients for ${layer.constructor.name} are not implemented; DP-SGD supports Dense, Conv2d, ConvTranspose2d and GroupNorm layers`,
      );
    }
    if (this.records.some((r) => r.layer === layer)) {
      throw new Error(`internal error: layer ${layer.name} recorded twice on one tape; per-example norms need one use per forward pass`);
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

  /** The trainable variables of the recorded layers that received a gradient. */
  covered(): Set<tf.Variable> {
    const s = new Set<tf.Variable>();
    for (const r of this.records) if (r.grad) for (const p of r.layer.params) s.add(p);
    return s;
  }

  dispose(): void {
    for (const r of this.records) tf.dispose([r.input, ...(r.grad ? [r.grad] : []), ...(r.perExample ? [r.perExample.m] : []), ...(r.gradSums ? [r.gradSums] : [])]);
    this.records.length = 0;
  }
}

/** Which unit each image of the batch belongs to (0..units−1). Absent: every image is its own unit. */
export interface UnitGrouping {
  unitOf: Int32Array;
  units: number;
}

export interface PerExampleResult {
  /** Squared norm of each unit's full gradient (all captured layers), [units]. */
  squaredNorms: Float32Array;
  /** The loss summed over examples. */
  loss: number;
}

/**
 * x_i · y_i for each row of x and y viewed as [B, D], [B]: one batched matmul (the native kernel when
 * built). A Square + Sum pair writes and re-reads the tensor on one wasm thread, and tfjs's Sum over
 * non-inner axes transposes first.
 */
function rowDots(x: tf.Tensor, y: tf.Tensor = x): tf.Tensor1D {
  const b = x.shape[0]!;
  const xf = tf.reshape(x, [b, 1, -1]) as tf.Tensor3D;
  const yf = y === x ? xf : (tf.reshape(y, [b, 1, -1]) as tf.Tensor3D);
  return tf.reshape(tf.matMul(xf, yf, false, true), [b]);
}

/** Sum over the middle axes of t [B, ..., C] → [B, C], as a batched matmul with a row of ones. */
function sumPositions(t: tf.Tensor): tf.Tensor2D {
  const b = t.shape[0]!;
  const c = t.shape[t.shape.length - 1]!;
  const p = t.size / (b * c);
  return tf.reshape(tf.matMul(tf.ones([1, 1, p]), tf.reshape(t, [b, p, c]) as tf.Tensor3D), [b, c]);
}

/**
 * Sum over all but the last axis of t [B, ..., C] → [C]: per example first (sumPositions), then over B.
 * (One [1, B·P] × [B·P, C] matmul instead is ~10× slower on the native kernel.)
 */
function sumLeading(t: tf.Tensor): tf.Tensor1D {
  return tf.sum(sumPositions(t), 0) as tf.Tensor1D;
}

/** TF 'same' padding before/after along one axis. */
function samePads(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * k×k patches of x at stride s: [B, OH, OW, C·k·k], channel order (c, kh, kw). One depthwise convolution
 * with a one-hot [k, k, C, k²] filter (each output channel copies one tap; exact in float, as every sum
 * has a single non-zero term): a single kernel, where k² strided slices cost ~10× more on wasm.
 */
export function unfold(x: tf.Tensor4D, k: number, s: number, padding: 'same' | 'valid'): tf.Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const f = new Float32Array(k * k * c * k * k);
    for (let kh = 0; kh < k; kh++) {
      for (let kw = 0; kw < k; kw++) {
        const tap = kh * k + kw;
        for (let ch = 0; ch < c; ch++) f[(tap * c + ch) * k * k + tap] = 1;
      }
    }
    return tf.depthwiseConv2d(x, tf.tensor4d(f, [k, k, c, k * k]), s, padding);
  });
}

/**
 * The shift form of a k×k, stride-s patch extraction (see the header): `a` [B, H, W, C] is the tensor
 * whose patches are taken, `g` [B, OH, OW, N0] the tensor per output position. Returns
 * l [B, Q, s²C] and r [B, Q, A²N0] with Q = (OH+A−1)(OW+A−1), so that l_iᵀ r_i holds the entries of
 * Σ_p patch_i[p]ᵀ g_i[p]. Needs s | k. Caller owns the tensors.
 */
function shiftForm(a: tf.Tensor4D, g: tf.Tensor4D, k: number, s: number, padding: 'same' | 'valid'): { l: tf.Tensor3D; r: tf.Tensor3D } {
  return tf.tidy(() => {
    const [b, h, w, c] = a.shape;
    const [, oh, ow, n0] = g.shape;
    const na = k / s;
    const hq = oh + na - 1;
    const wq = ow + na - 1;
    const top = padding === 'same' ? samePads(h, k, s)[0] : 0;
    const left = padding === 'same' ? samePads(w, k, s)[0] : 0;
    // Rows −top .. hq·s − top − 1 of a (zeros outside): pad, or crop rows a 'valid' conv never reads.
    const bottom = hq * s - h - top;
    const right = wq * s - w - left;
    let ap: tf.Tensor4D = tf.pad(a, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]]);
    if (bottom < 0 || right < 0) ap = tf.slice(ap, [0, 0, 0, 0], [b, hq * s, wq * s, c]);
    // Space-to-depth: [B·hq, s, wq, s·C] → [B·hq, wq, s, s·C] = [B, Q, s²C], columns (r, r', c).
    const l =
      s === 1
        ? (tf.reshape(ap, [b, hq * wq, c]) as tf.Tensor3D)
        : (tf.reshape(tf.transpose(tf.reshape(ap, [b * hq, s, wq, s * c]), [0, 2, 1, 3]), [b, hq * wq, s * s * c]) as tf.Tensor3D);
    // The A² shifts of g on the coarse grid, stacked then moved next to the channels: [B, Q, A²·N0].
    const shifts: tf.Tensor[] = [];
    for (let da = 0; da < na; da++) {
      for (let db = 0; db < na; db++) {
        shifts.push(tf.pad(g, [[0, 0], [da, na - 1 - da], [db, na - 1 - db], [0, 0]]));
      }
    }
    const stacked = tf.reshape(tf.stack(shifts), [na * na, b * hq * wq, n0]); // [A², B·Q, N0]
    const r = tf.reshape(tf.transpose(stacked, [1, 0, 2]), [b, hq * wq, na * na * n0]) as tf.Tensor3D;
    return { l, r };
  });
}

/**
 * Two per-position matrices of a conv or transposed-conv record with l_iᵀ r_i = ∇W_i up to a
 * permutation of its entries: the shift form (l: [B, Q, s²C], r: [B, Q, A²N0]) or the unfolded one
 * (l: [B, P, k²C] patches, r: [B, P, N0] = g), whichever creates fewer floats. The depthwise unfold does
 * k² multiply-adds per float it writes, so its floats count twice. `ghost` says whether the Gram form
 * Σ (l lᵀ) ⊙ (r rᵀ) takes fewer multiply-adds than materialising l_iᵀ r_i. Caller owns l and r.
 */
function convFactors(r: Record_): { l: tf.Tensor3D; r: tf.Tensor3D; ghost: boolean; index: () => Int32Array } {
  const { a, g, k, s, padding } = convOperands(r);
  const [b, oh, ow, n0] = g.shape;
  const c = a.shape[3];
  const p = oh * ow;
  const na = k / s;
  const q = (oh + na - 1) * (ow + na - 1);
  const useShift = k % s === 0 && q * (s * s * c + na * na * n0) < 2 * p * k * k * c;
  const [rows, kk, n] = useShift ? [q, s * s * c, na * na * n0] : [p, k * k * c, n0];
  const ghost = rows * (kk + n) < kk * n;
  const index = () => filterIndex(useShift, k, s, c, n0);
  if (useShift) return { ...shiftForm(a, g, k, s, padding), ghost, index };
  const l = tf.tidy(() => tf.reshape(unfold(a, k, s, padding), [b, p, k * k * c]) as tf.Tensor3D);
  return { l, r: tf.reshape(g, [b, p, n0]) as tf.Tensor3D, ghost, index };
}

/**
 * A conv or transposed-conv record as a conv from a to g: a [B, H, W, C] the tensor whose patches are
 * taken, g [B, OH, OW, N0] the one per output position; ∇W_i is a [k, k, C, N0] filter's gradient.
 * conv: a = the input, g = the output gradient; convT: a = the output gradient (y-space), g = the input.
 */
function convOperands(r: Record_): { a: tf.Tensor4D; g: tf.Tensor4D; k: number; s: number; padding: 'same' | 'valid' } {
  const layer = r.layer as Conv2d | ConvTranspose2d;
  const [a, g] = layer instanceof Conv2d ? [r.input as tf.Tensor4D, r.grad as tf.Tensor4D] : [r.grad as tf.Tensor4D, r.input as tf.Tensor4D];
  return { a, g, k: layer.kernelSize, s: layer.stride, padding: layer.padding };
}

/**
 * The squared per-example weight-gradient norms [B] of a conv or transposed-conv record from the
 * accelerator (src/core/accelerators.ts: one backward-weights convolution per example on oneDNN) and,
 * with `grads`, the gradients [B, D] and where each filter entry sits in a row; null when no accelerator
 * takes this layer (then the factors above are the path). Caller owns the tensors.
 */
function nativePerExample(r: Record_, grads: boolean): { grads: tf.Tensor2D | null; squaredNorms: tf.Tensor1D; index: Int32Array } | null {
  const fn = getConvPerExample();
  if (!fn) return null;
  const layer = r.layer as Conv2d | ConvTranspose2d;
  const { a, g, s, padding } = convOperands(r);
  return fn(a, g, { filterShape: layer.kernel.shape as [number, number, number, number], stride: s, padding, grads });
}

const filterIndices = new Map<string, Int32Array>();

/**
 * For each entry (kh, kw, c, n) of a [k, k, C, N0] filter (a transposed conv's [k, k, Cout, Cin]: the
 * patch side's channels first), its position in l_iᵀ r_i flattened. Shift form: rows (rh, rw, c) and
 * columns (da, db, n) with kh = da·s + rh, kw = db·s + rw. Unfolded: rows (c, kh, kw), columns n.
 */
function filterIndex(shift: boolean, k: number, s: number, c: number, n0: number): Int32Array {
  const key = `${shift},${k},${s},${c},${n0}`;
  let idx = filterIndices.get(key);
  if (idx) return idx;
  idx = new Int32Array(k * k * c * n0);
  const na = k / s;
  for (let kh = 0; kh < k; kh++) {
    for (let kw = 0; kw < k; kw++) {
      for (let ch = 0; ch < c; ch++) {
        for (let n = 0; n < n0; n++) {
          const at = ((kh * k + kw) * c + ch) * n0 + n;
          if (shift) {
            const [da, rh, db, rw] = [Math.floor(kh / s), kh % s, Math.floor(kw / s), kw % s];
            idx[at] = ((rh * s + rw) * c + ch) * (na * na * n0) + (da * na + db) * n0 + n;
          } else {
            idx[at] = (ch * k * k + kh * k + kw) * n0 + n;
          }
        }
      }
    }
  }
  filterIndices.set(key, idx);
  return idx;
}

/**
 * Per-example squared gradient norms of a conv or transposed-conv layer (weights + bias), [B]: the
 * ghost or the materialised form, whichever is cheaper (see convFactors); the bias gradient is the
 * output gradient summed over positions.
 */
function convSquaredNorms(r: Record_): tf.Tensor1D {
  return tf.tidy(() => {
    r.gradSums ??= tf.keep(sumPositions(r.grad!)); // ∇b_i, [B, Cout]; clippedSum reuses it
    const bias = rowDots(r.gradSums);
    // The accelerator's norms (nothing materialised; clippedSum then runs the backward-filter conv).
    const nat = nativePerExample(r, false);
    if (nat) return tf.add(nat.squaredNorms, bias) as tf.Tensor1D;
    const f = convFactors(r);
    let w: tf.Tensor1D;
    if (f.ghost) {
      w = rowDots(tf.matMul(f.l, f.l, false, true), tf.matMul(f.r, f.r, false, true));
    } else {
      const m = tf.matMul(f.l, f.r, true, false); // [B, K, N]: the per-example weight gradients, kept
      w = rowDots(m);
      r.perExample = { m: tf.keep(m) as tf.Tensor3D, index: f.index() };
    }
    tf.dispose([f.l, f.r]);
    return tf.add(w, bias) as tf.Tensor1D;
  });
}

/** Per-example gradients of one recorded layer, flattened: [B, D] (weights ++ bias). Caller owns it. */
function perExampleFlat(r: Record_, b: number): tf.Tensor2D {
  return tf.tidy(() => {
    const layer = r.layer;
    const g = r.grad!;
    if (layer instanceof Dense) {
      const w = tf.matMul(tf.reshape(r.input, [b, -1, 1]) as tf.Tensor3D, tf.reshape(g, [b, 1, -1]) as tf.Tensor3D);
      return tf.concat([tf.reshape(w, [b, -1]), tf.reshape(g, [b, -1])], 1) as tf.Tensor2D;
    }
    if (layer instanceof GroupNorm) {
      const c = layer.channels;
      const dg = sumPositions(tf.reshape(tf.mul(g, r.input), [b, -1, c]));
      const db = sumPositions(tf.reshape(g, [b, -1, c]));
      return tf.concat([dg, db], 1) as tf.Tensor2D;
    }
    // Conv and transposed conv: the entries of ∇W_i in some fixed order (norms and unit sums do not
    // depend on it), then ∇b_i.
    const nat = nativePerExample(r, true);
    if (nat?.grads) {
      r.perExample = { m: tf.keep(nat.grads), index: nat.index };
      return tf.concat([nat.grads, sumPositions(g)], 1) as tf.Tensor2D;
    }
    const f = convFactors(r);
    const m = tf.matMul(f.l, f.r, true, false);
    r.perExample = { m: tf.keep(m), index: f.index() };
    return tf.concat([tf.reshape(m, [b, -1]), sumPositions(g)], 1) as tf.Tensor2D;
  });
}

/** [units, B] one-hot membership matrix. */
function membership(g: UnitGrouping, b: number): tf.Tensor2D {
  const m = new Float32Array(g.units * b);
  for (let i = 0; i < b; i++) m[g.unitOf[i]! * b + i] = 1;
  return tf.tensor2d(m, [g.units, b]);
}

/**
 * Runs `sumLoss(x, tape)` (the loss SUMMED over the batch) forward and backward and returns per-unit
 * squared gradient norms. `aux`: other per-example inputs the loss reads (the same tensor objects), e.g.
 * condition rows. The tape keeps activations and output gradients for `clippedSum`; dispose it.
 */
export function perExampleNorms(
  x: tf.Tensor,
  sumLoss: (x: tf.Tensor, tape: Tape) => tf.Scalar,
  tape: CaptureTape,
  grouping?: UnitGrouping,
  aux: tf.Tensor[] = [],
): PerExampleResult {
  const b = x.shape[0]!;
  if (grouping && grouping.unitOf.length !== b) throw new Error(`internal error: unitOf has ${grouping.unitOf.length} entries for a batch of ${b}`);
  // Differentiating w.r.t. the per-example side inputs too (`aux`, e.g. condition rows) puts every layer
  // that reads only them (a projection embedding) on a gradient path, so its hook fires.
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => sumLoss(ts[0]!, tape))([x, ...aux]);
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...grads]);
  const units = grouping?.units ?? b;
  const norms = tf.tidy(() => {
    const s = grouping ? membership(grouping, b) : null;
    let acc: tf.Tensor = tf.zeros([units]);
    for (const r of tape.records) {
      if (!r.grad) continue;
      if (r.layer instanceof Dense) {
        if (!s) {
          // Goodfellow's shortcut: no need to materialise a_i g_iᵀ.
          const a2 = rowDots(r.input);
          const g2 = rowDots(r.grad);
          acc = tf.add(acc, tf.mul(tf.add(a2, 1), g2)); // weight + bias
        } else {
          const a = tf.reshape(r.input, [b, -1]) as tf.Tensor2D;
          const g = tf.reshape(r.grad, [b, -1]) as tf.Tensor2D;
          const m = tf.mul(tf.add(tf.matMul(a, a, false, true), 1), tf.matMul(g, g, false, true)); // [B, B]
          acc = tf.add(acc, tf.sum(tf.mul(tf.matMul(s, m as tf.Tensor2D), s), 1));
        }
      } else {
        if (!s && (r.layer instanceof Conv2d || r.layer instanceof ConvTranspose2d)) {
          acc = tf.add(acc, convSquaredNorms(r));
          continue;
        }
        let flat: tf.Tensor2D = perExampleFlat(r, b);
        if (s) flat = tf.matMul(s, flat);
        acc = tf.add(acc, rowDots(flat));
      }
    }
    return acc.dataSync() as Float32Array;
  });
  return { squaredNorms: norms, loss };
}

/**
 * out[j] = v[index[j]]. In JS on the read-back sum: tfjs-wasm's Gather took ~8 ms for a 131k-entry
 * filter (cvae64's conv2), this loop well under 1 ms.
 */
function permute(v: Float32Array, index: Int32Array): Float32Array {
  const out = new Float32Array(index.length);
  for (let j = 0; j < index.length; j++) out[j] = v[index[j]!]!;
  return out;
}

/**
 * Σ_i c_i ∇_θ loss_i for every parameter of the captured layers, where `factors[i]` is image i's factor
 * (its unit's clip factor). The caller owns the tensors.
 */
export function clippedSum(tape: CaptureTape, factors: Float32Array): Map<tf.Variable, tf.Tensor> {
  const out = new Map<tf.Variable, tf.Tensor>();
  const b = factors.length;
  for (const r of tape.records) {
    if (!r.grad) continue;
    const layer = r.layer;
    const [gw, gb] = tf.tidy(() => {
      const pe = r.perExample;
      if (pe) {
        // Materialised per-example gradients (see the header): Σ_i c_i ∇W_i, put back in filter order;
        // the bias from the per-example output-gradient sums.
        const conv = layer as Conv2d | ConvTranspose2d;
        const cw = tf.tensor2d(factors, [1, b]);
        const sum = tf.matMul(cw, tf.reshape(pe.m, [b, -1]) as tf.Tensor2D);
        const w = tf.tensor(permute(sum.dataSync() as Float32Array, pe.index), conv.kernel.shape);
        return [w, tf.reshape(tf.matMul(cw, r.gradSums ?? sumPositions(r.grad!)), [-1])];
      }
      const c = tf.tensor1d(factors);
      const scaled = (t: tf.Tensor) => tf.mul(t, tf.reshape(c, [b, ...t.shape.slice(1).map(() => 1)]));
      if (layer instanceof Dense) {
        const cg = scaled(r.grad!);
        return [tf.matMul(r.input as tf.Tensor2D, cg as tf.Tensor2D, true, false), tf.sum(cg, 0)];
      }
      if (layer instanceof GroupNorm) {
        const cg = scaled(r.grad!);
        return [sumLeading(tf.mul(cg, r.input)), sumLeading(cg)];
      }
      // Bias: cᵀ [B, C] of the per-example sums over positions (kept from the norms when taken there).
      const bias = tf.reshape(tf.matMul(tf.reshape(c, [1, b]), r.gradSums ?? sumPositions(r.grad!)), [-1]);
      // The weight gradient of the batch with output gradient c ⊙ g: Conv2DBackpropFilter directly (the
      // kernel behind tf.grad of a conv), without re-running the forward conv. Σ_i c_i (x_i ⋆ g_i) is
      // bilinear in (x_i, g_i), so c scales whichever of the two is smaller.
      const conv = layer as Conv2d | ConvTranspose2d;
      const [x0, dy0] = layer instanceof Conv2d ? [r.input, r.grad!] : [r.grad!, r.input]; // convT: roles swap
      const [x, dy] = x0.size < dy0.size ? [scaled(x0), dy0] : [x0, scaled(dy0)];
      const gw = tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy } as never,
        { strides: conv.stride, pad: conv.padding, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: conv.kernel.shape } as never,
      ) as tf.Tensor;
      return [gw, bias];
    });
    const [pw, pb] = layer instanceof GroupNorm ? [layer.gamma, layer.beta] : [layer.kernel, layer.bias];
    out.set(pw, gw!);
    out.set(pb, gb!);
  }
  return out;
}
