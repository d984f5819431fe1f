/**
 * Conditional DCGAN whose discriminator is trained with DP-SGD (the "DPGAN" recipe: Xie et al. 2018;
 * Torkzadehmahani et al., "DP-CGAN", CVPR-W 2019; tuned as in Bie, Kamath & Zhang, "Private GANs,
 * Revisited", TMLR 2023).
 *
 * Generator G (Radford et al., "DCGAN", ICLR 2016, Sec. 3): [z ++ c] → Dense → s×s×W0 → BatchNorm → ReLU
 * → ConvTranspose(k4, s2) + BatchNorm + ReLU per stage → ConvTranspose to the image channels → sigmoid.
 * Discriminator D: [x ++ condition maps] → Conv(k4, s2) + LeakyReLU(0.2) → Conv(k4, s2) + GroupNorm +
 * LeakyReLU per further stage → h; logit = Dense(flatten(h)) + ⟨Embed(c), mean_hw(h)⟩, the projection
 * discriminator (Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018, Eq. 3). D has no
 * BatchNorm: its batch statistics would mix examples and break per-example clipping; GroupNorm (Wu & He
 * 2018) normalises each example on its own.
 * Objective: the non-saturating GAN loss (Goodfellow et al., NeurIPS 2014, Sec. 3):
 *   L_D = E_x softplus(−D(x, c)) + E_z softplus(D(G(z, c'), c')),   L_G = E_z softplus(−D(G(z, c'), c'))
 *
 * Privacy (DP-SGD on D only, src/privacy/dp-sgd.ts): only D reads real images, so only the real-image
 * term of L_D goes through per-unit clipping and noise. Every G update is a function of D's (private)
 * weights and public noise, i.e. post-processing, and costs no budget. Fakes in L_D (`fakeConditions`):
 * `paired` (default) — each real example is paired with a fake of its own condition cell, drawn from a
 * pool generated with stratified conditions, and the pair's gradient is clipped as part of that example's
 * unit; `uniform` — fakes with uniform conditions, their term outside the noise (clipped per example when
 * `clipFake`). G steps use uniform conditions. The accountant counts D steps: one Poisson batch per D step.
 * Training defaults under DP (Bie et al. 2023, Sec. 3.2–3.3, tune the D/G step ratio and learning rates
 * for the noise): for MNIST at ε = 10 they take 50 D steps per G step over 450 000 D steps (σ = 1, 128
 * images per step, their released configs), or raise the ratio whenever D's accuracy on fakes drops
 * (`dStepsSchedule: 'adaptive'`, models/dpgan/schedule.ts). More D steps cost little privacy: on the
 * phantom (3 537 patients, 32 per step) ε = 10 allows 1 100 D steps at σ = 0.57 or 10 000 at σ = 0.79
 * (`medsynth privacy noise`). What limits them here is compute — a 64 px DP step takes ~0.5 s on two
 * cores — and G, which gets one update per cycle. Measured (eval/results/dpgan.md): 10 D steps per G
 * step beat 1 : 1 at every point measured at ε = 10 — PneumoniaMNIST TSTR 81.7% on average over four
 * training seeds (40 epochs, 1 480 D steps, σ 0.87) vs 69.3% at 1 : 1 over the same steps; phantom 64 px
 * conditional accuracy 79% from scratch and 89% from a public pretraining run vs 50% (3 300 D steps,
 * σ 0.65). So a DP run takes 10 unless told otherwise (`privateDefaults` below); without DP it is 1.
 * Longer is not better on PneumoniaMNIST: 80–160 epochs gave 78% and a narrower "normal" class.
 * Adam 2e-4, β = (0.5, 0.999).
 * Batch size under DP: for a fixed number of epochs E and budget ε, the noise multiplier σ grows more
 * slowly than the sampling rate q, so a larger expected batch B = qN lowers the noise on each D step,
 * σC/B, much more than it cuts the number of steps T = E/q (Sander, Stock & Sablayrolles, "TAN Without a
 * Burn", ICML 2023, Sec. 3: what matters is σ/B at a given T). Phantom, 3 537 patients, ε = 10, 10
 * epochs: 32 patients per step → σ 0.57, noise σC/B = 0.018 C over 1 105 steps; 128 → σ 0.71, 0.0055 C
 * over 276 (`medsynth privacy noise`). `gSteps` gives G its updates back at no privacy cost. At 64 px
 * over ~1 100 D steps neither change, nor public pretraining (`--init-from`), nor 3–4 D steps per G step
 * reached usable samples at ε = 10: G overpowers the noisy D (eval/results/dpgan.md, second round).
 *
 * Collapse: when D rejects ≥ 99% of the fakes for `collapseWindow` consecutive D steps, G has stopped
 * fooling it (collapse or divergence); the step throws GeneratorCollapsedError. The check reads fakes
 * only, so it costs no privacy.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { ConfigError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { BatchNorm, Conv2d, ConvTranspose2d, Dense, GroupNorm, disposeLayers, namedVariables, paramsOf, restrictTape, selectLayers, type Layer, type Tape } from '../../src/nn/layers.js';
import { FusedAdam } from '../../src/nn/optim.js';
import { dpGradients } from '../../src/privacy/dp-sgd.js';
import { afterGeneratorStep, initialSchedule, type DStepSchedule } from './schedule.js';
import { conditionCells, conditionWidth, parseGeneratorConfig, encodeConditions, GeneratorCollapsedError, type ConditionSpec, type DpStepParams, type Generator, type GeneratorFactory, type PrivateBatch, type TrainBatch } from '../generator.js';

/** G: first feature map side and channel widths of the upsampling stages; D: widths of its conv stages. */
export const ARCH: Record<number, { side: number; g: number[]; d: number[] }> = {
  28: { side: 7, g: [128, 64], d: [32, 64] },
  32: { side: 8, g: [128, 64], d: [32, 64] },
  64: { side: 8, g: [128, 64, 32], d: [32, 64, 128] },
  128: { side: 8, g: [256, 128, 64, 32], d: [32, 64, 128, 256] },
};

