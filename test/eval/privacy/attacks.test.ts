import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomControlScores } from '../../../eval/privacy/control.js';
import { dcrShare } from '../../../eval/privacy/dcr.js';
import { cholesky, domiasScores, fitGaussianKde, kdeLogDensity } from '../../../eval/privacy/domias.js';
import { ganLeaksScores } from '../../../eval/privacy/gan-leaks.js';
import { loganBlackBoxScores } from '../../../eval/privacy/logan.js';
import { bootstrapRoc, rocAuc } from '../../../eval/privacy/metrics.js';
import { attackMetrics } from '../../../eval/privacy/summary.js';
import { nearestDistances, selectRows, type FeatureMatrix } from '../../../eval/privacy/nearest.js';
import { bernoulliEntropy, discriminatorScores, elboScores, reconstructionErrors, reconstructionScores } from '../../../eval/privacy/whitebox.js';
import { initBackend } from '../../../src/backend/index.js';
import { Rng } from '../../../src/core/rng.js';
import { loadFixture } from '../../helpers/fixtures.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const gaussian = (n: number, d: number, rng: Rng, mean = 0): FeatureMatrix => ({ data: Float32Array.from({ length: n * d }, () => mean + rng.normal()), n, d });
const jitter = (m: FeatureMatrix, s: number, rng: Rng): FeatureMatrix => ({ ...m, data: m.data.map((v) => v + s * rng.normal()) });
const concat = (a: FeatureMatrix, b: FeatureMatrix): FeatureMatrix => {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return { data, n: a.n + b.n, d: a.d };
};
/** Scores of [members ++ non-members] → AUC. */
const aucOf = (scores: ArrayLike<number>, nMembers: number) => rocAuc(Array.from(scores).slice(0, nMembers), Array.from(scores).slice(nMembers));

/** Runs `fn` once (burn-in), then again, and checks the live tensor count did not grow. */
async function expectNoTensorLeak(fn: () => Promise<unknown> | unknown): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  await fn();
  expect(tf.memory().numTensors).toBe(before);
}

