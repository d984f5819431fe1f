/**
 * Oracle test (opacus grad_samples style): per-example gradient norms and the clipped sum computed in one
 * batched pass equal a loop of batch-of-one tf.grads, to 1e-5 relative, for a dense network.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { loadNativeAddon } from '../../../src/backend/native.js';
import { getConvPerExample, setConvPerExample } from '../../../src/core/accelerators.js';
import { Rng } from '../../../src/core/rng.js';
import { Conv2d, ConvTranspose2d, Dense, GroupNorm, disposeLayers, paramsOf, type Tape } from '../../../src/nn/layers.js';
import { clipFactors } from '../../../src/privacy/clip-noise.js';
import { CaptureTape, clippedSum, perExampleNorms } from '../../../src/privacy/per-example.js';
import { maxDiff } from '../../helpers/compare.js';

/**
 * The oracle: a loop of batch-of-one tf.grads. Checks each example's squared gradient norm against
 * `squaredNorms` and the clipped sum (clip norm C) against `sums`, both to 1e-5 relative.
 */
function checkAgainstLoop(
  params: tf.Variable[],
  lossOfExample: (i: number) => tf.Scalar,
  b: number,
  squaredNorms: Float32Array,
  sums: Map<tf.Variable, tf.Tensor>,
  clipNorm: number,
): void {
  const expectedSum = params.map((p) => new Float64Array(p.size));
  for (let i = 0; i < b; i++) {
    const { grads } = tf.variableGrads(() => lossOfExample(i), params);
    const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
    const norm2 = gs.reduce((a, g) => a + g.reduce((s2, v) => s2 + v * v, 0), 0);
    expect(Math.abs(squaredNorms[i]! - norm2) / norm2, `example ${i}`).toBeLessThan(1e-5);
    const c = Math.min(1, clipNorm / Math.sqrt(norm2));
    gs.forEach((g, k) => g.forEach((v, j) => (expectedSum[k]![j]! += c * v)));
    tf.dispose(Object.values(grads));
  }
  params.forEach((p, k) => {
    const { diff, scale } = maxDiff(sums.get(p)!.dataSync(), expectedSum[k]!);
    expect(diff, p.name).toBeLessThanOrEqual(1e-5 * scale);
  });
}

