/**
 * A small layer library for medsynth's generators, written on tfjs ops rather than `tf.layers`.
 *
 * Why not `tf.layers`: DP-SGD (src/privacy) needs, per trainable layer, the layer's input activations and
 * the gradient of the loss at the layer's output, to get per-example gradient norms without a loop over
 * examples. Owning the forward pass lets a `Tape` record both; `tf.layers` hides them. Weights are plain
 * `tf.Variable`s with stable names, saved in the tfjs weights format.
 *
 * Layout: NHWC activations; conv filters [KH, KW, Cin, Cout]; transposed-conv filters [KH, KW, Cout, Cin]
 * (tfjs's conv2dTranspose layout); dense kernels [in, out].
 * Memory: `apply` is synchronous tensor code meant to run inside `tf.tidy` (or `tf.grads`/`minimize`);
 * the returned tensor is owned by the caller's scope.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.js';

export type Padding = 'same' | 'valid';

/** Records what a layer saw, for per-example gradient computations (see src/privacy). */
export interface Tape {
  /**
   * Called by every parameterised layer with its input and pre-activation output. Returns the output to
   * use downstream (a tape may add a zero "probe" so that d loss / d output can be read back).
   */
  record(layer: Layer, input: tf.Tensor, output: tf.Tensor): tf.Tensor;
}

export interface Layer {
  readonly name: string;
  /** Trainable variables, in a fixed order. */
  readonly params: tf.Variable[];
  /** Non-trainable state (BatchNorm running statistics), saved with the weights. */
  readonly state: tf.Variable[];
  /** Params and state under stable names (`<layer>/<kind>`), for saving and checkpoints. */
  named(): [string, tf.Variable][];
  apply(x: tf.Tensor, opts?: { training?: boolean; tape?: Tape }): tf.Tensor;
}

/** Glorot-uniform values (Glorot & Bengio, AISTATS 2010, Eq. 16): U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(rng: Rng, shape: number[], fanIn: number, fanOut: number): Float32Array {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((p, q) => p * q, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(-a, a);
  return out;
}

function variable(values: Float32Array | number, shape: number[], name: string, trainable = true): tf.Variable {
  return tf.tidy(() =>
    tf.variable(typeof values === 'number' ? tf.fill(shape, values) : tf.tensor(values, shape), trainable, uniqueName(name)),
  );
}

let counter = 0;
/** tfjs variable names must be unique per process; the stable name is kept in `Layer.name`. */
function uniqueName(name: string): string {
  return `${name}__${counter++}`;
}

export class Dense implements Layer {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  readonly state: tf.Variable[] = [];
  constructor(readonly name: string, readonly inUnits: number, readonly outUnits: number, rng: Rng) {
    this.kernel = variable(glorotUniform(rng, [inUnits, outUnits], inUnits, outUnits), [inUnits, outUnits], `${name}/kernel`);
    this.bias = variable(0, [outUnits], `${name}/bias`);
  }
  get params(): tf.Variable[] {
    return [this.kernel, this.bias];
  }
  named(): [string, tf.Variable][] {
    return [[`${this.name}/kernel`, this.kernel], [`${this.name}/bias`, this.bias]];
  }
  apply(x: tf.Tensor, opts: { tape?: Tape } = {}): tf.Tensor {
    const y = tf.add(tf.matMul(x as tf.Tensor2D, this.kernel as tf.Tensor2D), this.bias);
    return opts.tape ? opts.tape.record(this, x, y) : y;
  }
}

export class Conv2d implements Layer {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  readonly state: tf.Variable[] = [];
  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: Padding,
    rng: Rng,
  ) {
    const k = kernelSize;
    const shape = [k, k, inChannels, outChannels];
    this.kernel = variable(glorotUniform(rng, shape, k * k * inChannels, k * k * outChannels), shape, `${name}/kernel`);
    this.bias = variable(0, [outChannels], `${name}/bias`);
  }
  get params(): tf.Variable[] {
    return [this.kernel, this.bias];
  }
  named(): [string, tf.Variable][] {
    return [[`${this.name}/kernel`, this.kernel], [`${this.name}/bias`, this.bias]];
  }
  apply(x: tf.Tensor, opts: { tape?: Tape } = {}): tf.Tensor {
    const y = tf.add(tf.conv2d(x as tf.Tensor4D, this.kernel as tf.Tensor4D, this.stride, this.padding), this.bias);
    return opts.tape ? opts.tape.record(this, x, y) : y;
  }
}

