/**
 * The three architectures of the throughput benchmark (issue #3), built from src/nn layers, mirroring
 * eval/bench/throughput_torch.py layer for layer. Batch 64; every conv kernel 4, stride 2, 'same'
 * padding (= PyTorch padding 1 here); condition c = one-hot(class, 2) ++ one-hot(group, 2), also
 * broadcast as 4 constant image channels ("cond maps").
 *
 *   cvae28: enc [x ++ maps] 5×28×28 → Conv32 14 → ReLU → Conv64 7 → ReLU → Dense(32) = (μ 16, logσ² 16);
 *           z = μ + exp(logσ²/2)·ε; dec [z ++ c] → Dense(3136) → ReLU → 64×7×7 → ConvT32 14 → ReLU →
 *           ConvT1 28 (logits). Loss = BCE-with-logits summed over pixels / B + KL / B. Adam 1e-3
 *           (src/nn/optim.ts's fused Adam, ε = 1e-8 as in PyTorch).
 *   cvae64: Conv32 32 → Conv64 16 → Conv128 8 → Dense(32); Dense(8192) → 128×8×8 → ConvT64 → ConvT32 → ConvT1.
 *   gan28:  D [x ++ maps] → Conv64 → LeakyReLU 0.2 → Conv128 → GroupNorm(32) → LeakyReLU → Dense(1);
 *           G [z(100) ++ c] → Dense(6272) → BatchNorm → ReLU → 128×7×7 → ConvT64 → BatchNorm → ReLU →
 *           ConvT1 → tanh. A step = one D step on 64 real + 64 fake, then one G step; Adam 2e-4 (0.5, 0.999).
 *
 * DP variants (issue #5's benchmark, eval/bench/dp.ts), DP-SGD by src/privacy/dp-sgd.ts with C = 1, σ = 1,
 * expected units = the batch (a fixed batch, not Poisson: the question is the cost per batch):
 *   cvae   dpStep:  one DP-SGD step of the whole model (every layer sees the private images).
 *   gan28  dpStep:  a DP D step — real images through DP-SGD, plus the ordinary gradient of the fake half
 *                   (fake images are post-processing of DP outputs, they do not touch private data) —
 *                   then the same G step as step().
 *          dStep / dpDStep: the D step alone, non-DP vs DP, on a fake batch made once (on first use)
 *                   (so neither includes a G forward).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { BatchNorm, Conv2d, ConvTranspose2d, Dense, GroupNorm, disposeLayers, paramsOf, type Layer, type Tape } from '../../src/nn/layers.js';
import { FusedAdam } from '../../src/nn/optim.js';
import { dpGradients } from '../../src/privacy/dp-sgd.js';

export const ARCH_NAMES = ['cvae28', 'cvae64', 'gan28'] as const;
export type ArchName = (typeof ARCH_NAMES)[number];
export const DEFAULT_BATCH = 64;
/** DP-SGD settings of the DP variants: clip norm C and noise multiplier σ. */
export const DP_BENCH = { clipNorm: 1, noiseMultiplier: 1 } as const;

/** A benchmark workload: `step()` runs one training step and returns nothing; `dispose()` frees it. */
export interface Workload {
  name: ArchName;
  /** Images per step (the batch). */
  images: number;
  step(): void;
  /** Loss of the last step (reads back one scalar: a sync point). */
  lastLoss(): number;
  /** All trainable variables, in a fixed order. */
  params(): tf.Variable[];
  /** The step's loss(es) and their gradients w.r.t. params(), without updating anything. */
  gradients(): { loss: number; grads: Float32Array[] };
  dispose(): void;
  /** One DP-SGD training step (see the header); lastLoss() then reads its loss. */
  dpStep?(): void;
  /** gan28 only: the D step alone, non-DP. */
  dStep?(): void;
  /** gan28 only: the D step alone, DP (real half through DP-SGD). */
  dpDStep?(): void;
  /** The private part of dpStep as dpGradients sees it (for eval/bench/dp.ts's breakdown of a DP step). */
  dpProblem?(): DpProblem;
}

/** A private module: its parameters, the private batch, and the loss SUMMED over the batch's images. */
export interface DpProblem {
  params: tf.Variable[];
  x: tf.Tensor;
  sumLoss: (x: tf.Tensor, tape?: Tape) => tf.Scalar;
}