describe.each(['wasm', 'cpu'] as const)('per-example gradients on %s', (backend) => {
  it('equal a loop of batch-of-one gradients: norms and clipped sum', async () => {
    await initBackend(backend);
    const rng = new Rng(5);
    const l1 = new Dense('pe/d1', 6, 8, rng);
    const l2 = new Dense('pe/d2', 8, 3, rng);
    const params = paramsOf([l1, l2]);
    const b = 7;
    const x = tf.tensor2d(Float32Array.from({ length: b * 6 }, () => rng.normal()), [b, 6]);
    const y = tf.tensor2d(Float32Array.from({ length: b * 3 }, () => rng.normal()), [b, 3]);
    const perExampleLoss = (xi: tf.Tensor, yi: tf.Tensor, tape?: Tape) =>
      tf.sum(tf.square(tf.sub(l2.apply(tf.tanh(l1.apply(xi, { tape })), { tape }), yi)), 1);

    // Batched.
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, y, t)) as tf.Scalar, tape);
    const factors = Float32Array.from(clipFactors(r.squaredNorms, 0.5));
    const sums = clippedSum(tape, factors);

    checkAgainstLoop(
      params,
      (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0], [1, 6]), tf.slice(y, [i, 0], [1, 3]))) as tf.Scalar,
      b,
      r.squaredNorms,
      sums,
      0.5,
    );
    tf.dispose([...sums.values(), x, y]);
    tape.dispose();
    disposeLayers([l1, l2]);
  });

  it('leaks no tensors per step', async () => {
    await initBackend(backend);
    const rng = new Rng(6);
    const l1 = new Dense('pe/m1', 4, 5, rng);
    const x = tf.tensor2d(Float32Array.from({ length: 12 }, () => rng.normal()), [3, 4]);
    const step = () => {
      const tape = new CaptureTape();
      const r = perExampleNorms(x, (xi, t) => tf.sum(tf.square(l1.apply(xi, { tape: t }))) as tf.Scalar, tape);
      const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, 1)));
      tf.dispose([...sums.values()]);
      tape.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeLayers([l1]);
  });

  it('equal a loop of batch-of-one gradients for conv and transposed-conv layers', async () => {
    await initBackend(backend);
    const rng = new Rng(8);
    const conv = new Conv2d('pe/conv', 2, 3, 4, 2, 'same', rng);
    const convT = new ConvTranspose2d('pe/convt', 3, 2, 4, 2, 'same', rng);
    const conv3 = new Conv2d('pe/conv3', 2, 2, 3, 1, 'same', rng);
    const params = paramsOf([conv, convT, conv3]);
    const b = 5;
    const x = tf.tensor4d(Float32Array.from({ length: b * 8 * 8 * 2 }, () => rng.normal()), [b, 8, 8, 2]);
    const y = tf.tensor4d(Float32Array.from({ length: b * 8 * 8 * 2 }, () => rng.normal()), [b, 8, 8, 2]);
    const perExampleLoss = (xi: tf.Tensor, yi: tf.Tensor, tape?: Tape) => {
      const h = tf.tanh(conv.apply(xi, { tape }));
      const o = conv3.apply(tf.tanh(convT.apply(h, { tape })), { tape });
      return tf.sum(tf.square(tf.sub(o, yi)), [1, 2, 3]);
    };
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, y, t)) as tf.Scalar, tape);
    const factors = Float32Array.from(clipFactors(r.squaredNorms, 0.3));
    const sums = clippedSum(tape, factors);
    checkAgainstLoop(
      params,
      (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0, 0, 0], [1, 8, 8, 2]), tf.slice(y, [i, 0, 0, 0], [1, 8, 8, 2]))) as tf.Scalar,
      b,
      r.squaredNorms,
      sums,
      0.3,
    );
    tf.dispose([...sums.values(), x, y]);
    tape.dispose();
    disposeLayers([conv, convT, conv3]);
  });

  it('equal a loop of batch-of-one gradients for GroupNorm and valid-padded conv layers', async () => {
    await initBackend(backend);
    const rng = new Rng(9);
    const conv = new Conv2d('pe/gconv', 2, 4, 3, 2, 'valid', rng);
    const gn = new GroupNorm('pe/gn', 4, 2);
    const head = new Dense('pe/ghead', 4 * 3 * 3, 1, rng);
    // Non-trivial gamma and beta, so their gradients are not symmetric.
    gn.gamma.assign(tf.tensor1d([0.5, 1.5, -1, 2]));
    gn.beta.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
    const params = paramsOf([conv, gn, head]);
    const b = 4;
    const x = tf.tensor4d(Float32Array.from({ length: b * 7 * 7 * 2 }, () => rng.normal()), [b, 7, 7, 2]);
    const perExampleLoss = (xi: tf.Tensor, tape?: Tape) => {
      const h = tf.leakyRelu(gn.apply(conv.apply(xi, { tape }), { tape }), 0.2);
      return tf.square(head.apply(tf.reshape(h, [xi.shape[0]!, -1]), { tape }));
    };
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, t)) as tf.Scalar, tape);
    const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, 0.2)));
    checkAgainstLoop(params, (i) => tf.sum(perExampleLoss(tf.slice(x, [i, 0, 0, 0], [1, 7, 7, 2]))) as tf.Scalar, b, r.squaredNorms, sums, 0.2);
    tf.dispose([...sums.values(), x]);
    tape.dispose();
    disposeLayers([conv, gn, head]);
  });

  it('clip the SUM of a patient\'s image gradients: unit norms equal a loop over patients, and a 3-image patient contributes at most C', async () => {
    await initBackend(backend);
    const rng = new Rng(10);
    const conv = new Conv2d('pe/uconv', 1, 3, 3, 1, 'same', rng);
    const head = new Dense('pe/uhead', 3 * 5 * 5, 2, rng);
    const params = paramsOf([conv, head]);
    // 6 images of 3 patients: patient 0 has images 0, 2, 5; patient 1 has 1; patient 2 has 3, 4.
    const unitOf = Int32Array.from([0, 1, 0, 2, 2, 0]);
    const members = [[0, 2, 5], [1], [3, 4]];
    const b = 6;
    const x = tf.tensor4d(Float32Array.from({ length: b * 25 }, () => rng.normal()), [b, 5, 5, 1]);
    const perExampleLoss = (xi: tf.Tensor, tape?: Tape) =>
      tf.sum(tf.square(head.apply(tf.reshape(tf.tanh(conv.apply(xi, { tape })), [xi.shape[0]!, -1]), { tape })), 1);
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExampleLoss(xi, t)) as tf.Scalar, tape, { unitOf, units: 3 });
    expect(r.squaredNorms.length).toBe(3);
    const clip = 0.05;
    const unitFactors = clipFactors(r.squaredNorms, clip);
    const imageFactors = Float32Array.from(unitOf, (u) => unitFactors[u]!);
    const sums = clippedSum(tape, imageFactors);
    // Oracle: the gradient of each patient's summed loss, by tf.grads on just that patient's images.
    const expectedSum = params.map((p) => new Float64Array(p.size));
    members.forEach((imgs, u) => {
      const { grads } = tf.variableGrads(() => tf.sum(perExampleLoss(tf.gather(x, imgs))) as tf.Scalar, params);
      const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
      const norm2 = gs.reduce((a, g) => a + g.reduce((s2, v) => s2 + v * v, 0), 0);
      expect(Math.abs(r.squaredNorms[u]! - norm2) / norm2, `patient ${u}`).toBeLessThan(1e-5);
      const c = Math.min(1, clip / Math.sqrt(norm2));
      gs.forEach((g, k) => g.forEach((v, j) => (expectedSum[k]![j]! += c * v)));
      tf.dispose(Object.values(grads));
    });
    params.forEach((p, k) => {
      const { diff, scale } = maxDiff(sums.get(p)!.dataSync(), expectedSum[k]!);
      expect(diff, p.name).toBeLessThanOrEqual(1e-5 * scale);
    });
    // The 3-image patient alone: its clipped contribution has norm at most C (the image-level norms of
    // its images may each be near C, so per-image clipping would have allowed up to 3C).
    const alone = clippedSum(tape, Float32Array.from(unitOf, (u) => (u === 0 ? unitFactors[0]! : 0)));
    const norm0 = Math.sqrt(params.reduce((a, p) => a + (alone.get(p)!.dataSync() as Float32Array).reduce((s2, v) => s2 + v * v, 0), 0));
    expect(norm0).toBeLessThanOrEqual(clip * (1 + 1e-5));
    expect(norm0).toBeGreaterThan(clip * 0.99); // it was clipped, not zeroed
    tf.dispose([...sums.values(), ...alone.values(), x]);
    tape.dispose();
    disposeLayers([conv, head]);
  });
});

