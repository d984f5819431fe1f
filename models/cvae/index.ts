/**
 * Conditional VAE generator.
 *
 * Encoder: [x ++ condition maps] → Conv(k4, s2, 'same') + ReLU per stage → flatten → Dense(2·latent)
 * = (μ, log σ²). Decoder: [z ++ c] → Dense(side²·C) + ReLU → reshape → ConvTranspose(k4, s2) + ReLU per
 * stage → ConvTranspose to the image channels (logits for the Bernoulli likelihood, means for the
 * Gaussian one). The condition c = one-hot(class) ++ one-hot(each conditioning attribute) is given to
 * both: to the decoder as input units, to the encoder as constant image channels ("condition maps").
 * Widths come from WIDTHS by image size. Objective and KL warm-up: models/cvae/loss.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { ConfigError, PrivacyAssumptionError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { Conv2d, ConvTranspose2d, Dense, disposeLayers, namedVariables, paramsOf, restrictTape, selectLayers, type Layer, type Tape } from '../../src/nn/layers.js';
import { dpGradients } from '../../src/privacy/dp-sgd.js';
import type { UnitGrouping } from '../../src/privacy/per-example.js';
import { copyShifts, shiftedCopies } from '../../src/nn/augment.js';
import { FusedAdam } from '../../src/nn/optim.js';
import { conditionWidth, parseGeneratorConfig, type ConditionSpec, type DpStepParams, type Generator, type GeneratorFactory, type PrivateBatch, type TrainBatch } from '../generator.js';
import { betaAt, klDivergence, reconstruction } from './loss.js';

/** tfjs variable names must be unique in a process. */
let instanceCounter = 0;

/** Channel widths of the conv stages by image size (each stage halves the side). */
export const WIDTHS: Record<number, number[]> = {
  28: [32, 64],
  32: [32, 64, 128],
  64: [32, 64, 128],
  128: [32, 64, 128, 256],
};

