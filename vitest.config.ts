import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files marked `// @module-tag slow` in their header: those that run the built CLI or package (dist/,
 * so they need `npm run build` first; most of them train a model), that train a model until it learns, or
 * that read the real data sets in ../shared/data. `npm test` runs everything; `npm run test:quick`
 * (`--tags-filter='!slow'`) runs the rest, the in-process unit, property and oracle tests, for the edit
 * loop. test/suite.test.ts checks that every file that runs the CLI carries the tag.
 */
const SLOW = /(\/\/|\*)\s*@module-tag\s+slow\b/;

/**
 * Slow files first, each group in vitest's own order (longest last run first when it has timings; without
 * them, as on a fresh CI checkout, largest file first). The few files of a minute or more then start at
 * once instead of last, where one of them alone would keep the run going while the other worker idles.
 */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const slow = (f: TestSpecification) => {
      try {
        return SLOW.test(readFileSync(f.moduleId, 'utf8').slice(0, 4000));
      } catch {
        return false;
      }
    };
    const first = sorted.filter(slow);
    return [...first, ...sorted.filter((f) => !first.includes(f))];
  }
}

/**
 * One OpenMP thread per process for oneDNN, the native conv/matmul kernels behind the wasm backend, in the
 * test workers and in the CLI processes they spawn (which inherit this environment). oneDNN's default is
 * one thread per core, so two workers each running a model would keep four threads on the two cores, and
 * OpenMP's threads spin at every barrier while they wait for a descheduled partner. Measured back to back
 * on the shared 2-core machine at load average ~13: the generator contract's 250 cVAE steps took 46.4 s
 * with the default and 8.5 s with one thread; a 2-epoch cVAE CLI run used 2.9 s of CPU against 1.5 s.
 * Set OMP_NUM_THREADS yourself to test other thread counts.
 */
process.env.OMP_NUM_THREADS ??= '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A private TMPDIR for the run, removed at its end (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    tags: [{ name: 'slow', description: 'runs the built CLI, trains a model until it learns, or reads the real data sets; skipped by npm run test:quick' }],
    sequence: { sequencer: SlowFirstSequencer },
    // Tensor tests share one tfjs engine per worker; two workers match the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
    // Generous: a test that is slow on a busy machine should not fail for it. Nothing bounds the whole run
    // (.ci/run sets no time limit); a hung test fails only after this timeout.
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