/*
 * The native per-example conv gradients (src/backend/native.ts's MedsynthConvPerExample on oneDNN, offered
 * through src/core/accelerators.ts): on wasm with the addon, every conv and transposed-conv layer takes its
 * norms from it. Checked against the oracle on the `cpu` backend (a loop of batch-of-one tf.grads, same
 * weights and data from the same seeds), with a counter on the hook so that a silent fallback to the
 * factor path fails the test.
 */
const hasNative = loadNativeAddon() !== null;
if (!hasNative) console.warn('skipping the native per-example conv tests: the oneDNN addon is not built (npm run build:native; needs libdnnl-dev)');

interface NativeCase {
  kind: 'conv' | 'convT';
  k: number;
  s: number;
  pad: 'same' | 'valid';
  /** Input height = width. */
  h: number;
  cin: number;
  cout: number;
  /** The native op takes the layer (false: a shape oneDNN is not given, so the factor path runs). */
  native: boolean;
}

const nativeCases: NativeCase[] = [
  { kind: 'conv', k: 4, s: 2, pad: 'same', h: 8, cin: 3, cout: 17, native: true },
  { kind: 'conv', k: 3, s: 1, pad: 'same', h: 7, cin: 5, cout: 4, native: true },
  { kind: 'conv', k: 3, s: 2, pad: 'valid', h: 9, cin: 3, cout: 5, native: true },
  { kind: 'conv', k: 4, s: 1, pad: 'valid', h: 7, cin: 18, cout: 3, native: true },
  { kind: 'convT', k: 4, s: 2, pad: 'same', h: 4, cin: 17, cout: 3, native: true },
  { kind: 'convT', k: 3, s: 1, pad: 'same', h: 6, cin: 4, cout: 5, native: true },
  { kind: 'convT', k: 3, s: 2, pad: 'valid', h: 4, cin: 5, cout: 3, native: true },
  { kind: 'convT', k: 4, s: 1, pad: 'valid', h: 5, cin: 3, cout: 20, native: true },
  // A 'valid' conv that leaves the last row unread: declined, the factor path answers.
  { kind: 'conv', k: 3, s: 2, pad: 'valid', h: 8, cin: 3, cout: 5, native: false },
];