describe('nearest distances', () => {
  it('equal a brute-force loop, blocked or not', async () => {
    const rng = new Rng(1);
    const q = gaussian(37, 5, rng);
    const r = gaussian(23, 5, rng, 0.3);
    const want = Array.from({ length: q.n }, (_, i) => {
      let best = Infinity;
      for (let j = 0; j < r.n; j++) {
        let s = 0;
        for (let k = 0; k < 5; k++) s += (q.data[i * 5 + k]! - r.data[j * 5 + k]!) ** 2;
        best = Math.min(best, Math.sqrt(s));
      }
      return best;
    });
    const full = await nearestDistances(q, r);
    const blocked = await nearestDistances(q, r, { blockElements: 50 });
    full.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    // Equal up to float32 rounding: the native oneDNN matmul picks its kernel by block shape on some CPUs
    // (seen on an AMD EPYC), so a block's sums may round differently in the last bit (exact on wasm).
    blocked.forEach((v, i) => expect(Math.abs(v - full[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, full[i]!)));
  });
});

describe('GAN-Leaks distance attack', () => {
  it('synthetic = copies of the members: AUC ≈ 1; fresh samples: AUC ≈ 0.5 within its CI', async () => {
    const rng = new Rng(2);
    const members = gaussian(100, 16, rng);
    const nonMembers = gaussian(100, 16, rng);
    const queries = concat(members, nonMembers);
    const copies = await ganLeaksScores(queries, jitter(members, 0.01, rng));
    expect(aucOf(copies.scores, 100)).toBeGreaterThan(0.99);
    expect(Math.max(...Array.from(copies.distances).slice(0, 100))).toBeLessThan(0.1);
    const fresh = await ganLeaksScores(queries, gaussian(100, 16, rng));
    const s = Array.from(fresh.scores);
    const ci = bootstrapRoc(s.slice(0, 100), s.slice(100), { replicates: 500, seed: 1 }).auc;
    expect(ci.lower).toBeLessThanOrEqual(0.5);
    expect(ci.upper).toBeGreaterThanOrEqual(0.5);
  });

  it('leaks no tensors (and neither does the DCR test)', async () => {
    const rng = new Rng(3);
    const q = gaussian(20, 8, rng);
    const s = gaussian(15, 8, rng);
    await expectNoTensorLeak(() => ganLeaksScores(q, s));
    await expectNoTensorLeak(() => dcrShare(s, selectRows(q, [0, 1, 2, 3]), selectRows(q, [4, 5, 6, 7]), { seed: 1, permutations: 10 }));
  });
});

describe('DCR share', () => {
  it('copies of members: share 1 with a CI excluding 1/2; fresh samples: CI contains 1/2', async () => {
    const rng = new Rng(4);
    const members = gaussian(120, 8, rng);
    const nonMembers = gaussian(120, 8, rng);
    const copied = await dcrShare(jitter(members, 0.001, rng), members, nonMembers, { seed: 1 });
    expect(copied.share).toBe(1);
    expect(copied.lower).toBeGreaterThan(0.95);
    expect(copied.pValue).toBeLessThan(1e-30);
    expect(copied.permutation.pValue).toBeCloseTo(1 / 2001, 12); // no relabelling is as extreme
    expect(copied.distinctNearestRecords).toBe(120);
    const fresh = await dcrShare(gaussian(300, 8, rng), members, nonMembers, { seed: 1 });
    expect(fresh.lower).toBeLessThan(0.5);
    expect(fresh.upper).toBeGreaterThan(0.5);
    expect(fresh.permutation.pValue).toBeGreaterThan(0.05);
    expect(fresh.permutation.nullLower).toBeLessThan(0.5);
    expect(fresh.permutation.nullUpper).toBeGreaterThan(0.5);
    expect(fresh.closerToMembers + fresh.ties).toBeLessThanOrEqual(300);
    expect(await dcrShare(gaussian(300, 8, new Rng(1)), members, nonMembers, { seed: 7 })).toEqual(await dcrShare(gaussian(300, 8, new Rng(1)), members, nonMembers, { seed: 7 }));
  });

  it('gives the same result for members and non-members as the two halves of one matrix (views, as the audit passes them) as for copies', async () => {
    const rng = new Rng(12);
    const queries = gaussian(2 * 90, 16, rng, 0.5);
    const before = Float32Array.from(queries.data);
    const half = (part: 0 | 1): FeatureMatrix => ({ data: queries.data.subarray(part * 90 * 16, (part + 1) * 90 * 16), n: 90, d: 16 });
    // Some samples copy a member, so nearest records and ties are exercised too.
    const samples = concat(gaussian(150, 16, rng, 0.5), selectRows(queries, [3, 3, 17, 95]));
    const opts = { seed: 5, permutations: 200, blockElements: 180 * 11 };
    const views = await dcrShare(samples, half(0), half(1), opts);
    const copies = await dcrShare(samples, selectRows(queries, Array.from({ length: 90 }, (_, i) => i)), selectRows(queries, Array.from({ length: 90 }, (_, i) => 90 + i)), opts);
    expect(views).toEqual(copies);
    expect(views.synthetic).toBe(154);
    expect(Buffer.from(queries.data.buffer).equals(Buffer.from(before.buffer))).toBe(true); // read, not written
  });

  it('hub records: every sample nearest to one non-member looks significant to the binomial test, not to the permutation test', async () => {
    const rng = new Rng(10);
    const members = gaussian(50, 4, rng);
    const nonMembers = gaussian(50, 4, rng);
    const hub = selectRows(nonMembers, Array(200).fill(3));
    const r = await dcrShare(jitter(hub, 0.001, rng), members, nonMembers, { seed: 2, permutations: 500 });
    expect(r.share).toBe(0);
    expect(r.pValue).toBeLessThan(1e-50);
    expect(r.distinctNearestRecords).toBe(1);
    expect(r.largestShareOnOneRecord).toBe(1);
    // Relabelled, the one hub is a member or not: the share is 0 or 1, always as extreme as observed.
    expect(r.permutation.pValue).toBe(1);
  });

  it('refuses member and non-member sets of different sizes', async () => {
    const rng = new Rng(5);
    await expect(dcrShare(gaussian(5, 2, rng), gaussian(10, 2, rng), gaussian(11, 2, rng), { seed: 1 })).rejects.toThrow(/same size/);
  });
});

interface KdeFixture {
  kde: { n: number; d: number; points: number[]; reference: number[]; nReference: number; queries: number[]; nQueries: number; factor: number; logDensity: number[]; logDensityReference: number[]; domias: number[] }[];
}

describe('DOMIAS', () => {
  const fx = loadFixture<KdeFixture>('privacy');

  it.each(fx.kde.map((c) => [`n=${c.n}, d=${c.d}`, c] as const))('KDE log density matches the gaussian_kde definition in numpy (%s)', async (_name, c) => {
    const points = { data: Float32Array.from(c.points), n: c.n, d: c.d };
    const queries = { data: Float32Array.from(c.queries), n: c.nQueries, d: c.d };
    const kde = fitGaussianKde(points);
    expect(kde.factor).toBeCloseTo(c.factor, 12);
    expect(kde.ridge).toBe(0);
    const got = await kdeLogDensity(kde, queries);
    got.forEach((v, i) => expect(v).toBeCloseTo(c.logDensity[i]!, 3));
    const r = await domiasScores(queries, points, { data: Float32Array.from(c.reference), n: c.nReference, d: c.d });
    r.scores.forEach((v, i) => expect(v).toBeCloseTo(c.domias[i]!, 3));
  });

  it('Cholesky of a hand-checked matrix, and null for an indefinite one', () => {
    // [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]].
    const l = cholesky(Float64Array.from([4, 2, 2, 3]), 2)!;
    expect(Array.from(l).map((v) => +v.toFixed(12))).toEqual([2, 0, 1, +Math.SQRT2.toFixed(12)]);
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
  });

  it('a singular covariance (collapsed samples) gets a recorded ridge and finite scores', async () => {
    const rng = new Rng(6);
    const collapsed = { data: new Float32Array(40 * 3).fill(0.5), n: 40, d: 3 };
    const r = await domiasScores(gaussian(10, 3, rng), collapsed, gaussian(50, 3, rng));
    expect(r.bandwidth.synthetic.ridge).toBeGreaterThan(0);
    expect(r.scores.every(Number.isFinite)).toBe(true);
  });

  it('samples concentrated on the members give members the higher density ratio', async () => {
    const rng = new Rng(7);
    const members = gaussian(100, 4, rng);
    const nonMembers = gaussian(100, 4, rng);
    const synthetic = jitter(selectRows(members, [...Array(100).keys(), ...Array(100).keys()]), 0.05, rng);
    const r = await domiasScores(concat(members, nonMembers), synthetic, gaussian(200, 4, rng));
    // Scott's bandwidth (~0.5 here) smooths over the 0.05 jitter, so the ratio is informative, not sharp.
    expect(aucOf(r.scores, 100)).toBeGreaterThan(0.7);
  });

  it('leaks no tensors', async () => {
    const rng = new Rng(8);
    const q = gaussian(12, 3, rng);
    const s = gaussian(30, 3, rng);
    const ref = gaussian(30, 3, rng);
    await expectNoTensorLeak(() => domiasScores(q, s, ref));
  });
});

describe('LOGAN black-box (local discriminator)', () => {
  it('finds members when the samples sit on them, is ≈ 0.5 when they do not, and leaks no tensors', async () => {
    const rng = new Rng(9);
    const members = gaussian(100, 8, rng);
    const nonMembers = gaussian(100, 8, rng);
    const queries = concat(members, nonMembers);
    const onMembers = jitter(selectRows(members, [...Array(100).keys(), ...Array(100).keys()]), 0.05, rng);
    const hit = loganBlackBoxScores(queries, onMembers, gaussian(200, 8, rng), { seed: 1, steps: 100 });
    expect(aucOf(hit.scores, 100)).toBeGreaterThan(0.7);
    const miss = loganBlackBoxScores(queries, gaussian(200, 8, rng), gaussian(200, 8, rng), { seed: 1, steps: 100 });
    expect(Math.abs(aucOf(miss.scores, 100) - 0.5)).toBeLessThan(0.12);
    expect(loganBlackBoxScores(queries, onMembers, members, { seed: 2, steps: 20 }).scores).toEqual(loganBlackBoxScores(queries, onMembers, members, { seed: 2, steps: 20 }).scores);
    await expectNoTensorLeak(() => loganBlackBoxScores(queries, onMembers, nonMembers, { seed: 1, steps: 5 }));
  });
});

describe('white-box scores', () => {
  it('turn errors into scores (higher = member) and compute per-image squared errors by hand', () => {
    const images = Float32Array.from([0, 1, 0.5, 0.5]);
    const recon = Float32Array.from([0, 0.5, 0.5, 0]);
    expect(Array.from(reconstructionErrors(images, recon, 2))).toEqual([0.25, 0.25]);
    expect(Array.from(reconstructionScores([1, 2]))).toEqual([-1, -2]);
    expect(Array.from(elboScores([100, 90]))).toEqual([-100, -90]);
    expect(Array.from(elboScores([100, 90], [30, 10]))).toEqual([-70, -80]);
    // h(0.5) = log 2, h(0) = h(1) = 0, h(0.25) = -(0.25 log 0.25 + 0.75 log 0.75).
    const h = bernoulliEntropy(Float32Array.from([0.5, 0, 1, 0.25]), 2);
    expect(h[0]).toBeCloseTo(Math.log(2), 12);
    expect(h[1]).toBeCloseTo(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 7);
    expect(Array.from(discriminatorScores([0.3, -2]))).toEqual([0.3, -2]);
  });
});

describe('random control', () => {
  it('is seeded, and its AUC is ≈ 0.5 inside its CI with an epsilon bound ≈ 0', () => {
    expect(randomControlScores(400, 3)).toEqual(randomControlScores(400, 3));
    const s = Array.from(randomControlScores(400, 3));
    const m = attackMetrics(s.slice(0, 200), s.slice(200), { replicates: 500, seed: 1, delta: 1e-5 });
    expect(m.auc.lower).toBeLessThanOrEqual(0.5);
    expect(m.auc.upper).toBeGreaterThanOrEqual(0.5);
    expect(m.epsilon!.epsilon).toBeLessThan(0.5);
  });
});