/** [B, 4] condition rows and their [B, S, S, 4] constant maps. */
function conditions(rng: Rng, b: number, size: number): { c: tf.Tensor2D; maps: tf.Tensor4D } {
  const rows = new Float32Array(b * 4);
  for (let i = 0; i < b; i++) {
    rows[i * 4 + rng.int(2)] = 1;
    rows[i * 4 + 2 + rng.int(2)] = 1;
  }
  const c = tf.tensor2d(rows, [b, 4]);
  const maps = tf.tidy(() => tf.tile(tf.reshape(c, [b, 1, 1, 4]), [1, size, size, 1]) as tf.Tensor4D);
  return { c, maps };
}

function randomImages(rng: Rng, b: number, size: number, lo: number, hi: number): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from({ length: b * size * size }, () => rng.range(lo, hi)), [b, size, size, 1]);
}

export function makeCvae(size: 28 | 64, seed = 0, batch = DEFAULT_BATCH): Workload {
  const rng = new Rng(seed);
  const chans = size === 28 ? [32, 64] : [32, 64, 128];
  const side = size / 2 ** chans.length;
  const flat = chans[chans.length - 1]! * side * side;
  const enc: Layer[] = [];
  let cin = 5;
  chans.forEach((co, i) => {
    enc.push(new Conv2d(`enc/conv${i}`, cin, co, 4, 2, 'same', rng));
    cin = co;
  });
  const head = new Dense('enc/head', flat, 32, rng);
  const decIn = new Dense('dec/in', 16 + 4, flat, rng);
  const rev = [...chans].reverse();
  const dec = rev.map((ci, i) => new ConvTranspose2d(`dec/convt${i}`, ci, i + 1 < rev.length ? rev[i + 1]! : 1, 4, 2, 'same', rng));
  const layers: Layer[] = [...enc, head, decIn, ...dec];
  const optimizer = new FusedAdam({ learningRate: 1e-3 });
  const x = randomImages(rng, batch, size, 0, 1);
  const { c, maps } = conditions(rng, batch, size);
  const noiseSeed = rng.derive('eps');
  const dpSeed = rng.derive('dp');
  let loss: tf.Scalar | null = null;

  /** The batch-mean loss of images `xi` (the batch x by default); `tape` records every layer for DP-SGD. */
  const lossFn = (xi: tf.Tensor = x, tape?: Tape): tf.Scalar => {
    let h: tf.Tensor = tf.concat([xi, maps], 3);
    for (const l of enc) h = tf.relu(l.apply(h, { tape }));
    const stats = head.apply(tf.reshape(h, [batch, flat]), { tape }) as tf.Tensor2D;
    const mu = tf.slice(stats, [0, 0], [batch, 16]);
    const logvar = tf.slice(stats, [0, 16], [batch, 16]);
    const eps = tf.randomNormal([batch, 16], 0, 1, 'float32', noiseSeed.nextUint32());
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
    let d: tf.Tensor = tf.reshape(tf.relu(decIn.apply(tf.concat([z, c], 1), { tape })), [batch, side, side, rev[0]!]);
    dec.forEach((l, i) => {
      d = l.apply(d, { tape });
      if (i + 1 < dec.length) d = tf.relu(d);
    });
    const rec = tf.div(tf.sum(tf.losses.sigmoidCrossEntropy(xi, d, undefined, undefined, tf.Reduction.NONE)), batch);
    const kl = tf.div(tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))))), batch);
    return tf.add(rec, kl) as tf.Scalar;
  };
  // The per-example loss is the batch-mean loss's summand, so the summed loss is batch · mean (as in
  // models/cvae privateStep).
  const sumLoss = (xi: tf.Tensor, tape?: Tape): tf.Scalar => tf.tidy(() => tf.mul(lossFn(xi, tape), batch) as tf.Scalar);
  return {
    name: size === 28 ? 'cvae28' : 'cvae64',
    images: batch,
    step() {
      const next = optimizer.minimize(() => lossFn(), paramsOf(layers));
      loss?.dispose();
      loss = next;
    },
    dpStep() {
      const r = dpGradients(paramsOf(layers), x, sumLoss, null, { ...DP_BENCH, expectedUnits: batch, seed: dpSeed.nextUint32() });
      try {
        optimizer.applyGradients([...r.grads]);
      } finally {
        tf.dispose([...r.grads.values()]);
      }
      loss?.dispose();
      loss = tf.scalar(r.loss / batch);
    },
    dpProblem: () => ({ params: paramsOf(layers), x, sumLoss }),
    lastLoss: () => (loss ? loss.dataSync()[0]! : NaN),
    params: () => paramsOf(layers),
    gradients() {
      const { value, grads } = tf.variableGrads(() => lossFn(), paramsOf(layers));
      const out = { loss: value.dataSync()[0]!, grads: paramsOf(layers).map((p) => grads[p.name]!.dataSync() as Float32Array) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    },
    dispose() {
      loss?.dispose();
      optimizer.dispose();
      disposeLayers(layers);
      tf.dispose([x, c, maps]);
    },
  };
}