export const CvaeConfigSchema = z
  .object({
    latent: z.number().int().min(1).max(1024).default(32),
    beta: z.number().min(0).default(1),
    warmupSteps: z.number().int().min(0).default(0),
    /** λ of free bits (loss.ts): nats per latent dimension and image below which KL is not penalised (absent: 0). */
    freeBits: z.number().min(0).max(10).optional(),
    /**
     * Augmentation multiplicity in DP-SGD steps (src/nn/augment.ts): each private image enters as `copies`
     * copies shifted by up to `shift` pixels, averaged before clipping (absent: one copy, no shift).
     */
    augment: z.object({ copies: z.number().int().min(1).max(16), shift: z.number().int().min(0).max(8).default(2) }).strict().optional(),
    likelihood: z.enum(['bernoulli', 'gaussian']).default('bernoulli'),
    /** Gaussian likelihood: a fixed σ, or 'learned' (a trained log σ). */
    sigma: z.union([z.number().positive(), z.literal('learned')]).default(0.1),
    lr: z.number().positive().default(1e-3),
    /**
     * The layers training updates: all (absent), or those whose name starts with one of these prefixes
     * (layers: encoder/conv<i>, encoder/head, decoder/in, decoder/convt<i>). The rest stay at their initial
     * weights: meant with --init-from, so that DP fine-tunes a small part of a publicly pretrained network
     * and its noise has fewer dimensions (the model card lists which parameters were private).
     */
    trainable: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type CvaeConfig = z.infer<typeof CvaeConfigSchema>;

export class Cvae implements Generator {
  readonly kind = 'cvae';
  private readonly enc: Conv2d[];
  private readonly head: Dense;
  private readonly decIn: Dense;
  private readonly dec: ConvTranspose2d[];
  private readonly logSigma: tf.Variable | null;
  private readonly optimizer: FusedAdam;
  private readonly side: number;
  private readonly widths: number[];
  private readonly condWidth: number;
  private readonly noise: Rng;
  /** The layers training updates (`trainable`); the others are frozen. */
  private readonly trained: Layer[];

  constructor(
    private readonly cfg: CvaeConfig,
    readonly spec: ConditionSpec,
    readonly imageSize: number,
    readonly channels: 1 | 3,
    seed: number,
  ) {
    const widths = WIDTHS[imageSize];
    if (!widths) throw new ConfigError(`--size ${imageSize}: the cVAE supports ${Object.keys(WIDTHS).join(', ')}`);
    this.widths = widths;
    this.side = imageSize / 2 ** widths.length;
    this.condWidth = conditionWidth(spec);
    const rng = new Rng(seed);
    const init = rng.derive('init');
    this.noise = rng.derive('reparameterisation');
    let cin = channels + this.condWidth;
    this.enc = widths.map((co, i) => {
      const l = new Conv2d(`encoder/conv${i}`, cin, co, 4, 2, 'same', init);
      cin = co;
      return l;
    });
    const flat = this.side * this.side * widths[widths.length - 1]!;
    this.head = new Dense('encoder/head', flat, 2 * cfg.latent, init);
    this.decIn = new Dense('decoder/in', cfg.latent + this.condWidth, flat, init);
    const rev = [...widths].reverse();
    this.dec = rev.map((ci, i) => new ConvTranspose2d(`decoder/convt${i}`, ci, i + 1 < rev.length ? rev[i + 1]! : channels, 4, 2, 'same', init));
    this.logSigma =
      cfg.likelihood === 'gaussian' && cfg.sigma === 'learned' ? tf.tidy(() => tf.variable(tf.scalar(Math.log(0.1)), true, `cvae/log_sigma_${instanceCounter++}`)) : null;
    this.optimizer = new FusedAdam({ learningRate: cfg.lr });
    try {
      this.trained = selectLayers(this.layers, cfg.trainable ?? 'all');
    } catch (err) {
      this.dispose();
      throw new ConfigError(`cvae option trainable: ${(err as Error).message}`);
    }
  }

  private get layers(): Layer[] {
    return [...this.enc, this.head, this.decIn, ...this.dec];
  }

  /** The variables training updates: the trained layers' (and a learned log σ). */
  private trainables(): tf.Variable[] {
    return [...paramsOf(this.trained), ...(this.logSigma ? [this.logSigma] : [])];
  }

  /** (μ, log σ²) of q(z | x, c). */
  encode(x: tf.Tensor4D, cond: tf.Tensor2D, tape?: Tape): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    return tf.tidy(() => {
      const b = x.shape[0];
      const maps = tf.tile(tf.reshape(cond, [b, 1, 1, this.condWidth]), [1, this.imageSize, this.imageSize, 1]);
      let h: tf.Tensor = tf.concat([x, maps], 3);
      for (const l of this.enc) h = tf.relu(l.apply(h, { tape }));
      const stats = this.head.apply(tf.reshape(h, [b, -1]), { tape }) as tf.Tensor2D; // [B, 2·latent]
      return {
        mu: tf.slice(stats, [0, 0], [b, this.cfg.latent]),
        logvar: tf.slice(stats, [0, this.cfg.latent], [b, this.cfg.latent]),
      };
    });
  }

  /** Decoder output before the likelihood's link: logits (Bernoulli) or means (Gaussian). */
  decode(zs: tf.Tensor2D, cond: tf.Tensor2D, tape?: Tape): tf.Tensor4D {
    return tf.tidy(() => {
      const b = zs.shape[0];
      const top = this.widths[this.widths.length - 1]!;
      let d: tf.Tensor = tf.reshape(tf.relu(this.decIn.apply(tf.concat([zs, cond], 1), { tape })), [b, this.side, this.side, top]);
      this.dec.forEach((l, i) => {
        d = l.apply(d, { tape });
        if (i + 1 < this.dec.length) d = tf.relu(d);
      });
      return d as tf.Tensor4D;
    });
  }

  /** The loss terms of a batch (tensors owned by the caller). */
  losses(batch: TrainBatch, step: number, seed: number, tape?: Tape): { loss: tf.Scalar; rec: tf.Scalar; kl: tf.Scalar } {
    return tf.tidy(() => {
      const { mu, logvar } = this.encode(batch.images, batch.cond, tape);
      const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', seed);
      const zs = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D;
      const out = this.decode(zs, batch.cond, tape);
      const logSigma = this.cfg.likelihood === 'gaussian' ? (this.logSigma ?? tf.scalar(Math.log(this.cfg.sigma as number))) : undefined;
      const rec = reconstruction(batch.images, out, this.cfg.likelihood, logSigma);
      const kl = klDivergence(mu, logvar, this.cfg.freeBits ?? 0);
      const loss = tf.add(rec, tf.mul(kl, betaAt(this.cfg.beta, step, this.cfg.warmupSteps))) as tf.Scalar;
      return { loss, rec, kl };
    });
  }

  trainStep(batch: TrainBatch, step: number): Record<string, number> {
    const seed = this.noise.derive(step).nextUint32();
    let rec: tf.Scalar | null = null;
    let kl: tf.Scalar | null = null;
    const loss = this.optimizer.minimize(() => {
      const t = this.losses(batch, step, seed);
      rec = tf.keep(t.rec);
      kl = tf.keep(t.kl);
      return t.loss;
    }, this.trainables());
    try {
      // One sync point for all three numbers.
      const [l, r, k] = [loss.dataSync()[0]!, rec!.dataSync()[0]!, kl!.dataSync()[0]!];
      return { loss: l, rec: r, kl: k, beta: betaAt(this.cfg.beta, step, this.cfg.warmupSteps) };
    } finally {
      tf.dispose([loss, rec!, kl!]);
    }
  }

  /**
   * One DP-SGD step: the whole cVAE sees the training images, so all of it is the private module; the step
   * updates its `trainable` layers (default: all). The per-example loss is the batch-mean loss's summand
   * (losses() averages, so the sum is B · mean).
   */
  privateStep(batch: PrivateBatch, step: number, dp: DpStepParams): Record<string, number> {
    if (this.logSigma) {
      throw new PrivacyAssumptionError('--dp with a learned Gaussian sigma: that parameter has no per-example gradient here; use a fixed sigma or the Bernoulli likelihood');
    }
    const seed = this.noise.derive(step).nextUint32();
    const b = batch.images.shape[0];
    const beta = betaAt(this.cfg.beta, step, this.cfg.warmupSteps);
    const sums = { rec: 0, kl: 0 };
    const trained = this.trained;
    // Augmentation multiplicity (src/nn/augment.ts): K shifted copies of each image, in its own unit. The
    // loss below is the mean over the K·B rows times B, i.e. each unit's gradient is the AVERAGE over its
    // copies before it is clipped, so its clipped contribution is still at most C.
    const copies = b > 0 ? (this.cfg.augment?.copies ?? 1) : 1;
    const aug = copies > 1 ? this.augmented(batch, step, copies) : null;
    try {
      const r = dpGradients(
        this.trainables(),
        b > 0 ? (aug?.images ?? batch.images) : null,
        (x, tape) =>
          tf.tidy(() => {
            // Only the trained layers are recorded: the per-example norms, the clipping and the noise cover
            // exactly the parameters this step changes; frozen layers act as constants.
            const t = this.losses({ images: x as tf.Tensor4D, cond: aug?.cond ?? batch.cond }, step, seed, trained.length === this.layers.length ? tape : restrictTape(tape, trained));
            sums.rec = t.rec.dataSync()[0]! * b; // forward values; read once, before the backward pass
            sums.kl = t.kl.dataSync()[0]! * b;
            return tf.mul(t.loss, b) as tf.Scalar;
          }),
        aug?.grouping ?? batch.grouping,
        dp,
      );
      try {
        this.optimizer.applyGradients([...r.grads]);
      } finally {
        tf.dispose([...r.grads.values()]);
      }
      const per = Math.max(b, 1);
      return { loss: r.loss / per, rec: sums.rec / per, kl: sums.kl / per, beta, clipped: r.clippedShare, batch: b };
    } finally {
      if (aug) tf.dispose([aug.images, aug.cond]);
    }
  }

  /** K shifted copies of a private batch, their conditions, and each copy's unit (its image's unit). */
  private augmented(batch: PrivateBatch, step: number, copies: number): { images: tf.Tensor4D; cond: tf.Tensor2D; grouping: UnitGrouping } {
    const b = batch.images.shape[0];
    const shifts = copyShifts(copies, this.cfg.augment!.shift, this.noise.derive(step).derive('augment'));
    const unitOf = new Int32Array(copies * b);
    for (let k = 0; k < copies; k++) for (let i = 0; i < b; i++) unitOf[k * b + i] = batch.grouping ? batch.grouping.unitOf[i]! : i;
    return {
      images: shiftedCopies(batch.images, shifts),
      cond: tf.tidy(() => tf.tile(batch.cond, [copies, 1]) as tf.Tensor2D),
      grouping: { unitOf, units: batch.grouping ? batch.grouping.units : b },
    };
  }


  privateLayers(): Layer[] {
    return this.layers;
  }

  trainedPrivateLayers(): Layer[] {
    return this.trained;
  }

  sample(cond: tf.Tensor2D, seed: number): tf.Tensor4D {
    return tf.tidy(() => {
      const zs = tf.randomNormal([cond.shape[0], this.cfg.latent], 0, 1, 'float32', seed) as tf.Tensor2D;
      const out = this.decode(zs, cond);
      return (this.cfg.likelihood === 'bernoulli' ? tf.sigmoid(out) : tf.clipByValue(out, 0, 1)) as tf.Tensor4D;
    });
  }

  reconstruct(images: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const { mu } = this.encode(images, cond);
      const out = this.decode(mu, cond);
      return (this.cfg.likelihood === 'bernoulli' ? tf.sigmoid(out) : tf.clipByValue(out, 0, 1)) as tf.Tensor4D;
    });
  }

  /**
   * Per-image negative ELBO [B] (nats), for membership audits: −ELBO_i = rec_i + KL_i, the per-image
   * summands of models/cvae/loss.ts at β = 1 (the bound itself, whatever β training used), with one
   * reparameterised draw z ~ q(z | x, c) from `seed`. The caller owns the tensor.
   */
  elbo(images: tf.Tensor4D, cond: tf.Tensor2D, seed: number): tf.Tensor1D {
    return tf.tidy(() => {
      const { mu, logvar } = this.encode(images, cond);
      const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', seed);
      const out = this.decode(tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D, cond);
      const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))), 1));
      let rec: tf.Tensor;
      if (this.cfg.likelihood === 'bernoulli') {
        rec = tf.sum(tf.add(tf.sub(tf.relu(out), tf.mul(out, images)), tf.log1p(tf.exp(tf.neg(tf.abs(out))))), [1, 2, 3]);
      } else {
        const ls = this.logSigma ?? tf.scalar(Math.log(this.cfg.sigma as number));
        const pixels = images.shape[1] * images.shape[2] * images.shape[3];
        rec = tf.add(tf.div(tf.sum(tf.square(tf.sub(images, out)), [1, 2, 3]), tf.mul(2, tf.exp(tf.mul(2, ls)))), tf.mul(pixels, tf.add(ls, 0.5 * Math.log(2 * Math.PI))));
      }
      return tf.add(rec, kl) as tf.Tensor1D;
    });
  }

  weights(): Map<string, tf.Variable> {
    const m = namedVariables(this.layers);
    if (this.logSigma) m.set('decoder/log_sigma', this.logSigma);
    return m;
  }

  optimizerState(): { step: number; slots: Map<string, tf.Variable> } {
    return { step: this.optimizer.step, slots: this.optimizer.namedSlots(this.weights()) };
  }

  restoreOptimizerState(state: { step: number; slots: Map<string, tf.Tensor> }): void {
    this.optimizer.restoreNamedSlots(this.weights(), state);
  }

  architecture(): Record<string, unknown> {
    return {
      encoder: [
        `input ${this.imageSize}x${this.imageSize}x${this.channels} ++ ${this.condWidth} condition maps`,
        ...this.widths.map((w, i) => `conv k4 s2 -> ${w} ch, ${this.imageSize / 2 ** (i + 1)} px, relu`),
        `dense -> 2x${this.cfg.latent} (mu, logvar)`,
      ],
      decoder: [
        `input z(${this.cfg.latent}) ++ condition(${this.condWidth})`,
        `dense -> ${this.side}x${this.side}x${this.widths[this.widths.length - 1]}, relu`,
        ...[...this.widths].reverse().map((_, i, rev) => `convT k4 s2 -> ${i + 1 < rev.length ? rev[i + 1] : this.channels} ch${i + 1 < rev.length ? ', relu' : ''}`),
        this.cfg.likelihood === 'bernoulli' ? 'sigmoid (Bernoulli likelihood)' : `Gaussian likelihood, sigma ${this.cfg.sigma}`,
      ],
      parameters: paramsOf(this.layers).reduce((a, v) => a + v.size, 0) + (this.logSigma ? 1 : 0),
      ...(this.trained.length < this.layers.length
        ? { trained: this.trained.map((l) => l.name), trainedParameters: this.trainables().reduce((a, v) => a + v.size, 0), frozen: this.layers.filter((l) => !this.trained.includes(l)).map((l) => l.name) }
        : {}),
    };
  }

  config(): Record<string, unknown> {
    return { ...this.cfg };
  }

  dispose(): void {
    disposeLayers(this.layers);
    if (this.logSigma) this.logSigma.dispose();
    this.optimizer.dispose();
  }
}

export const cvaeFactory: GeneratorFactory = {
  kind: 'cvae',
  create(config, spec, shape, seed) {
    return new Cvae(parseGeneratorConfig('cvae', CvaeConfigSchema, config), spec, shape.size, shape.channels, seed);
  },
};