export const DpganConfigSchema = z
  .object({
    latent: z.number().int().min(1).max(1024).default(64),
    lr: z.number().positive().default(2e-4),
    /** Generator learning rate (default: lr). */
    lrG: z.number().positive().optional(),
    beta1: z.number().min(0).max(1).default(0.5),
    beta2: z.number().min(0).max(1).default(0.999),
    /** D steps per G step; 1 without DP, 10 under DP (`privateDefaults`, see the header). */
    dSteps: z.number().int().min(1).max(1000).default(1),
    /**
     * G steps after each cycle of dSteps D steps, each with fresh noise and conditions. G steps are
     * post-processing of D, so they cost no privacy: with a large DP batch (few, less noisy D steps at a
     * given ε, see the header) they give G as many updates as a small batch would.
     */
    gSteps: z.number().int().min(1).max(100).default(1),
    /**
     * `fixed`: dSteps D steps per G step throughout. `adaptive`: start at dSteps and move up the ladder
     * 1, 2, 5, 10, 20, 50, … whenever the moving average of the share of fakes D rejects falls to
     * `adaptiveThreshold` (Bie et al. 2023; models/dpgan/schedule.ts). It reads D's scores on public fakes
     * only, so it costs no privacy.
     */
    dStepsSchedule: z.enum(['fixed', 'adaptive']).default('fixed'),
    adaptiveThreshold: z.number().min(0).max(1).default(0.6),
    /** Weight of the old value in the moving average, per G step. */
    adaptiveBeta: z.number().min(0).max(0.9999).default(0.95),
    /** G steps between two moves at least. */
    adaptiveGrace: z.number().int().min(1).default(25),
    /**
     * Highest D steps per G step the adaptive schedule moves to (default 1000, the top of the ladder: no
     * cap). Uncapped, it reached 50–100 within ~10 epochs on our runs and starved G (eval/results/dpgan.md).
     */
    adaptiveMaxDSteps: z.number().int().min(1).max(1000).default(1000),
    /** Consecutive D steps of ≥ 99% fake rejection that count as collapse. */
    collapseWindow: z.number().int().min(1).default(500),
    /**
     * Decay of the exponential moving average of G's weights that `sample` uses (0: sample from the raw
     * weights). Averaging is post-processing of G, so it costs no privacy. Default 0.995: it averages out
     * the step-to-step jitter a noisy discriminator gives G (eval/results/dpgan.md, tuning table).
     */
    emaDecay: z.number().min(0).max(0.99999).default(0.995),
    /**
     * DP steps: clip the fake term's per-example gradients at C too (no noise: fakes are not private).
     * Otherwise the clean, unclipped fake gradient swamps the clipped and noised real one and D learns to
     * call everything fake. Opacus-based DP-GANs (Bie et al. 2023; DPImageBench) clip every example D sees.
     */
    clipFake: z.boolean().default(true),
    /**
     * G's ×2 upsampling: `convT` = ConvTranspose(k4, s2) (DCGAN); `resize` = nearest-neighbour ×2 then
     * Conv(k3, s1), which avoids the transposed convolution's checkerboard artefacts (Odena, Dumoulin &
     * Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016). Default `resize`: under DP the
     * discriminator cannot afford to penalise high-frequency artefacts (eval/results/dpgan.md).
     */
    gUpsample: z.enum(['convT', 'resize']).default('resize'),
    /**
     * Conditions of the fakes in D's loss. `uniform`: drawn uniformly from the vocabulary. `paired`: each
     * real example is paired with a fake of its own condition cell, and under DP the pair's gradient is
     * clipped as one unit (Opacus-style DP-GANs clip every example D sees). Why: with uniform fakes and
     * imbalanced real conditions, D can score a condition on its own (log p_real(c)/p_fake(c)); under
     * per-example clipping that prior term dominates D's output and G learns one class's look for every
     * condition (eval/results/dpgan.md). Paired, fake and real conditions match and the prior cancels.
     * Privacy: the fakes come from a pool generated from public noise with stratified conditions; each real
     * example draws its partner from its cell's pool independently of the other examples, and the pair's
     * gradient is inside that unit's clipped contribution, so the sensitivity stays C.
     */
    fakeConditions: z.enum(['uniform', 'paired']).default('paired'),
    /** Channel widths of D's conv stages (default: ARCH[size].d); each stage halves the side. */
    dWidths: z.array(z.number().int().min(1).max(1024)).min(1).max(6).optional(),
    /**
     * Channel widths of G's upsampling stages (default: ARCH[size].g). G starts at ARCH[size].side and each
     * stage doubles the side, so it needs as many stages as ARCH[size].g. G is post-processing, so a wider G
     * costs compute only, no privacy.
     */
    gWidths: z.array(z.number().int().min(1).max(1024)).min(1).max(6).optional(),
    /**
     * D's layers that training updates: all (absent), or those whose name starts with one of these prefixes
     * (discriminator/conv<i>, discriminator/gn<i>, discriminator/head, discriminator/embed); the rest stay at
     * their initial weights. Meant with --init-from: DP fine-tunes a small part of a publicly pretrained D,
     * so its noise has fewer dimensions (the model card lists which parameters were private). G is
     * post-processing and always trains.
     */
    dTrainable: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type DpganConfig = z.infer<typeof DpganConfigSchema>;

const softplus = (x: tf.Tensor) => tf.softplus(x);

export class Dpgan implements Generator {
  readonly kind = 'dpgan';
  private readonly gIn: Dense;
  private readonly gBn: BatchNorm[];
  private readonly gUp: (ConvTranspose2d | Conv2d)[];
  private readonly dConv: Conv2d[];
  private readonly dNorm: GroupNorm[];
  private readonly dHead: Dense;
  private readonly dEmbed: Dense;
  /** D's layers that training updates (`dTrainable`); the others are frozen. */
  private readonly dTrained: Layer[];
  private readonly optD: FusedAdam;
  private readonly optG: FusedAdam;
  private readonly arch: { side: number; g: number[]; d: number[] };
  private readonly condWidth: number;
  private readonly noise: Rng;
  /** EMA shadows of G's variables by stable name (`emaDecay` > 0), else null. */
  private readonly gEma: Map<string, tf.Variable> | null;
  private rejectStreak = 0;
  /** D steps per G step now (and, when adaptive, the moving average that moves it). */
  private schedule: DStepSchedule;
  /** D steps since the last G step, and the fakes D rejected over them (summed shares). */
  private cycleSteps = 0;
  private cycleShare = 0;

  constructor(
    private readonly cfg: DpganConfig,
    readonly spec: ConditionSpec,
    readonly imageSize: number,
    readonly channels: 1 | 3,
    seed: number,
  ) {
    const arch = ARCH[imageSize];
    if (!arch) throw new ConfigError(`--size ${imageSize}: the DP-GAN supports ${Object.keys(ARCH).join(', ')}`);
    if (cfg.gWidths && cfg.gWidths.length !== arch.g.length) {
      throw new ConfigError(
        `--model-config gWidths: ${cfg.gWidths.length} stages given, but a ${imageSize} px generator needs ${arch.g.length} (it starts at ${arch.side} px and each stage doubles the side); give ${arch.g.length} widths, e.g. ${JSON.stringify(arch.g)}`,
      );
    }
    this.arch = { side: arch.side, g: cfg.gWidths ?? arch.g, d: cfg.dWidths ?? arch.d };
    this.condWidth = conditionWidth(spec);
    const rng = new Rng(seed);
    const init = rng.derive('init');
    this.noise = rng.derive('steps');
    const { side, g, d } = this.arch;
    this.gIn = new Dense('generator/in', cfg.latent + this.condWidth, side * side * g[0]!, init);
    this.gBn = [new BatchNorm('generator/bn0', g[0]!)];
    this.gUp = [];
    for (let i = 0; i < g.length; i++) {
      const last = i + 1 === g.length;
      const cout = last ? channels : g[i + 1]!;
      this.gUp.push(
        cfg.gUpsample === 'resize'
          ? new Conv2d(`generator/upconv${i}`, g[i]!, cout, 3, 1, 'same', init)
          : new ConvTranspose2d(`generator/convt${i}`, g[i]!, cout, 4, 2, 'same', init),
      );
      if (!last) this.gBn.push(new BatchNorm(`generator/bn${i + 1}`, g[i + 1]!));
    }
    let cin = channels + this.condWidth;
    this.dConv = d.map((co, i) => {
      const l = new Conv2d(`discriminator/conv${i}`, cin, co, 4, 2, 'same', init);
      cin = co;
      return l;
    });
    this.dNorm = d.slice(1).map((co, i) => new GroupNorm(`discriminator/gn${i + 1}`, co, Math.min(8, co)));
    const dSide = Math.ceil(imageSize / 2 ** d.length);
    this.dHead = new Dense('discriminator/head', dSide * dSide * d[d.length - 1]!, 1, init);
    this.dEmbed = new Dense('discriminator/embed', this.condWidth, d[d.length - 1]!, init);
    this.schedule = initialSchedule(cfg.dSteps);
    try {
      this.dTrained = selectLayers(this.dLayers, cfg.dTrainable ?? 'all');
    } catch (err) {
      disposeLayers([...this.gLayers, ...this.dLayers]);
      throw new ConfigError(`dpgan option dTrainable: ${(err as Error).message}`);
    }
    this.optD = new FusedAdam({ learningRate: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.optG = new FusedAdam({ learningRate: cfg.lrG ?? cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.gEma = cfg.emaDecay > 0 ? new Map([...namedVariables(this.gLayers)].map(([k, v]) => [k, tf.variable(v.clone() as tf.Tensor, false)])) : null;
  }

  /** The EMA shadow's stable name: `generator/ema/<layer>/<kind>`. */
  private static emaName(name: string): string {
    return `generator/ema/${name.slice('generator/'.length)}`;
  }

  /**
   * ema ← d·ema + (1 − d)·w after G step t (1-based), with the warm-up d = min(decay, (1 + t)/(10 + t))
   * (the num_updates rule of tf.train.ExponentialMovingAverage), so early random weights fade fast.
   */
  private updateEma(t: number): void {
    if (!this.gEma) return;
    const d = Math.min(this.cfg.emaDecay, (1 + t) / (10 + t));
    const current = namedVariables(this.gLayers);
    tf.tidy(() => {
      for (const [k, e] of this.gEma!) e.assign(tf.add(tf.mul(e, d), tf.mul(current.get(k)!, 1 - d)));
    });
  }

  private get gLayers(): Layer[] {
    return [this.gIn, ...this.gBn, ...this.gUp];
  }

  private get dLayers(): Layer[] {
    return [...this.dConv, ...this.dNorm, this.dHead, this.dEmbed];
  }

  /** G(z, c) in [0, 1]. `training`: BatchNorm on batch statistics (and updating its running ones). */
  generate(zs: tf.Tensor2D, cond: tf.Tensor2D, training: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const b = zs.shape[0];
      const { side, g } = this.arch;
      let h: tf.Tensor = tf.reshape(this.gIn.apply(tf.concat([zs, cond], 1)), [b, side, side, g[0]!]);
      h = tf.relu(this.gBn[0]!.apply(h, { training }));
      this.gUp.forEach((l, i) => {
        if (l instanceof Conv2d) h = tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [h.shape[1]! * 2, h.shape[2]! * 2]); // [B, 2s, 2s, C]
        h = l.apply(h);
        if (i + 1 < this.gUp.length) h = tf.relu(this.gBn[i + 1]!.apply(h, { training }));
      });
      return tf.sigmoid(h) as tf.Tensor4D;
    });
  }

  /** D's logits [B]. Pass `tape` to record the layers for per-example gradients. */
  discriminate(x: tf.Tensor4D, cond: tf.Tensor2D, given?: Tape): tf.Tensor1D {
    // Only the trained layers are recorded: the per-example norms, the clipping and the noise cover exactly
    // the parameters a step changes; frozen layers act as constants.
    const tape = given && this.dTrained.length < this.dLayers.length ? restrictTape(given, this.dTrained) : given;
    return tf.tidy(() => {
      const b = x.shape[0];
      // Condition maps [B, H, W, c] by broadcasting, not tf.tile: DP-SGD differentiates w.r.t. `cond` too
      // (per-example.ts), and tfjs's Tile gradient is one slice + add per replica (H·W of them).
      const maps = tf.mul(tf.reshape(cond, [b, 1, 1, this.condWidth]), tf.ones([1, this.imageSize, this.imageSize, 1]));
      let h: tf.Tensor = tf.leakyRelu(this.dConv[0]!.apply(tf.concat([x, maps], 3), { tape }), 0.2);
      for (let i = 1; i < this.dConv.length; i++) {
        h = tf.leakyRelu(this.dNorm[i - 1]!.apply(this.dConv[i]!.apply(h, { tape }), { tape }), 0.2);
      }
      const head = this.dHead.apply(tf.reshape(h, [b, -1]), { tape });
      const proj = tf.sum(tf.mul(this.dEmbed.apply(cond, { tape }), tf.mean(h, [1, 2])), 1, true);
      return tf.reshape(tf.add(head, proj), [b]) as tf.Tensor1D;
    });
  }

  /** n uniform draws from the condition vocabulary (public: never the private batch's conditions). */
  private uniformConditions(n: number, rng: Rng): tf.Tensor2D {
    const labels = Array.from({ length: n }, () => rng.int(this.spec.labels.length));
    const codes = this.spec.attributes.map((a) => Array.from({ length: n }, () => rng.int(a.values.length)));
    return tf.tensor2d(encodeConditions(this.spec, labels, codes), [n, this.condWidth]);
  }

  private latents(n: number, rng: Rng): tf.Tensor2D {
    return tf.randomNormal([n, this.cfg.latent], 0, 1, 'float32', rng.nextUint32()) as tf.Tensor2D;
  }

  /** Fake images and their conditions for a D step (G in training mode, outside any gradient). */
  private fakes(n: number, rng: Rng, given?: tf.Tensor2D): { images: tf.Tensor4D; cond: tf.Tensor2D } {
    const cond = given ? given.clone() : this.uniformConditions(n, rng.derive('cond'));
    const images = tf.tidy(() => this.generate(this.latents(n, rng.derive('z')), cond, true));
    return { images, cond };
  }

  /** Number of condition cells (labels × every attribute's values). */
  private get cellCount(): number {
    return conditionCells(this.spec);
  }

  /** Cell index of each condition row (mixed radix: label, then the attributes in order). Sync point. */
  private cellsOf(cond: tf.Tensor2D): Int32Array {
    const v = cond.dataSync();
    const w = this.condWidth;
    const blocks = [this.spec.labels.length, ...this.spec.attributes.map((a) => a.values.length)];
    return Int32Array.from({ length: cond.shape[0] }, (_, i) => {
      let cell = 0;
      let at = i * w;
      for (const n of blocks) {
        let k = 0;
        for (let j = 1; j < n; j++) if (v[at + j]! > v[at + k]!) k = j;
        cell = cell * n + k;
        at += n;
      }
      return cell;
    });
  }

  /** Condition rows for cell indices (inverse of cellsOf). */
  private cellConditions(cells: ArrayLike<number>): tf.Tensor2D {
    const sizes = this.spec.attributes.map((a) => a.values.length);
    const labels: number[] = [];
    const codes: number[][] = sizes.map(() => []);
    for (const c of Array.from(cells)) {
      let rest = c;
      for (let k = sizes.length - 1; k >= 0; k--) {
        codes[k]!.push(rest % sizes[k]!);
        rest = Math.floor(rest / sizes[k]!);
      }
      labels.push(rest);
    }
    return tf.tensor2d(encodeConditions(this.spec, labels, codes), [cells.length, this.condWidth]);
  }

  /**
   * `fakeConditions: paired` under DP. A pool of m fakes per cell (stratified conditions, public noise,
   * G in training mode: its batch statistics mix only public fakes), then for each real row an independent
   * uniform draw among its own cell's m fakes. Returns the pool and each real row's partner index.
   * @internal (exposed for tests)
   */
  pairedFakes(cond: tf.Tensor2D, nExpected: number, rng: Rng): { pool: { images: tf.Tensor4D; cond: tf.Tensor2D }; partner: Int32Array } {
    const cells = this.cellCount;
    const m = Math.max(1, Math.ceil(nExpected / cells));
    const poolCells = Int32Array.from({ length: cells * m }, (_, i) => Math.floor(i / m));
    const poolCond = this.cellConditions(poolCells);
    const pool = this.fakes(poolCells.length, rng, poolCond);
    poolCond.dispose();
    const draw = rng.derive('pair');
    const partner = Int32Array.from(cond.shape[0] ? this.cellsOf(cond) : [], (c) => c * m + draw.int(m));
    return { pool, partner };
  }

  /** G updates so far (G's optimiser step count). */
  get generatorSteps(): number {
    return this.optG.step;
  }

  /** Progress field of an adaptive schedule: the D steps per G step this D step belongs to. */
  private scheduleReport(): Record<string, number> {
    return this.cfg.dStepsSchedule === 'adaptive' ? { d_per_g: this.schedule.dSteps } : {};
  }

  /** D steps per G step now (fixed: dSteps; adaptive: the current rung). */
  get discriminatorStepsPerCycle(): number {
    return this.schedule.dSteps;
  }

  /**
   * Counts this D step (D rejected `share` of its fakes); when it closes a cycle of the schedule's D steps,
   * runs gSteps G steps and, when adaptive, updates the schedule. Returns the mean L_G, or NaN when no G
   * step ran.
   */
  private maybeGeneratorStep(n: number, rng: Rng, share: number): number {
    this.cycleSteps++;
    this.cycleShare += share;
    if (this.cycleSteps < this.schedule.dSteps) return Number.NaN;
    let sum = 0;
    for (let i = 0; i < this.cfg.gSteps; i++) sum += this.generatorStep(n, i === 0 ? rng : rng.derive(`g${i}`));
    if (this.cfg.dStepsSchedule === 'adaptive') {
      this.schedule = afterGeneratorStep(this.schedule, this.cycleShare / this.cycleSteps, {
        threshold: this.cfg.adaptiveThreshold,
        beta: this.cfg.adaptiveBeta,
        grace: this.cfg.adaptiveGrace,
        max: this.cfg.adaptiveMaxDSteps,
      });
    }
    this.cycleSteps = 0;
    this.cycleShare = 0;
    return sum / this.cfg.gSteps;
  }

  private generatorStep(n: number, rng: Rng): number {
    const cond = this.uniformConditions(n, rng.derive('g-cond'));
    const zs = this.latents(n, rng.derive('g-z'));
    try {
      const loss = this.optG.minimize(
        () => tf.mean(softplus(tf.neg(this.discriminate(this.generate(zs, cond, true), cond)))) as tf.Scalar,
        paramsOf(this.gLayers),
      );
      const v = loss.dataSync()[0]!;
      loss.dispose();
      this.updateEma(this.optG.step);
      return v;
    } finally {
      tf.dispose([cond, zs]);
    }
  }

  /** Tracks the share of fakes D rejects; throws on a long streak of near-total rejection. */
  private checkCollapse(fakeLogits: Float32Array, step: number): number {
    let rejected = 0;
    for (const v of fakeLogits) if (v < 0) rejected++;
    const share = fakeLogits.length ? rejected / fakeLogits.length : 0;
    this.rejectStreak = share >= 0.99 ? this.rejectStreak + 1 : 0;
    if (this.rejectStreak >= this.cfg.collapseWindow) {
      throw new GeneratorCollapsedError(
        `the GAN collapsed at step ${step + 1}: the discriminator has rejected >= 99% of generated images for ${this.rejectStreak} steps in a row, so the generator no longer learns; lower --lr, change --d-steps, or train fewer epochs`,
      );
    }
    return share;
  }

  private fakeLoss(fake: { images: tf.Tensor4D; cond: tf.Tensor2D }): { value: tf.Scalar; logits: tf.Tensor1D } {
    const logits = this.discriminate(fake.images, fake.cond);
    return { value: tf.mean(softplus(logits)) as tf.Scalar, logits };
  }

  /** Non-private step: D on the real batch and as many fakes, then (every dSteps) G. */
  trainStep(batch: TrainBatch, step: number): Record<string, number> {
    const rng = this.noise.derive(step);
    const b = batch.images.shape[0];
    const fake = this.fakes(b, rng, this.cfg.fakeConditions === 'paired' ? batch.cond : undefined);
    let fakeLogits: tf.Tensor | null = null;
    let realLoss: tf.Scalar | null = null;
    try {
      const dLoss = this.optD.minimize(() => {
        const real = tf.mean(softplus(tf.neg(this.discriminate(batch.images, batch.cond)))) as tf.Scalar;
        const f = this.fakeLoss(fake);
        fakeLogits = tf.keep(f.logits);
        realLoss = tf.keep(real);
        return tf.add(real, f.value) as tf.Scalar;
      }, paramsOf(this.dTrained));
      const d = dLoss.dataSync()[0]!;
      dLoss.dispose();
      const share = this.checkCollapse(fakeLogits!.dataSync() as Float32Array, step);
      const dReal = realLoss!.dataSync()[0]!;
      const dPerG = this.scheduleReport();
      const g = this.maybeGeneratorStep(b, rng, share);
      return { loss: d, d_real: dReal, d_fake: d - dReal, ...(Number.isNaN(g) ? {} : { g }), fake_rejected: share, ...dPerG };
    } finally {
      tf.dispose([fake.images, fake.cond, ...(fakeLogits ? [fakeLogits] : []), ...(realLoss ? [realLoss] : [])]);
    }
  }

  /**
   * DP step: the real term of L_D by DP-SGD (per-unit clipped, noised), plus the fake term's ordinary
   * gradient (post-processing), one Adam step on D; then (every dSteps) a G step. Fakes per step: the
   * expected real batch, so both terms are averages over the same nominal size.
   */
  privateStep(batch: PrivateBatch, step: number, dp: DpStepParams): Record<string, number> {
    if (this.cfg.fakeConditions === 'paired') return this.pairedPrivateStep(batch, step, dp);
    const rng = this.noise.derive(step);
    const b = batch.images.shape[0];
    const nFake = Math.max(1, Math.round(dp.expectedImages ?? dp.expectedUnits));
    const fake = this.fakes(nFake, rng);
    const params = paramsOf(this.dTrained);
    try {
      const real = dpGradients(
        params,
        b > 0 ? batch.images : null,
        (x, tape) => tf.sum(softplus(tf.neg(this.discriminate(x as tf.Tensor4D, batch.cond, tape)))) as tf.Scalar,
        batch.grouping,
        { ...dp, aux: [batch.cond] },
      );
      let fakeValue = 0;
      let share = 0;
      try {
        let fakeGrads: Map<tf.Variable, tf.Tensor>;
        if (this.cfg.clipFake) {
          // Same per-example clipping as the real term, σ = 0: balance, not privacy (the fakes are public).
          let logits: Float32Array = new Float32Array(0);
          const f = dpGradients(
            params,
            fake.images,
            (x, tape) => {
              const l = this.discriminate(x as tf.Tensor4D, fake.cond, tape);
              logits = l.dataSync() as Float32Array; // sync point (collapse check)
              return tf.sum(softplus(l)) as tf.Scalar;
            },
            null,
            { clipNorm: dp.clipNorm, noiseMultiplier: 0, expectedUnits: nFake, seed: 0, aux: [fake.cond] },
          );
          share = this.checkCollapse(logits, step);
          fakeValue = f.loss / nFake;
          fakeGrads = f.grads;
        } else {
          const { value, grads } = tf.variableGrads(() => {
            const f = this.fakeLoss(fake);
            share = this.checkCollapse(f.logits.dataSync() as Float32Array, step);
            return f.value;
          }, params);
          fakeValue = value.dataSync()[0]!;
          value.dispose();
          fakeGrads = new Map(params.map((p) => [p, grads[p.name]!]));
        }
        const total = params.map((p) => [p, tf.add(real.grads.get(p)!, fakeGrads.get(p)!)] as const);
        try {
          this.optD.applyGradients(total);
        } finally {
          tf.dispose([...fakeGrads.values(), ...total.map(([, g]) => g)]);
        }
      } finally {
        tf.dispose([...real.grads.values()]);
      }
      const dReal = b > 0 ? real.loss / b : 0;
      const dPerG = this.scheduleReport();
      const g = this.maybeGeneratorStep(nFake, rng, share);
      return { loss: dReal + fakeValue, d_real: dReal, d_fake: fakeValue, ...(Number.isNaN(g) ? {} : { g }), fake_rejected: share, clipped: real.clippedShare, batch: b, ...dPerG };
    } finally {
      tf.dispose([fake.images, fake.cond]);
    }
  }

  /**
   * DP step with `fakeConditions: paired`: every real row j and its partner fake (same cell) form one
   * term of L_D, softplus(−D(x_j, c_j)) + softplus(D(x̃_j, c_j)); the terms of a unit are summed, clipped
   * at C, summed over units and noised (dp-sgd.ts), so each unit's whole influence on D — its image, its
   * condition and the fake its condition picked — is bounded by C. The collapse check reads D's logits on
   * the public pool only.
   */
  private pairedPrivateStep(batch: PrivateBatch, step: number, dp: DpStepParams): Record<string, number> {
    const rng = this.noise.derive(step);
    const nExpected = Math.max(1, Math.round(dp.expectedImages ?? dp.expectedUnits));
    const params = paramsOf(this.dTrained);
    const r = this.pairedDGradients(batch, dp, rng, step);
    try {
      this.optD.applyGradients(params.map((p) => [p, r.grads.get(p)!] as const));
    } finally {
      tf.dispose([...r.grads.values()]);
    }
    const dPerG = this.scheduleReport();
    const g = this.maybeGeneratorStep(nExpected, rng, r.share);
    return { loss: r.dReal + r.dFake, d_real: r.dReal, d_fake: r.dFake, ...(Number.isNaN(g) ? {} : { g }), fake_rejected: r.share, clipped: r.clippedShare, batch: batch.images.shape[0], ...dPerG };
  }

  /**
   * @internal The noised D gradient of a paired DP step (exposed for tests; `rng` is the step's stream,
   * `stepRng(step)`). Caller disposes `grads`.
   */
  pairedDGradients(batch: PrivateBatch, dp: DpStepParams, rng: Rng, step = 0): { grads: Map<tf.Variable, tf.Tensor>; dReal: number; dFake: number; share: number; clippedShare: number } {
    const b = batch.images.shape[0];
    const nExpected = Math.max(1, Math.round(dp.expectedImages ?? dp.expectedUnits));
    const { pool, partner } = this.pairedFakes(batch.cond, nExpected, rng);
    const poolLogits = tf.tidy(() => this.discriminate(pool.images, pool.cond));
    const share = this.checkCollapse(poolLogits.dataSync() as Float32Array, step); // public: the pool only
    poolLogits.dispose();
    const { x, cond, sign } = tf.tidy(() => {
      const idx = tf.tensor1d(partner, 'int32');
      return {
        x: tf.concat([batch.images, tf.gather(pool.images, idx)], 0) as tf.Tensor4D,
        cond: tf.concat([batch.cond, tf.gather(pool.cond, idx)], 0) as tf.Tensor2D,
        sign: tf.concat([tf.fill([b], -1), tf.fill([b], 1)], 0),
      };
    });
    const unitOf = new Int32Array(2 * b);
    for (let i = 0; i < b; i++) unitOf[i] = unitOf[b + i] = batch.grouping ? batch.grouping.unitOf[i]! : i;
    const parts = [0, 0];
    try {
      const r = dpGradients(
        paramsOf(this.dTrained),
        b > 0 ? x : null,
        (xs, tape) => {
          const l = tf.mul(this.discriminate(xs as tf.Tensor4D, cond, tape), sign); // softplus(∓D): real −, fake +
          const v = l.dataSync(); // sync point: the real and fake halves of the loss, for progress output
          parts[0] = parts[1] = 0;
          for (let i = 0; i < 2 * b; i++) parts[i < b ? 0 : 1]! += Math.max(v[i]!, 0) + Math.log1p(Math.exp(-Math.abs(v[i]!)));
          return tf.sum(softplus(l)) as tf.Scalar;
        },
        { unitOf, units: batch.grouping ? batch.grouping.units : b },
        { ...dp, aux: [cond] },
      );
      return { grads: r.grads, dReal: b ? parts[0]! / b : 0, dFake: b ? parts[1]! / b : 0, share, clippedShare: r.clippedShare };
    } finally {
      tf.dispose([pool.images, pool.cond, x, cond, sign]);
    }
  }

  /** @internal The random stream of D step `step` (tests reproduce a step's fakes with it). */
  stepRng(step: number): Rng {
    return this.noise.derive(step);
  }

  privateLayers(): Layer[] {
    return this.dLayers;
  }

  trainedPrivateLayers(): Layer[] {
    return this.dTrained;
  }

  /** Samples from the EMA weights when `emaDecay` > 0 (swapped in for the call, then restored). */
  sample(cond: tf.Tensor2D, seed: number): tf.Tensor4D {
    const run = () =>
      tf.tidy(() => {
        const zs = tf.randomNormal([cond.shape[0], this.cfg.latent], 0, 1, 'float32', seed) as tf.Tensor2D;
        return this.generate(zs, cond, false);
      });
    if (!this.gEma) return run();
    const live = [...namedVariables(this.gLayers)].map(([k, v]) => [v, v.clone(), this.gEma!.get(k)!] as const);
    try {
      for (const [v, , e] of live) v.assign(e);
      return run();
    } finally {
      for (const [v, saved] of live) v.assign(saved);
      tf.dispose(live.map(([, saved]) => saved));
    }
  }

  weights(): Map<string, tf.Variable> {
    const all = namedVariables([...this.gLayers, ...this.dLayers]);
    for (const [k, e] of this.gEma ?? []) all.set(Dpgan.emaName(k), e);
    return all;
  }

  optimizerState(): { step: number; slots: Map<string, tf.Variable>; meta: Record<string, number> } {
    const slots = new Map<string, tf.Variable>();
    for (const [name, v] of this.weights()) {
      const s = (name.startsWith('generator/') ? this.optG : this.optD).slotsOf(v);
      if (s) {
        slots.set(`${name}/adam_m`, s.m);
        slots.set(`${name}/adam_v`, s.v);
      }
    }
    // step: D's. meta: G's step count and the D-step schedule's position, which an adaptive schedule makes
    // depend on the run's history (JSON has no NaN: ema −1 stands for "no G step yet").
    const { dSteps, ema, sinceMove } = this.schedule;
    return {
      step: this.optD.step,
      slots,
      meta: { generatorSteps: this.optG.step, dSteps, ema: Number.isNaN(ema) ? -1 : ema, sinceMove, cycleSteps: this.cycleSteps, cycleShare: this.cycleShare },
    };
  }

  restoreOptimizerState(state: { step: number; slots: Map<string, tf.Tensor>; meta?: Record<string, number> }): void {
    this.optD.step = state.step;
    const m = state.meta;
    if (m && Number.isFinite(m.generatorSteps) && Number.isFinite(m.dSteps)) {
      this.optG.step = m.generatorSteps!;
      this.schedule = { dSteps: m.dSteps!, ema: m.ema! < 0 ? Number.NaN : m.ema!, sinceMove: m.sinceMove ?? 0 };
      this.cycleSteps = m.cycleSteps ?? 0;
      this.cycleShare = m.cycleShare ?? 0;
    } else {
      // Checkpoints before the schedule state was saved: fixed schedule, G's count derived.
      this.optG.step = Math.floor(state.step / this.cfg.dSteps) * this.cfg.gSteps;
      this.cycleSteps = state.step % this.cfg.dSteps;
    }
    for (const [name, v] of this.weights()) {
      const m = state.slots.get(`${name}/adam_m`);
      const s = state.slots.get(`${name}/adam_v`);
      if (m && s) (name.startsWith('generator/') ? this.optG : this.optD).setSlots(v, m, s);
    }
  }

  architecture(): Record<string, unknown> {
    const { side, g, d } = this.arch;
    return {
      generator: [
        `input z(${this.cfg.latent}) ++ condition(${this.condWidth})`,
        `dense -> ${side}x${side}x${g[0]}, batchnorm, relu`,
        ...g.map((_, i) => `${this.cfg.gUpsample === 'resize' ? 'nearest x2, conv k3 s1' : 'convT k4 s2'} -> ${i + 1 < g.length ? g[i + 1] + ' ch, batchnorm, relu' : this.channels + ' ch, sigmoid'}`),
      ],
      discriminator: [
        `input ${this.imageSize}x${this.imageSize}x${this.channels} ++ ${this.condWidth} condition maps`,
        ...d.map((w, i) => `conv k4 s2 -> ${w} ch${i > 0 ? `, groupnorm(${Math.min(8, w)})` : ''}, leaky relu 0.2`),
        'logit = dense(flatten) + <embed(condition), mean-pooled features> (projection)',
      ],
      parameters: { generator: paramsOf(this.gLayers).reduce((a, v) => a + v.size, 0), discriminator: paramsOf(this.dLayers).reduce((a, v) => a + v.size, 0) },
      ...(this.dTrained.length < this.dLayers.length
        ? { discriminatorTrained: this.dTrained.map((l) => l.name), discriminatorTrainedParameters: paramsOf(this.dTrained).reduce((a, v) => a + v.size, 0), discriminatorFrozen: this.dLayers.filter((l) => !this.dTrained.includes(l)).map((l) => l.name) }
        : {}),
    };
  }

  config(): Record<string, unknown> {
    return { ...this.cfg };
  }

  dispose(): void {
    disposeLayers([...this.gLayers, ...this.dLayers]);
    tf.dispose([...(this.gEma?.values() ?? [])]);
    this.optD.dispose();
    this.optG.dispose();
  }
}

export const dpganFactory: GeneratorFactory = {
  kind: 'dpgan',
  // Under DP, 10 D steps per G step (the schema's 1 stays the default without DP): it beat 1 : 1 at every
  // point measured at ε = 10 (header; eval/results/dpgan.md).
  privateDefaults: { dSteps: 10 },
  create(config, spec, shape, seed) {
    return new Dpgan(parseGeneratorConfig('dpgan', DpganConfigSchema, config), spec, shape.size, shape.channels, seed);
  },
};
