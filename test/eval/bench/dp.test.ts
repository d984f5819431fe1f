/**
 * Issue #5's DP benchmark (eval/bench/dp.ts): each workload's DP step runs on wasm, moves every trained
 * weight, and leaks no tensors; and per-example conv norms in each form src/privacy/per-example.ts picks
 * for these workloads (shift or unfold, ghost or materialised) equal a loop of batch-of-one gradients.
 * No timing assertions.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ARCH_NAMES, makeWorkload, type Workload } from '../../../eval/bench/archs.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { Conv2d, ConvTranspose2d, disposeLayers, paramsOf, type Tape } from '../../../src/nn/layers.js';
import { clipFactors } from '../../../src/privacy/clip-noise.js';
import { CaptureTape, clippedSum, perExampleNorms } from '../../../src/privacy/per-example.js';
import { maxDiff } from '../../helpers/compare.js';

/** The DP step functions of a workload, by name. */
function dpSteps(w: Workload): [string, () => void][] {
  const out: [string, () => void][] = [['dpStep', () => w.dpStep!()]];
  if (w.dpDStep) out.push(['dpDStep', () => w.dpDStep!()]);
  return out;
}

describe.each(ARCH_NAMES)('%s DP step', (name) => {
  it('runs, changes the weights it trains, and leaks no tensors', async () => {
    await initBackend('wasm');
    const w = makeWorkload(name, 3, 8);
    try {
      expect(w.dpStep).toBeDefined();
      for (const [label, step] of dpSteps(w)) {
        const before = w.params().map((p) => p.dataSync().slice());
        step(); // burn-in: optimizer slots are created on the first step
        expect(Number.isFinite(w.lastLoss()), label).toBe(true);
        // dpStep trains every parameter (the cVAE; D then G); dpDStep only D's.
        const moved = w.params().map((p, i) => p.dataSync().some((v, j) => v !== before[i]![j]));
        const want = label === 'dpDStep' ? w.dpProblem!().params.length : w.params().length;
        expect(moved.filter(Boolean).length, label).toBe(want);
        const tensors = tf.memory().numTensors;
        const dataIds = tf.engine().backend.numDataIds();
        step();
        w.lastLoss();
        expect(tf.memory().numTensors, label).toBe(tensors);
        expect(tf.engine().backend.numDataIds(), label).toBe(dataIds);
      }
    } finally {
      w.dispose();
    }
  });
});

describe('per-example norms of conv layers (every form src/privacy/per-example.ts picks)', () => {
  it.each(['wasm', 'cpu'] as const)('equal a loop of batch-of-one gradients on %s: norms and clipped sum', async (backend) => {
    await initBackend(backend);
    const rng = new Rng(11);
    // The form each layer takes (convFactors' cost rules): shift form + crop of the unread row and column
    // of a 'valid' conv on 9×9, materialised; unfold (s does not divide k) + ghost; shift + ghost for a
    // conv and a transposed conv with many channels on a small map; shift + materialised.
    const valid = new Conv2d('dpb/valid', 3, 8, 4, 2, 'valid', rng); // 9×9 → 3×3
    const odd = new Conv2d('dpb/odd', 8, 64, 3, 2, 'same', rng); // 3×3 → 2×2
    const ghost = new Conv2d('dpb/ghost', 64, 32, 4, 2, 'same', rng); // 10×10 → 5×5
    const ghostT = new ConvTranspose2d('dpb/ghostT', 32, 16, 4, 2, 'same', rng); // 5×5 → 10×10
    const mat = new Conv2d('dpb/mat', 16, 2, 4, 2, 'same', rng); // 10×10 → 5×5
    const layers = [valid, odd, ghost, ghostT, mat];
    const params = paramsOf(layers);
    const b = 4;
    const x = tf.tensor4d(Float32Array.from({ length: b * 9 * 9 * 3 }, () => rng.normal()), [b, 9, 9, 3]);
    // odd's 2×2 output is padded to 10×10 and added to a fixed map. (Not resizeNearestNeighbor: tfjs-cpu
    // 4.22's gradient of it is wrong for batch > 1.)
    const map = tf.tensor4d(Float32Array.from({ length: 10 * 10 * 64 }, () => rng.normal()), [1, 10, 10, 64]);
    const perExample = (xi: tf.Tensor, tape?: Tape) => {
      const h0 = tf.tanh(odd.apply(tf.tanh(valid.apply(xi, { tape })), { tape })); // [n, 2, 2, 64]
      const h1 = tf.add(tf.pad(h0, [[0, 0], [4, 4], [4, 4], [0, 0]]), map); // [n, 10, 10, 64]
      const h2 = tf.tanh(ghostT.apply(tf.tanh(ghost.apply(h1, { tape })), { tape })); // [n, 10, 10, 16]
      return tf.sum(tf.square(mat.apply(h2, { tape })), [1, 2, 3]); // [n]
    };
    const tape = new CaptureTape();
    const r = perExampleNorms(x, (xi, t) => tf.sum(perExample(xi, t)) as tf.Scalar, tape);
    const clip = 0.5 * Math.sqrt(Math.min(...r.squaredNorms)); // every example clipped, each by its own factor
    const sums = clippedSum(tape, Float32Array.from(clipFactors(r.squaredNorms, clip)));
    const expectedSum = params.map((p) => new Float64Array(p.size));
    for (let i = 0; i < b; i++) {
      const { grads } = tf.variableGrads(() => tf.sum(perExample(tf.slice(x, [i, 0, 0, 0], [1, 9, 9, 3]))) as tf.Scalar, params);
      const gs = params.map((p) => grads[p.name]!.dataSync() as Float32Array);
      const norm2 = gs.reduce((a, g) => a + g.reduce((s, v) => s + v * v, 0), 0);
      expect(Math.abs(r.squaredNorms[i]! - norm2) / norm2, `example ${i}`).toBeLessThan(1e-5);
      const c = Math.min(1, clip / Math.sqrt(norm2));
      gs.forEach((g, k) => g.forEach((v, j) => (expectedSum[k]![j]! += c * v)));
      tf.dispose(Object.values(grads));
    }
    params.forEach((p, k) => {
      const { diff, scale } = maxDiff(sums.get(p)!.dataSync(), expectedSum[k]!);
      expect(diff, p.name).toBeLessThanOrEqual(1e-5 * scale);
    });
    tf.dispose([...sums.values()]);
    tape.dispose();
    tf.dispose([x, map]);
    disposeLayers(layers);
  });
});