export function makeGan(seed = 0, batch = DEFAULT_BATCH): Workload {
  const rng = new Rng(seed);
  const dConv1 = new Conv2d('d/conv0', 5, 64, 4, 2, 'same', rng);
  const dConv2 = new Conv2d('d/conv1', 64, 128, 4, 2, 'same', rng);
  const dNorm = new GroupNorm('d/gn', 128, 32);
  const dOut = new Dense('d/out', 128 * 7 * 7, 1, rng);
  const gIn = new Dense('g/in', 104, 6272, rng);
  const gBn0 = new BatchNorm('g/bn0', 6272);
  const gT1 = new ConvTranspose2d('g/convt0', 128, 64, 4, 2, 'same', rng);
  const gBn1 = new BatchNorm('g/bn1', 64);
  const gT2 = new ConvTranspose2d('g/convt1', 64, 1, 4, 2, 'same', rng);
  const dLayers: Layer[] = [dConv1, dConv2, dNorm, dOut];
  const gLayers: Layer[] = [gIn, gBn0, gT1, gBn1, gT2];
  const optD = new FusedAdam({ learningRate: 2e-4, beta1: 0.5, beta2: 0.999 });
  const optG = new FusedAdam({ learningRate: 2e-4, beta1: 0.5, beta2: 0.999 });
  const real = randomImages(rng, batch, 28, -1, 1);
  const { c, maps } = conditions(rng, batch, 28);
  const ones = tf.ones([batch, 1]);
  const zeros = tf.zeros([batch, 1]);
  const zSeed = rng.derive('z');
  const dpSeed = rng.derive('dp');
  let loss: tf.Scalar | null = null;

  /** D's logits [B, 1]; `tape` records D's layers for DP-SGD. */
  const disc = (img: tf.Tensor, tape?: Tape): tf.Tensor => {
    let h = tf.leakyRelu(dConv1.apply(tf.concat([img, maps], 3), { tape }), 0.2);
    h = tf.leakyRelu(dNorm.apply(dConv2.apply(h, { tape }), { tape }), 0.2);
    return dOut.apply(tf.reshape(h, [batch, 128 * 7 * 7]), { tape });
  };
  const gen = (z: tf.Tensor): tf.Tensor => {
    let h = tf.relu(gBn0.apply(gIn.apply(tf.concat([z, c], 1)), { training: true }));
    h = tf.reshape(h, [batch, 7, 7, 128]);
    h = tf.relu(gBn1.apply(gT1.apply(h), { training: true }));
    return tf.tanh(gT2.apply(h));
  };
  const bce = (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.sigmoidCrossEntropy(labels, logits);
  // The fixed fake batch of dStep/dpDStep, made on first use (so that neither times a G forward, and
  // step()/gradients() run exactly as without it).
  let fixedFake: tf.Tensor | null = null;
  const getFixedFake = (): tf.Tensor =>
    (fixedFake ??= tf.tidy(() => gen(tf.randomNormal([batch, 100], 0, 1, 'float32', rng.derive('fixed-fake').nextUint32()))));
  /** One non-DP D update on real + `fake`; returns the D loss (caller owns it). */
  const dUpdate = (fake: tf.Tensor): tf.Scalar =>
    optD.minimize(() => tf.add(bce(ones, disc(real)), bce(zeros, disc(fake))) as tf.Scalar, paramsOf(dLayers));
  /**
   * One DP D update: the real half's noisy clipped mean gradient (per-example BCE summed over the batch,
   * divided by the expected batch by dpGradients, i.e. the mean loss's gradient) plus the fake half's
   * ordinary gradient. Returns the D loss (caller owns it).
   */
  const realSumLoss = (x: tf.Tensor, tape?: Tape): tf.Scalar =>
    tf.tidy(() => tf.losses.sigmoidCrossEntropy(ones, disc(x, tape), undefined, undefined, tf.Reduction.SUM) as tf.Scalar);
  const dpDUpdate = (fake: tf.Tensor): tf.Scalar => {
    const params = paramsOf(dLayers);
    const r = dpGradients(params, real, realSumLoss, null, { ...DP_BENCH, expectedUnits: batch, seed: dpSeed.nextUint32() });
    const f = tf.variableGrads(() => bce(zeros, disc(fake)) as tf.Scalar, params);
    try {
      const pairs = params.map((p) => [p, tf.add(r.grads.get(p)!, f.grads[p.name]!)] as const);
      try {
        optD.applyGradients(pairs);
      } finally {
        tf.dispose(pairs.map(([, g]) => g));
      }
      return tf.tidy(() => tf.add(f.value, r.loss / batch) as tf.Scalar);
    } finally {
      tf.dispose([...r.grads.values(), f.value, ...Object.values(f.grads)]);
    }
  };
  /** The G step after a D step; returns the G loss. */
  const gUpdate = (z: tf.Tensor): tf.Scalar => optG.minimize(() => bce(ones, disc(gen(z))) as tf.Scalar, paramsOf(gLayers));
  const setLoss = (next: tf.Scalar) => {
    loss?.dispose();
    loss = next;
  };
  return {
    name: 'gan28',
    images: batch,
    step() {
      const z = tf.randomNormal([batch, 100], 0, 1, 'float32', zSeed.nextUint32());
      // The fake batch is computed once and held fixed (detached) for the D step, as in the peer.
      const fake = tf.tidy(() => gen(z));
      const dLoss = optD.minimize(() => tf.add(bce(ones, disc(real)), bce(zeros, disc(fake))) as tf.Scalar, paramsOf(dLayers));
      const gLoss = optG.minimize(() => bce(ones, disc(gen(z))) as tf.Scalar, paramsOf(gLayers));
      tf.dispose([z, fake, dLoss]);
      loss?.dispose();
      loss = gLoss;
    },
    dpStep() {
      const z = tf.randomNormal([batch, 100], 0, 1, 'float32', zSeed.nextUint32());
      const fake = tf.tidy(() => gen(z));
      const dLoss = dpDUpdate(fake);
      const gLoss = gUpdate(z);
      tf.dispose([z, fake, dLoss]);
      setLoss(gLoss);
    },
    dStep: () => setLoss(dUpdate(getFixedFake())),
    dpDStep: () => setLoss(dpDUpdate(getFixedFake())),
    dpProblem: () => ({ params: paramsOf(dLayers), x: real, sumLoss: realSumLoss }),
    lastLoss: () => (loss ? loss.dataSync()[0]! : NaN),
    params: () => paramsOf([...dLayers, ...gLayers]),
    gradients() {
      // D's gradients from the D loss, then G's from the G loss, in params() order.
      const z = tf.randomNormal([batch, 100], 0, 1, 'float32', zSeed.nextUint32());
      const fake = tf.tidy(() => gen(z));
      const d = tf.variableGrads(() => tf.add(bce(ones, disc(real)), bce(zeros, disc(fake))) as tf.Scalar, paramsOf(dLayers));
      const g = tf.variableGrads(() => bce(ones, disc(gen(z))) as tf.Scalar, paramsOf(gLayers));
      const out = {
        loss: d.value.dataSync()[0]! + g.value.dataSync()[0]!,
        grads: [
          ...paramsOf(dLayers).map((p) => d.grads[p.name]!.dataSync() as Float32Array),
          ...paramsOf(gLayers).map((p) => g.grads[p.name]!.dataSync() as Float32Array),
        ],
      };
      tf.dispose([z, fake, d.value, g.value, ...Object.values(d.grads), ...Object.values(g.grads)]);
      return out;
    },
    dispose() {
      loss?.dispose();
      optD.dispose();
      optG.dispose();
      disposeLayers([...dLayers, ...gLayers]);
      tf.dispose([real, c, maps, ones, zeros, ...(fixedFake ? [fixedFake] : [])]);
    },
  };
}

export function makeWorkload(name: ArchName, seed = 0, batch = DEFAULT_BATCH): Workload {
  return name === 'gan28' ? makeGan(seed, batch) : makeCvae(name === 'cvae28' ? 28 : 64, seed, batch);
}
