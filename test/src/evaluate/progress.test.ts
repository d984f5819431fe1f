/**
 * `evaluate`'s onProgress (#19.17): every stage in order, fractions that never decrease and end at 1,
 * per-step updates inside the long stages (the utility classifiers), on a small phantom.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writePhantom } from '../../../datasets/phantom/index.js';
import { initBackend } from '../../../src/backend/index.js';
import type { StageProgress } from '../../../src/core/progress.js';
import { evaluate } from '../../../src/evaluate/evaluate.js';

let real: string;
let synthetic: string;

beforeAll(async () => {
  await initBackend('wasm');
  const work = mkdtempSync(join(tmpdir(), 'medsynth-evalprogress-'));
  real = (await writePhantom({ out: join(work, 'real'), n: 160, size: 28, seed: 3 })).out;
  // A stand-in synthetic set: another phantom draw (same classes and attributes).
  synthetic = (await writePhantom({ out: join(work, 'syn'), n: 60, size: 28, seed: 4 })).out;
});

describe('evaluate onProgress', () => {
  it('reports each stage in order with monotone fractions, step updates, and 1 at the end', async () => {
    const seen: StageProgress[] = [];
    const steps = 4;
    await evaluate({
      real,
      synthetic,
      features: 'domain-cnn',
      splitSeed: 1,
      seed: 2,
      classifierSteps: steps,
      classifierSeeds: 2,
      fairnessReplicates: 20,
      cacheDir: null,
      onProgress: (p) => seen.push(p),
    });
    expect(seen.filter((p) => p.started).map((p) => p.stage)).toEqual(['features', 'fidelity', 'utility', 'diversity', 'fairness']);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.fraction).toBeGreaterThanOrEqual(seen[i - 1]!.fraction);
      expect(seen[i]!.elapsedSeconds).toBeGreaterThanOrEqual(seen[i - 1]!.elapsedSeconds);
    }
    expect(seen[0]!.fraction).toBe(0);
    expect(seen.at(-1)!.fraction).toBe(1);
    expect(seen.at(-1)!.etaSeconds).toBe(0);
    // domain-cnn: one update per training step.
    expect(seen.filter((p) => p.stage === 'features' && !p.started).map((p) => p.message)).toEqual(
      Array.from({ length: steps }, (_, i) => `domain-cnn training step ${i + 1} of ${steps}`),
    );
    // utility: one update per step of every classifier (4 ways here, x 2 seeds), the stage reaching 1.
    const utility = seen.filter((p) => p.stage === 'utility' && !p.started);
    expect(utility).toHaveLength(4 * 2 * steps);
    expect(utility[0]!.message).toBe('classifier 1 of 8: way (a), seed 1 of 2');
    expect(utility.at(-1)!.message).toBe('classifier 8 of 8: way (d), seed 2 of 2');
    expect(utility.at(-1)!.stageFraction).toBe(1);
    // Once anything is done there is an ETA.
    expect(seen.filter((p) => p.fraction > 0).every((p) => p.etaSeconds !== null && p.etaSeconds >= 0)).toBe(true);
  });
});
