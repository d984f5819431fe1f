/**
 * `medsynth demo`: the main job, end to end on the built-in phantom data, with progress:
 *   1. phantom data (labelled, demographically imbalanced, with patient ids);
 *   2. the private generator that train --dp picks (src/train/select.ts) at ε = 8 with the patient as the unit;
 *   3. balanced augmentation (equalize-groups) with the DP model;
 *   4. evaluate (fidelity, utility and fairness of augmentation, diversity);
 *   5. audit (membership-inference attacks, empirical ε);
 *   6. the report — its path is the last line printed.
 * `--quick` shrinks every stage (fewer, smaller images, shorter training) for a CI smoke run.
 * Progress: training, evaluation and the audit each print a line with the time left every 20 s.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AUDIT_DEFAULTS, auditRun } from '../../audit/audit.js';
import { balance } from '../../balance/balance.js';
import { ConfigError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import { evaluate } from '../../evaluate/evaluate.js';
import { buildReport } from '../../report/report.js';
import { sampleRun } from '../../sample/sample.js';
import { AUTO_MODEL, trainRun } from '../../train/run.js';
import { info_, startBackend } from '../context.js';
import { parseSeed } from '../options.js';
import { runPhantom } from './data.js';
import { formatSeconds, JsonOutput, verdictLine, progressPrinter, withExample, withSharedOptions, type SharedOptions } from './shared.js';

interface DemoOptions extends SharedOptions {
  out: string;
  quick: boolean;
  seed: number;
}

/** What each mode runs: sizes, epochs and evaluation effort. */
export const DEMO_SETTINGS = {
  full: { n: 2000, size: 32, epochs: null, batchSize: 64, classifierSteps: 300, bootstrap: 300, epsilon: 8 },
  quick: { n: 400, size: 28, epochs: 2, batchSize: 32, classifierSteps: 60, bootstrap: 100, epsilon: 8 },
} as const;