/** Transposed convolution: out = in · stride for 'same'; out = (in − 1) · stride + k for 'valid'. */
export class ConvTranspose2d implements Layer {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  readonly state: tf.Variable[] = [];
  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: Padding,
    rng: Rng,
  ) {
    const k = kernelSize;
    const shape = [k, k, outChannels, inChannels];
    this.kernel = variable(glorotUniform(rng, shape, k * k * inChannels, k * k * outChannels), shape, `${name}/kernel`);
    this.bias = variable(0, [outChannels], `${name}/bias`);
  }
  get params(): tf.Variable[] {
    return [this.kernel, this.bias];
  }
  named(): [string, tf.Variable][] {
    return [[`${this.name}/kernel`, this.kernel], [`${this.name}/bias`, this.bias]];
  }
  outputSize(inSize: number): number {
    return this.padding === 'same' ? inSize * this.stride : (inSize - 1) * this.stride + this.kernelSize;
  }
  apply(x: tf.Tensor, opts: { tape?: Tape } = {}): tf.Tensor {
    const [n, h, w] = x.shape as [number, number, number, number];
    const outShape: [number, number, number, number] = [n, this.outputSize(h), this.outputSize(w), this.outChannels];
    const y = tf.add(
      tf.conv2dTranspose(x as tf.Tensor4D, this.kernel as tf.Tensor4D, outShape, this.stride, this.padding),
      this.bias,
    );
    return opts.tape ? opts.tape.record(this, x, y) : y;
  }
}

// ---- Fused normalisation kernels --------------------------------------------------------------------
//
// GroupNorm and BatchNorm composed from tfjs ops cost ~15 element-wise kernels forward and ~30 backward,
// each a pass over memory. When the backend has fused kernels under these names (the native addon
// registers them for wasm: src/backend/native.ts, native/medsynth_dnnl.cc), the layers call those
// through a tf.customGrad whose gradient is the fused backward kernel; otherwise they stay on the composed
// ops below. The names are the contract with src/backend (which src/nn may not import).
//   forward  {x, gamma, beta} attrs {eps, groups?} → [y, x̂, mean, variance]  (statistics [N, G] or [C])
//   gradient {dy, xhat, gamma, variance} attrs {eps, groups?} → [dx, dγ, dβ]
// Backward formula (Ioffe & Szegedy 2015, Sec. 3; per group for Wu & He 2018), with dx̂ = dy·γ and means
// over the values sharing a statistic: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
const FUSED = {
  MedsynthGroupNorm: 'MedsynthGroupNormGrad',
  MedsynthBatchNorm: 'MedsynthBatchNormGrad',
} as const;
type FusedNorm = keyof typeof FUSED;

interface FusedNormOut {
  /** On the gradient path; owned by the caller's scope. */
  y: tf.Tensor;
  /** Values only (no gradient flows through them), kept: the caller disposes them. */
  xhat: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/**
 * One fused norm as a single-output op for autodiff: y carries the gradient (the fused backward kernel),
 * x̂ and the statistics come out beside it as plain values. (A multi-output kernel on the tape would be
 * handed zero-filled gradients for x̂, mean and variance on every backward pass.)
 */
function fusedNormOp(name: FusedNorm, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, attrs: { eps: number; groups?: number }): FusedNormOut {
  let side: tf.Tensor[] = [];
  const op = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    // Kernels run inside a customGrad forward are not recorded on the tape: only this op is.
    const [y, xhat, mean, variance] = tf.engine().runKernel(name, { x: xi, gamma: g, beta: b }, attrs as never) as tf.Tensor[];
    save([xhat!, g, variance!]);
    side = [tf.keep(xhat!), tf.keep(mean!), tf.keep(variance!)];
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xh, gm, v] = saved;
        return tf.engine().runKernel(FUSED[name], { dy: dy as tf.Tensor, xhat: xh!, gamma: gm!, variance: v! }, attrs as never) as tf.Tensor[];
      },
    };
  }) as never) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  const y = op(x, gamma, beta);
  return { y, xhat: side[0]!, mean: side[1]!, variance: side[2]! };
}

/** Whether the current backend has the fused kernel `name` and x suits it (float32). */
function fusedNorm(name: FusedNorm, x: tf.Tensor): boolean {
  return x.dtype === 'float32' && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Group normalisation (Wu & He, "Group Normalization", ECCV 2018, Eq. 1–3), NHWC:
 *   y = gamma · (x − mean_g) / sqrt(var_g + eps) + beta, statistics per example and per channel group.
 * Per-example statistics keep examples independent, so it is safe under DP-SGD (unlike BatchNorm).
 */
export class GroupNorm implements Layer {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly state: tf.Variable[] = [];
  constructor(readonly name: string, readonly channels: number, readonly groups: number, readonly eps = 1e-5) {
    if (channels % groups !== 0) throw new Error(`internal error: ${name}: ${channels} channels not divisible by ${groups} groups`);
    this.gamma = variable(1, [channels], `${name}/gamma`);
    this.beta = variable(0, [channels], `${name}/beta`);
  }
  get params(): tf.Variable[] {
    return [this.gamma, this.beta];
  }
  named(): [string, tf.Variable][] {
    return [[`${this.name}/gamma`, this.gamma], [`${this.name}/beta`, this.beta]];
  }
  apply(x: tf.Tensor, opts: { tape?: Tape } = {}): tf.Tensor {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const g = this.groups;
    if (fusedNorm('MedsynthGroupNorm', x)) {
      const { y, xhat, mean, variance } = fusedNormOp('MedsynthGroupNorm', x, this.gamma, this.beta, { eps: this.eps, groups: g });
      try {
        // x̂ is the layer "input" for src/privacy (a tape keeps its own copy).
        return opts.tape ? opts.tape.record(this, xhat, y) : y;
      } finally {
        tf.dispose([xhat, mean, variance]);
      }
    }
    const xg = tf.reshape(x, [n, h * w, g, c / g]); // [N, HW, G, C/G]
    const { mean, variance } = tf.moments(xg, [1, 3], true);
    const norm = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, this.eps))), [n, h, w, c]);
    const y = tf.add(tf.mul(norm, this.gamma), this.beta);
    return opts.tape ? opts.tape.record(this, norm, y) : y;
  }
}