const caseName = (c: NativeCase) => `${c.kind} k${c.k} s${c.s} ${c.pad} ${c.h}×${c.h}×${c.cin} → ${c.cout}${c.native ? '' : ' (declined)'}`;

/** One layer, a tanh and a squared error per example, all from seeds: the same on every backend. */
function nativeProblem(c: NativeCase, b: number) {
  const rng = new Rng(100 + c.k * 10 + c.s + c.h);
  const layer = c.kind === 'conv' ? new Conv2d('pe/n', c.cin, c.cout, c.k, c.s, c.pad, rng) : new ConvTranspose2d('pe/n', c.cin, c.cout, c.k, c.s, c.pad, rng);
  // Non-zero bias, so the bias part of the norm is not trivially zero.
  layer.bias.assign(tf.tensor1d(Float32Array.from({ length: c.cout }, () => rng.normal() * 0.1)));
  const x = tf.tensor4d(Float32Array.from({ length: b * c.h * c.h * c.cin }, () => rng.normal()), [b, c.h, c.h, c.cin]);
  const outShape = tf.tidy(() => layer.apply(tf.zeros([1, c.h, c.h, c.cin])).shape);
  const y = tf.tensor(Float32Array.from({ length: b * outShape[1]! * outShape[2]! * c.cout }, () => rng.normal()), [b, outShape[1]!, outShape[2]!, c.cout]);
  const perExampleLoss = (xi: tf.Tensor, yi: tf.Tensor, tape?: Tape) => tf.sum(tf.square(tf.sub(tf.tanh(layer.apply(xi, { tape })), yi)), [1, 2, 3]);
  const one = (i: number) => tf.sum(perExampleLoss(tf.slice(x, i, 1), tf.slice(y, i, 1))) as tf.Scalar;
  return { layer, x, y, perExampleLoss, one, dispose: () => { tf.dispose([x, y]); disposeLayers([layer]); } };
}