export function registerDemoCommand(program: Command): void {
  withExample(withSharedOptions(
    program
      .command('demo')
      .description('run the whole pipeline on the built-in phantom data: data, DP generator, balance, evaluate, audit, report')
      .option('--out <dir>', 'output folder (replaced if it holds an earlier demo)', 'runs/demo')
      .option('--quick', 'a smaller, faster run (about 2 minutes)', false)
      .option('--seed <int>', 'random seed', parseSeed, 1),
  ), 'medsynth demo --quick --out runs/demo').action(async (opts: DemoOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const s = opts.quick ? DEMO_SETTINGS.quick : DEMO_SETTINGS.full;
    const out = resolve(opts.out);
    const say = json.stdout ? () => {} : info_;
    const t0 = performance.now();
    const clock = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
    // A demo folder is ours to replace; anything else is not.
    if (existsSync(out)) {
      if (!existsSync(join(out, 'demo.json')) && !existsSync(join(out, 'phantom'))) {
        throw new ConfigError(`--out ${opts.out} exists and is not an earlier demo; choose another folder`);
      }
      rmSync(out, { recursive: true, force: true });
    }
    const paths = {
      data: join(out, 'phantom'),
      run: join(out, 'run'),
      balanced: join(out, 'balanced'),
      samples: join(out, 'samples'),
      evaluation: join(out, 'evaluation.json'),
      audit: join(out, 'audit.json'),
      report: join(out, 'report'),
    };

    say(`[1/6] phantom data: ${s.n} images, ${s.size}x${s.size}, seed ${opts.seed}`);
    await runPhantom({ out: paths.data, n: s.n, size: s.size, seed: opts.seed });

    say(`[2/6] private generator: epsilon ${s.epsilon}, patients as the privacy unit  (${clock()})`);
    let lastEpoch = 0;
    let epochs = s.epochs ?? 0;
    let lastProgress = performance.now();
    const train = await trainRun(
      paths.run,
      {
        model: AUTO_MODEL,
        data: paths.data,
        size: s.size,
        condition: ['label', 'sex'],
        epochs,
        ...(s.epochs === null ? { epochsDefaulted: true } : {}),
        batchSize: s.batchSize,
        seed: opts.seed,
        splitSeed: opts.seed,
        generator: {},
        dp: { targetEpsilon: s.epsilon, clipNorm: 1, unit: 'patient' },
      },
      {
        backend,
        // A line every 20 s with the step and the time left, so the longest stage is never silent.
        onProgress: (p) => {
          const now = performance.now();
          if (now - lastProgress < 20000) return;
          lastProgress = now;
          say(`      step ${p.step}/${p.epochs * p.stepsPerEpoch}, epoch ${p.epoch}/${p.epochs}, ${p.imagesPerSecond.toFixed(0)} img/s, about ${formatSeconds(p.etaSeconds)} left`);
        },
        onSelect: (sel) => {
          if (s.epochs === null) epochs = sel.epochs;
          say(`      ${sel.reason} (${sel.evidence})`);
        },
        onEpoch: (e) => {
          lastEpoch = e.epoch;
          if (e.epoch % Math.max(1, Math.floor(epochs / 4)) === 0 || e.epoch === epochs) {
            say(`      epoch ${e.epoch}/${epochs}: loss ${e.losses.loss?.toFixed(3)}, epsilon ${e.epsilon?.toFixed(2)}, ${e.imagesPerSecond.toFixed(0)} img/s`);
          }
        },
      },
    );
    const pv = train.privacy!;
    say(`      (${pv.epsilon.toFixed(2)}, ${pv.delta})-DP per ${pv.unit}, ${pv.steps} private ${pv.steps === 1 ? 'release' : 'steps'}, ${lastEpoch} epochs`);

    say(`[3/6] balance: equalize sex within each class  (${clock()})`);
    const bal = await balance({ data: paths.data, run: paths.run, target: 'equalize-groups', groupBy: ['sex'], dryRun: false, copy: false, seed: opts.seed, out: paths.balanced });
    say(`      ${bal.realImages} real + ${bal.syntheticImages} synthetic; Gini of cell counts ${bal.before.gini.toFixed(3)} -> ${bal.after.gini.toFixed(3)}`);

    say(`[4/6] evaluate: fidelity, utility and fairness, diversity  (${clock()})`);
    await sampleRun({ run: paths.run, n: bal.realImages, seed: opts.seed, out: paths.samples });
    const ev = await evaluate({
      real: paths.data,
      synthetic: paths.samples,
      augmented: paths.balanced,
      features: 'domain-cnn',
      groupBy: ['sex'],
      splitSeed: opts.seed,
      seed: opts.seed,
      classifierSteps: s.classifierSteps,
      cacheDir: join(out, '.cache'),
      // Each evaluation stage's start, then a bar with the time left every 20 s (as training).
      onProgress: json.stdout ? undefined : progressPrinter(say, { everyMs: 20000, indent: '      ' }),
    });
    writeFileAtomic(paths.evaluation, JSON.stringify({ backend, ...ev }, null, 2) + '\n');

    say(`[5/6] audit: membership-inference attacks  (${clock()})`);
    const au = await auditRun({
      run: paths.run,
      data: paths.data,
      attacks: ['distance', 'dcr', 'domias', 'whitebox'],
      seed: opts.seed,
      bootstrap: s.bootstrap,
      confidence: AUDIT_DEFAULTS.confidence,
      featureDim: AUDIT_DEFAULTS.featureDim,
      domiasDim: AUDIT_DEFAULTS.domiasDim,
      elboDraws: AUDIT_DEFAULTS.elboDraws,
      minGroup: AUDIT_DEFAULTS.minGroup,
      onStage: json.stdout ? undefined : progressPrinter(say, { everyMs: 20000, indent: '      ' }),
    });
    writeFileAtomic(paths.audit, JSON.stringify({ backend, ...au }, null, 2) + '\n');

    say(`[6/6] report  (${clock()})`);
    const rep = await buildReport({ run: paths.run, eval: paths.evaluation, audit: paths.audit, out: paths.report, seed: opts.seed });
    const summary = { command: 'demo', backend, seed: opts.seed, quick: opts.quick, settings: s, out, paths, seconds: (performance.now() - t0) / 1000, verdicts: rep.data.verdicts };
    writeFileAtomic(join(out, 'demo.json'), JSON.stringify(summary, null, 2) + '\n');
    json.write({ ...summary, report: join(rep.out, 'report.html') });
    if (!json.stdout) {
      for (const [k, v] of Object.entries(rep.data.verdicts)) say(`      ${verdictLine(k, v)}`);
      say(`demo done in ${clock()}; report:`);
      process.stdout.write(`${join(rep.out, 'report.html')}\n`);
    }
  });
}