/**
 * Batch normalisation (Ioffe & Szegedy, ICML 2015, Alg. 1) over all axes but the last. Mixes examples,
 * so src/privacy refuses it in any module that sees private data; fine in a GAN generator.
 */
export class BatchNorm implements Layer {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly movingMean: tf.Variable;
  readonly movingVar: tf.Variable;
  constructor(readonly name: string, readonly channels: number, readonly momentum = 0.9, readonly eps = 1e-5) {
    this.gamma = variable(1, [channels], `${name}/gamma`);
    this.beta = variable(0, [channels], `${name}/beta`);
    this.movingMean = variable(0, [channels], `${name}/moving_mean`, false);
    this.movingVar = variable(1, [channels], `${name}/moving_variance`, false);
  }
  get params(): tf.Variable[] {
    return [this.gamma, this.beta];
  }
  get state(): tf.Variable[] {
    return [this.movingMean, this.movingVar];
  }
  named(): [string, tf.Variable][] {
    return [
      [`${this.name}/gamma`, this.gamma],
      [`${this.name}/beta`, this.beta],
      [`${this.name}/moving_mean`, this.movingMean],
      [`${this.name}/moving_variance`, this.movingVar],
    ];
  }
  apply(x: tf.Tensor, opts: { training?: boolean } = {}): tf.Tensor {
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const fused = fusedNorm('MedsynthBatchNorm', x);
    if (!opts.training && fused) {
      // y = x·s + (β − μ·s) with s = γ / sqrt(σ² + eps): the per-channel algebra on [C], two passes over x.
      return tf.tidy(() => {
        const scale = tf.div(this.gamma, tf.sqrt(tf.add(this.movingVar, this.eps)));
        return tf.add(tf.mul(x, scale), tf.sub(this.beta, tf.mul(this.movingMean, scale)));
      });
    }
    if (!opts.training) {
      return tf.add(tf.mul(tf.div(tf.sub(x, this.movingMean), tf.sqrt(tf.add(this.movingVar, this.eps))), this.gamma), this.beta);
    }
    const m = this.momentum;
    // Running statistics are updated outside the gradient (they are not trained).
    const updateRunning = (mean: tf.Tensor, variance: tf.Tensor): void => {
      this.movingMean.assign(tf.tidy(() => tf.add(tf.mul(this.movingMean, m), tf.mul(mean, 1 - m))));
      this.movingVar.assign(tf.tidy(() => tf.add(tf.mul(this.movingVar, m), tf.mul(variance, 1 - m))));
    };
    if (fused) {
      const { y, xhat, mean, variance } = fusedNormOp('MedsynthBatchNorm', x, this.gamma, this.beta, { eps: this.eps });
      try {
        updateRunning(mean, variance);
      } finally {
        tf.dispose([xhat, mean, variance]);
      }
      return y;
    }
    const { mean, variance } = tf.moments(x, axes);
    updateRunning(mean, variance);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), this.gamma), this.beta);
  }
}

/** All trainable variables of some layers, in order. */
export function paramsOf(layers: Layer[]): tf.Variable[] {
  return layers.flatMap((l) => l.params);
}

/** Params and state of some layers under their stable names. */
export function namedVariables(layers: Layer[]): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const l of layers) for (const [k, v] of l.named()) out.set(k, v);
  return out;
}

/** Disposes every variable of some layers. */
export function disposeLayers(layers: Layer[]): void {
  for (const l of layers) tf.dispose([...l.params, ...l.state]);
}

/**
 * The layers a `trainable` option selects: 'all', or those whose stable name starts with one of the given
 * prefixes (e.g. ['decoder/'] or ['discriminator/head']). Throws an Error naming the prefix that matches
 * no layer and listing the names (the caller turns it into its own ConfigError).
 */
export function selectLayers(layers: Layer[], trainable: 'all' | readonly string[]): Layer[] {
  if (trainable === 'all') return layers;
  for (const p of trainable) {
    if (!layers.some((l) => l.name.startsWith(p))) {
      throw new Error(`'${p}' names no layer (layers: ${layers.map((l) => l.name).join(', ')})`);
    }
  }
  return layers.filter((l) => trainable.some((p) => l.name.startsWith(p)));
}

/**
 * A tape that records only `layers` and passes every other layer's output through untouched: per-example
 * gradients (and their norms, hence the clipping) then cover exactly the layers that are trained, and the
 * frozen ones take part in the forward and backward pass as constants.
 */
export function restrictTape(tape: Tape, layers: readonly Layer[]): Tape {
  const keep = new Set(layers);
  return { record: (layer, input, output) => (keep.has(layer) ? tape.record(layer, input, output) : output) };
}