/** The oracle on `cpu`: per-example [kernel, bias] gradients of a loop of batch-of-one tf.grads. */
async function oracleGradients(c: NativeCase, b: number): Promise<{ kernel: Float32Array; bias: Float32Array }[]> {
  await initBackend('cpu');
  const p = nativeProblem(c, b);
  const out: { kernel: Float32Array; bias: Float32Array }[] = [];
  for (let i = 0; i < b; i++) {
    const { grads } = tf.variableGrads(() => p.one(i), [p.layer.kernel, p.layer.bias]);
    out.push({ kernel: grads[p.layer.kernel.name]!.dataSync() as Float32Array, bias: grads[p.layer.bias.name]!.dataSync() as Float32Array });
    tf.dispose(Object.values(grads));
  }
  p.dispose();
  return out;
}

/** Counts the hook's calls that answered (non-null) while `fn` runs. */
function countingNativeCalls<T>(fn: () => T): { result: T; calls: number } {
  const hook = getConvPerExample();
  if (!hook) throw new Error('the native per-example hook is not installed');
  let calls = 0;
  setConvPerExample((x, dy, spec) => {
    const r = hook(x, dy, spec);
    if (r) calls++;
    return r;
  });
  try {
    return { result: fn(), calls };
  } finally {
    setConvPerExample(hook);
  }
}

