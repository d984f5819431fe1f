/**
 * DP-MERF beyond the generator contract (test/models/contract.test.ts): its joint-cell bookkeeping, the
 * counts its release carries, and the white-box release-alignment attack, which must find the members of
 * an exact release of few images and fall to chance when the release is noised.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cellsOfConditionRows, defaultPerCell, enumerateCells, type DpMerf } from '../../models/dpmerf/index.js';
import { conditionCells, encodeConditions, type ConditionSpec } from '../../models/generator.js';
import { generatorFactory } from '../../models/registry.js';
import { rocAuc } from '../../eval/privacy/metrics.js';
import { initBackend } from '../../src/backend/index.js';
import { Rng } from '../../src/core/rng.js';
import { toyConditionalImages } from '../helpers/toy-images.js';

const SIZE = 28;
const SPEC: ConditionSpec = { labels: ['dark', 'bright'], attributes: [{ name: 'sex', values: ['female', 'male'] }] };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('dpmerf cells', () => {
  it('enumerates class x group cells label-major and maps condition rows back to them', () => {
    const cells = enumerateCells({ labels: ['a', 'b'], attributes: [{ name: 's', values: ['f', 'm', 'u'] }] });
    expect(cells).toEqual([
      { label: 0, codes: [0] }, { label: 0, codes: [1] }, { label: 0, codes: [2] },
      { label: 1, codes: [0] }, { label: 1, codes: [1] }, { label: 1, codes: [2] },
    ]);
    const rows = encodeConditions(SPEC, [1, 0, 1], [[0, 1, 1]]);
    expect(Array.from(cellsOfConditionRows(SPEC, rows, 3))).toEqual([2, 1, 3]);
    // conditionCells counts the same cells without listing them: 2 labels × 3 values; 7 × 3 × 2 by hand.
    expect(conditionCells({ labels: ['a', 'b'], attributes: [{ name: 's', values: ['f', 'm', 'u'] }] })).toBe(cells.length);
    expect(conditionCells({ labels: Array.from({ length: 7 }, (_, i) => `c${i}`), attributes: [{ name: 's', values: ['f', 'm', 'u'] }, { name: 'site', values: ['x', 'y'] }] })).toBe(42);
  });
});

describe('dpmerf fitting batch', () => {
  it('generates 256 images per step for one or two cells, else 32 per cell, and records what it used', () => {
    expect([1, 2, 3, 4, 8, 21].map(defaultPerCell)).toEqual([256, 128, 32, 32, 32, 32]);
    const twoCells: ConditionSpec = { labels: ['normal', 'pneumonia'], attributes: [] };
    for (const [spec, config, expected] of [[twoCells, {}, 128], [SPEC, {}, 32], [SPEC, { perCell: 8 }, 8]] as const) {
      const g = generatorFactory('dpmerf')!.create({ frequencies: 64, ...config }, spec, { size: SIZE, channels: 1 }, 1);
      try {
        expect(g.config().perCell).toBe(expected);
      } finally {
        g.dispose();
      }
    }
    expect(() => generatorFactory('dpmerf')!.create({ perCell: 1, mmd: 'unbiased' }, SPEC, { size: SIZE, channels: 1 }, 1)).toThrow(/perCell: 1 is too few/);
  });
});

describe('dpmerf patch block', () => {
  it('appends the patch-averaged features with weight sqrt(F_p / F), keeps each image within norm 1, and draws them again from the seed', () => {
    // F = 64, share 0.25: 16 patch frequencies, 48 for the two pooled scales (exact unit norm × sqrt(48/64)).
    const make = () => generatorFactory('dpmerf')!.create({ frequencies: 64, patch: { size: 7, stride: 3, share: 0.25 } }, SPEC, { size: SIZE, channels: 1 }, 1) as DpMerf;
    const g = make();
    const h = make();
    const images = tf.tidy(() => tf.add(tf.mul(toyConditionalImages(6, SIZE, 3).images(), 0.5), 0.2) as tf.Tensor4D);
    try {
      const [fg, fh] = tf.tidy(() => [g.features(images).arraySync(), h.features(images).arraySync()]);
      expect(fg).toEqual(fh);
      for (const row of fg!) {
        expect(row.length).toBe(128);
        const sq = (a: number[]) => a.reduce((acc, v) => acc + v * v, 0);
        expect(sq(row.slice(0, 96))).toBeCloseTo(48 / 64, 4);
        const patch = sq(row.slice(96));
        expect(patch).toBeLessThanOrEqual(16 / 64 + 1e-5);
        expect(patch).toBeGreaterThan(0.01); // not vacuous: the block carries features
      }
      expect(String(g.architecture().release)).toMatch(/16 of them\) averaged over the 7x7 patches at stride 3/);
    } finally {
      images.dispose();
      g.dispose();
      h.dispose();
    }
  });

  it('fits with the patch block without leaking tensors per step', () => {
    const g = generatorFactory('dpmerf')!.create({ frequencies: 64, perCell: 4, patch: { size: 7, stride: 3, share: 0.25 } }, SPEC, { size: SIZE, channels: 1 }, 1) as DpMerf;
    const data = toyConditionalImages(16, SIZE, 3);
    const images = data.images();
    const cond = tf.tensor2d(encodeConditions(SPEC, Array.from(data.labels), [Array.from(data.sex)]), [16, 4]);
    try {
      g.releaseStatistics({ images, cond, unitOf: null }, { clipNorm: 1, noiseMultiplier: 0, seed: 9 });
      g.fitStep(0); // burn-in: the fitting targets and the optimiser slots appear on the first step
      const before = tf.memory().numTensors;
      for (let step = 1; step < 4; step++) expect(Number.isFinite(g.fitStep(step).loss!)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      tf.dispose([images, cond]);
      g.dispose();
    }
  });

  it('rejects a patch larger than the image or with fewer than 16 frequencies, in one line', () => {
    expect(() => generatorFactory('dpmerf')!.create({ patch: { size: 40 } }, SPEC, { size: SIZE, channels: 1 }, 1)).toThrow(/patch.size: 40 is larger than the 28 px images/);
    expect(() => generatorFactory('dpmerf')!.create({ frequencies: 64, patch: { size: 4, share: 0.1 } }, SPEC, { size: SIZE, channels: 1 }, 1)).toThrow(/patch.share: 0.1 of 64 frequencies is 6, fewer than 16/);
  });
});

describe('dpmerf release', () => {
  // Distinct images (uniform noise on the toy classes' layout), so that each member is recognisable.
  const data = toyConditionalImages(80, SIZE, 3);
  const all = (rng = new Rng(4)) =>
    tf.tidy(() => ({
      images: tf.add(tf.mul(data.images(), 0.5), tf.tensor4d(Float32Array.from({ length: 80 * SIZE * SIZE }, () => rng.uniform() * 0.5), [80, SIZE, SIZE, 1])) as tf.Tensor4D,
      cond: tf.tensor2d(encodeConditions(SPEC, Array.from(data.labels), [Array.from(data.sex)]), [80, 4]),
    }));
  /** Releases the first 40 images (members) at noise σ and scores all 80 with the alignment attack. */
  function attack(sigma: number, config: Record<string, unknown> = {}): { auc: number; counts: number[]; scores: Float32Array; blocks: number } {
    const g = generatorFactory('dpmerf')!.create({ frequencies: 512, ...config }, SPEC, { size: SIZE, channels: 1 }, 1) as DpMerf;
    const { images, cond } = all();
    try {
      const members = { images: tf.slice(images, [0, 0, 0, 0], [40, -1, -1, -1]) as tf.Tensor4D, cond: tf.slice(cond, [0, 0], [40, -1]) as tf.Tensor2D };
      g.releaseStatistics({ ...members, unitOf: null }, { clipNorm: 1, noiseMultiplier: sigma, seed: 9 });
      tf.dispose([members.images, members.cond]);
      const scores = tf.tidy(() => g.releaseAlignment(images, cond).dataSync() as Float32Array);
      return { auc: rocAuc(scores.subarray(0, 40), scores.subarray(40)), counts: g.releasedCounts(), scores, blocks: g.weights().get('release/statistics')!.shape[0]! };
    } finally {
      tf.dispose([images, cond]);
      g.dispose();
    }
  }

  it('carries each cell count exactly when not noised', () => {
    const { counts } = attack(0);
    const expected = [0, 0, 0, 0];
    for (let i = 0; i < 40; i++) expected[data.labels[i]! * 2 + data.sex[i]!]!++;
    counts.forEach((c, k) => expect(c).toBeCloseTo(expected[k]!, 4));
  });

  it('two-level: releases a block per class beside the cells, and an exact release reads back as the cells alone', () => {
    const one = attack(0);
    const two = attack(0, { classShare: 0.5 });
    expect(one.blocks).toBe(4);
    expect(two.blocks).toBe(4 + 2); // 2 classes x 2 sexes, then the 2 classes
    // Without noise the class blocks agree with their cells, so the least-squares step changes nothing:
    // the same counts and the same released means (the attack's scores) as the one-level release.
    two.counts.forEach((c, k) => expect(c).toBeCloseTo(one.counts[k]!, 3));
    two.scores.forEach((x, i) => expect(x).toBeCloseTo(one.scores[i]!, 4));
    expect(() => generatorFactory('dpmerf')!.create({ classShare: 0.5 }, { labels: ['a', 'b'], attributes: [] }, { size: SIZE, channels: 1 }, 1)).toThrow(/classShare: 0.5 needs a group condition/);
  });

  it('two-level: a noised release reads back the same in a new model from its saved weights', () => {
    const make = () => generatorFactory('dpmerf')!.create({ frequencies: 64, classShare: 0.5 }, SPEC, { size: SIZE, channels: 1 }, 1) as DpMerf;
    const g = make();
    const h = make();
    const { images, cond } = all();
    try {
      g.releaseStatistics({ images, cond, unitOf: null }, { clipNorm: 1, noiseMultiplier: 2, seed: 9 });
      for (const [name, v] of g.weights()) h.weights().get(name)!.assign(v); // what loading a run does, weight by name
      expect(h.isReleased()).toBe(true);
      expect(h.releasedCounts()).toEqual(g.releasedCounts());
      // Class 0's cells (blocks 0, 1; its own block is 4) sum to the least-squares class total, by hand:
      // y = cell blocks / β, z = class block / α, α² = β² = 0.5, K = 2, g = 0.5 / (0.5 + 1) = 1/3:
      // Σ Ŝ = Σy + K g (z − Σy); counts are the last entry / b (b = 0.3).
      const counts = g.releasedCounts();
      const stats = g.weights().get('release/statistics')!.dataSync();
      const w = 2 * 64 + 1;
      const last = (block: number) => stats[block * w + w - 1]! / Math.sqrt(0.5) / 0.3;
      const sumY = last(0) + last(1);
      expect(counts[0]! + counts[1]!).toBeCloseTo(sumY + (2 / 3) * (last(4) - sumY), 3);
      expect(Math.abs(last(4) - sumY)).toBeGreaterThan(0.5); // σ = 2 noise: the two levels disagree
    } finally {
      tf.dispose([images, cond]);
      g.dispose();
      h.dispose();
    }
  });

  it('lets the alignment attack find the members of an exact release, and not of a noised one', () => {
    expect(attack(0).auc).toBeGreaterThan(0.8); // 0.94 measured
    // Chance: 40 vs 40 scores give AUC 0.5 with a standard deviation of about 0.065 (0.49 measured).
    expect(Math.abs(attack(50).auc - 0.5)).toBeLessThan(0.2);
  });
});