describe('native per-example conv gradients (oneDNN) equal the cpu oracle', () => {
  it.skipIf(!hasNative).each(nativeCases)('norms and clipped sum: $kind k$k s$s $pad, $h×$h×$cin → $cout (native: $native)', async (c) => {
    const b = 5;
    const clip = 0.5;
    const ref = await oracleGradients(c, b);
    const refNorms = ref.map((g) => [...g.kernel, ...g.bias].reduce((a, v) => a + v * v, 0));
    const refFactors = refNorms.map((n2) => Math.min(1, clip / Math.sqrt(n2)));
    const refSum = (part: 'kernel' | 'bias') => {
      const s = new Float64Array(ref[0]![part].length);
      ref.forEach((g, i) => g[part].forEach((v, j) => (s[j]! += refFactors[i]! * v)));
      return s;
    };

    await initBackend('wasm');
    const p = nativeProblem(c, b);
    const tape = new CaptureTape();
    try {
      const { result: r, calls } = countingNativeCalls(() => perExampleNorms(p.x, (xi, t) => tf.sum(p.perExampleLoss(xi, p.y, t)) as tf.Scalar, tape));
      expect(calls, caseName(c)).toBe(c.native ? 1 : 0);
      for (let i = 0; i < b; i++) expect(Math.abs(r.squaredNorms[i]! - refNorms[i]!) / refNorms[i]!, `${caseName(c)} example ${i}`).toBeLessThan(1e-5);
      const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, clip)));
      for (const [v, part] of [[p.layer.kernel, 'kernel'], [p.layer.bias, 'bias']] as const) {
        const { diff, scale } = maxDiff(sums.get(v)!.dataSync(), refSum(part));
        expect(diff, `${caseName(c)} ${part}`).toBeLessThanOrEqual(1e-5 * scale);
      }
      tf.dispose([...sums.values()]);
    } finally {
      tape.dispose();
      p.dispose();
    }
  });

  it.skipIf(!hasNative).each(nativeCases.filter((c) => c.native))('materialised gradients, per filter entry: $kind k$k s$s $pad', async (c) => {
    const b = 4;
    const ref = await oracleGradients(c, b);
    await initBackend('wasm');
    const p = nativeProblem(c, b);
    try {
      // The layer's input and output gradient, as the capture records them.
      const tape = new CaptureTape();
      perExampleNorms(p.x, (xi, t) => tf.sum(p.perExampleLoss(xi, p.y, t)) as tf.Scalar, tape);
      const rec = tape.records[0]!;
      const [x, dy] = c.kind === 'conv' ? [rec.input, rec.grad!] : [rec.grad!, rec.input];
      const spec = { filterShape: p.layer.kernel.shape as [number, number, number, number], stride: c.s, padding: c.pad, grads: true };
      const out = getConvPerExample()!(x as tf.Tensor4D, dy as tf.Tensor4D, spec)!;
      expect(out, caseName(c)).not.toBeNull();
      const g = out.grads!.arraySync() as number[][];
      const n2 = out.squaredNorms.dataSync();
      expect(out.index.length).toBe(p.layer.kernel.size);
      const used = new Set(out.index);
      expect(used.size, 'every filter entry has its own column').toBe(out.index.length);
      for (let i = 0; i < b; i++) {
        const got = Float32Array.from(out.index, (col) => g[i]![col]!);
        const { diff, scale } = maxDiff(got, ref[i]!.kernel);
        expect(diff, `${caseName(c)} ∇W_${i}`).toBeLessThanOrEqual(1e-5 * scale);
        g[i]!.forEach((v, col) => {
          if (!used.has(col)) expect(v, `padding column ${col}`).toBe(0);
        });
        const w2 = ref[i]!.kernel.reduce((a, v) => a + v * v, 0);
        expect(Math.abs(n2[i]! - w2) / w2, `${caseName(c)} ||∇W_${i}||²`).toBeLessThan(1e-5);
      }
      tf.dispose([out.grads!, out.squaredNorms]);
      tape.dispose();
    } finally {
      p.dispose();
    }
  });

  it.skipIf(!hasNative)('per-patient units through the native gradients equal the cpu oracle', async () => {
    const c: NativeCase = { kind: 'convT', k: 4, s: 2, pad: 'same', h: 4, cin: 17, cout: 3, native: true };
    const b = 5;
    const unitOf = Int32Array.from([0, 1, 0, 2, 1]);
    const ref = await oracleGradients(c, b);
    const refUnits = [0, 1, 2].map((u) => {
      const members = ref.filter((_, i) => unitOf[i] === u);
      const k = members[0]!.kernel.map((_, j) => members.reduce((a, g) => a + g.kernel[j]!, 0));
      const bb = members[0]!.bias.map((_, j) => members.reduce((a, g) => a + g.bias[j]!, 0));
      return [...k, ...bb].reduce((a, v) => a + v * v, 0);
    });
    await initBackend('wasm');
    const p = nativeProblem(c, b);
    const tape = new CaptureTape();
    try {
      const { result: r, calls } = countingNativeCalls(() =>
        perExampleNorms(p.x, (xi, t) => tf.sum(p.perExampleLoss(xi, p.y, t)) as tf.Scalar, tape, { unitOf, units: 3 }),
      );
      expect(calls).toBe(1);
      refUnits.forEach((n2, u) => expect(Math.abs(r.squaredNorms[u]! - n2) / n2, `unit ${u}`).toBeLessThan(1e-5));
    } finally {
      tape.dispose();
      p.dispose();
    }
  });

  it.skipIf(!hasNative)('leave no tensors behind (norms, clipped sum, units)', async () => {
    await initBackend('wasm');
    const p = nativeProblem(nativeCases[0]!, 4);
    const step = (grouping?: { unitOf: Int32Array; units: number }) => {
      const tape = new CaptureTape();
      const r = perExampleNorms(p.x, (xi, t) => tf.sum(p.perExampleLoss(xi, p.y, t)) as tf.Scalar, tape, grouping);
      const factors = clipFactors(r.squaredNorms, 1);
      const sums = clippedSum(tape, Float32Array.from(grouping ? Array.from(grouping.unitOf, (u) => factors[u]!) : factors));
      tf.dispose([...sums.values()]);
      tape.dispose();
    };
    const units = { unitOf: Int32Array.from([0, 1, 1, 0]), units: 2 };
    step();
    step(units);
    const before = tf.memory().numTensors;
    const { calls } = countingNativeCalls(() => {
      for (let i = 0; i < 3; i++) {
        step();
        step(units);
      }
    });
    expect(calls).toBe(6);
    expect(tf.memory().numTensors).toBe(before);
    p.dispose();
  });
});
