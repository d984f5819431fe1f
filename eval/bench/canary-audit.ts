/**
 * `npm run bench:canary`: the one-run canary audit (#20) on real DP-SGD training runs.
 *
 * For each ε of --eps and each of --runs runs: `medsynth train --dp --target-epsilon ε --audit-canaries M`
 * (cVAE, PneumoniaMNIST 28 px by default, image units), then `medsynth audit` (its canaryAudit). Beside each
 * row, the IDEAL: the same audit on simulated observations of a perfect implementation with the run's own
 * q, T, σ and m (y = drawn + N(0, σ²), no real-gradient interference) — what the one-run theorem can show
 * at all in this setting, so a gap between a row and its ideal is the implementation's, and a gap between
 * the ideal and ε is the method's. Then the deliberate breaks (scripts/audit-break.mjs, a test-only entry
 * point; the CLI cannot break DP), and the cost of an audit run against a normal run of the same model
 * and data. Writes eval/results/canary-audit.md.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Rng } from '../../src/core/rng.js';
import { calibrateNoise } from '../../src/privacy/calibrate.js';
import { canaryAuditGdpBound } from '../privacy/canary-bound-fdp.js';
import { canaryAuditBound } from '../privacy/canary-bound.js';
import { gradientCanaryScores } from '../privacy/canary-score.js';

const BIN = new URL('../../src/cli/bin.js', import.meta.url).pathname;
const BREAK_SCRIPT = new URL('../../../scripts/audit-break.mjs', import.meta.url).pathname;
const BREAKS = ['noise', 'clipping', 'double-count'] as const;


function run(cmd: string, args: string[]): { stdout: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { stdout: r.stdout, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The ideal audit: simulated observations of a perfect implementation with the run's q, T, σ, m; the
 * (ε, δ) one-run bound and, from the same guesses, the f-DP (Gaussian family) figure.
 */
export function idealBound(o: { q: number; steps: number; sigma: number; m: number; delta: number; seed: number; amplitude?: number }): { epsilonLowerBound: number; gdpEpsilon: number } {
  const rng = new Rng(o.seed);
  const included = Uint8Array.from({ length: o.m }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const obs = new Float32Array(o.steps * o.m);
  for (let t = 0; t < o.steps; t++) {
    for (let i = 0; i < o.m; i++) obs[t * o.m + i] = (included[i] && rng.uniform() < o.q ? (o.amplitude ?? 1) : 0) + o.sigma * rng.normal();
  }
  const s = gradientCanaryScores(obs, { canaries: o.m, sampleRate: o.q, noiseMultiplier: o.sigma }).likelihoodRatio;
  return { epsilonLowerBound: canaryAuditBound(s, included, { delta: o.delta }).epsilonLowerBound, gdpEpsilon: canaryAuditGdpBound(s, included, { delta: o.delta }).epsilonAtDelta };
}

const fmt = (xs: number[]) => (xs.length ? `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : '-');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One finished run, as appended to the records file (JSON Lines), so parallel and resumed invocations add up. */
interface RunRecord {
  label: string;
  key: string;
  eps: number;
  lb: number;
  ideal: number | null;
  /** Since 2026-12-05: the f-DP (Gaussian family) ε, and the test against the claimed curve (rejected, adjusted p). */
  gdp?: number | null;
  claimRejected?: boolean | null;
  claimP?: number | null;
  accountant: number;
  correct: string;
  seconds: number;
  sigma: number;
  q: number;
  steps: number;
  load: number;
}

interface CostRecord {
  key: string;
  cost: 'normal' | 'audit';
  seconds: number;
  load: number;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--data <path>', 'training data', resolve('../shared/data/pneumoniamnist/pneumoniamnist.npz'))
    .option('--size <px>', 'image side', '28')
    .option('--eps <list>', 'target epsilons', '1,2,4,8')
    .option('--runs <n>', 'runs per setting', '5')
    .option('--from-run <k>', 'start at run k of each setting (to split a setting between invocations)', '0')
    .option('--canaries <m>', 'canaries per run', '1000')
    .option('--epochs <n>', 'epochs per run', '3')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--break-eps <e>', 'epsilon of the broken runs', '2')
    .option('--breaks <list>', 'which breaks to run', BREAKS.join(','))
    .option('--cost-repeats <n>', 'normal/audit pairs timed', '2')
    .option('--input-eps <list>', 'target epsilons of the input-canary rows', '8')
    .option('--only <parts>', 'comma list of gradient, breaks, input, cost, simulate (none: only write the table)', 'gradient,breaks,input,cost')
    .option('--records <file>', 'finished runs (JSON Lines): runs already there are skipped, so invocations can run in parallel or resume', 'eval/results/canary-audit.jsonl')
    .option('--out <file>', 'results table', 'eval/results/canary-audit.md')
    .parse()
    .opts();
  if (!existsSync(opts.data)) {
    process.stderr.write(`bench:canary: ${opts.data} not found; pass --data (the benchmark needs ../shared/data)\n`);
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'medsynth-canary-'));
  const m = Number(opts.canaries);
  const base = ['--data', opts.data, '--model', 'cvae', '--size', opts.size, '--epochs', opts.epochs, '--batch-size', opts.batchSize];
  const parts = new Set(String(opts.only).split(','));
  const recordsFile = resolve(opts.records);
  const done = () => new Set(readRecords(recordsFile).map((r) => r.key));
  const append = (rec: RunRecord | CostRecord) => appendFileSync(recordsFile, JSON.stringify(rec) + '\n');
  const audit = (dir: string) => {
    const f = join(dir, 'audit.json');
    run(BIN, ['audit', '--model', dir, '--data', opts.data, '--attacks', 'control', '--bootstrap', '10', '--json', f]);
    return JSON.parse(readFileSync(f, 'utf8')).canaryAudit as {
      epsilonLowerBound: number;
      accountantEpsilon: number;
      correct: number;
      guesses: number;
      delta: number;
      blackBox?: { epsilonLowerBound: number; correct: number; guesses: number };
      gdp?: { epsilonAtDelta: number };
      claimTest?: { rejected: boolean | null; pValue?: number };
    };
  };
  const card = (dir: string) => JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')).privacy as { noiseMultiplier: number; sampleRate: number; steps: number; delta: number };
  /** Trains (unless done), audits, appends the record(s). `train` returns the run's seconds. */
  const unit = (key: string, label: string, eps: number, r: number, train: (dir: string) => number, input = false) => {
    if (done().has(key)) return;
    const dir = join(work, key);
    const seconds = train(dir);
    const a = audit(dir);
    const pv = card(dir);
    const common = { eps, accountant: a.accountantEpsilon, seconds, sigma: pv.noiseMultiplier, q: pv.sampleRate, steps: pv.steps, load: loadavg()[0]! };
    const ideal = input ? null : idealBound({ q: pv.sampleRate, steps: pv.steps, sigma: pv.noiseMultiplier, m, delta: pv.delta, seed: 1000 + r }).epsilonLowerBound;
    const readings = { gdp: a.gdp?.epsilonAtDelta ?? null, claimRejected: a.claimTest?.rejected ?? null, claimP: a.claimTest?.pValue ?? null };
    append({ key, label, lb: a.epsilonLowerBound, ideal, correct: `${a.correct}/${a.guesses}`, ...readings, ...common });
    if (input && a.blackBox) append({ key: `${key}-black`, label: label.replace('white-box (final model\'s loss)', 'black-box (samples only)'), lb: a.blackBox.epsilonLowerBound, ideal: null, correct: `${a.blackBox.correct}/${a.blackBox.guesses}`, ...common });
    process.stderr.write(`${label} run ${r + 1}: eps_lb ${a.epsilonLowerBound.toFixed(3)} (${a.correct}/${a.guesses}), ideal ${ideal?.toFixed(3) ?? '-'}, accountant ${a.accountantEpsilon.toFixed(3)}, ${seconds.toFixed(0)} s\n`);
    rmSync(dir, { recursive: true, force: true });
  };
  const cli = (extra: string[]) => (dir: string) => run(BIN, ['train', ...base, '--out', dir, '--dp', ...extra, '--json', `${dir}.jsonl`]).seconds;
  try {
    for (const eps of parts.has('gradient') ? String(opts.eps).split(',').map(Number) : []) {
      for (let r = Number(opts.fromRun); r < Number(opts.runs); r++) {
        unit(`gradient-${eps}-${r}`, `correct DP-SGD, ε = ${eps}`, eps, r, cli(['--target-epsilon', String(eps), '--seed', String(r + 1), '--audit-canaries', String(m), '--canary-seed', String(100 + r)]));
      }
    }
    const breakEps = Number(opts.breakEps);
    for (const b of parts.has('breaks') ? String(opts.breaks).split(',') : []) {
      for (let r = 0; r < Number(opts.runs); r++) {
        const cfg = {
          model: 'cvae', data: opts.data, size: Number(opts.size), condition: ['label'], epochs: Number(opts.epochs), batchSize: Number(opts.batchSize),
          seed: r + 1, splitSeed: 1, generator: {}, dp: { targetEpsilon: breakEps, clipNorm: 1, accountant: 'rdp' },
          auditCanaries: { canaries: m, kind: 'gradient', seed: 200 + r, break: b },
        };
        unit(`break-${b}-${breakEps}-${r}`, `BROKEN (${b}), ε = ${breakEps} claimed`, breakEps, r, (dir) => run(BREAK_SCRIPT, [dir, JSON.stringify(cfg)]).seconds);
      }
    }
    for (const eps of parts.has('input') ? String(opts.inputEps).split(',').map(Number) : []) {
      for (let r = 0; r < Number(opts.runs); r++) {
        unit(`input-${eps}-${r}`, `input canaries, white-box (final model's loss), ε = ${eps}`, eps, r, cli(['--target-epsilon', String(eps), '--seed', String(r + 1), '--audit-canaries', String(m), '--canary-kind', 'input', '--canary-seed', String(300 + r)]), true);
      }
    }
    if (parts.has('simulate')) simulate(m);
    // Cost: the same run with and without canaries, alternating.
    for (let r = 0; r < (parts.has('cost') ? Number(opts.costRepeats) : 0); r++) {
      for (const withCanaries of [false, true]) {
        const key = `cost-${r}-${withCanaries ? 'audit' : 'normal'}`;
        if (done().has(key)) continue;
        const seconds = cli(['--target-epsilon', '4', '--seed', '1', ...(withCanaries ? ['--audit-canaries', String(m), '--canary-seed', '1'] : [])])(join(work, key));
        append({ key, cost: withCanaries ? 'audit' : 'normal', seconds, load: loadavg()[0]! });
      }
    }
    writeResults(opts, readRecords(recordsFile), m);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `--only simulate`: the IDEAL audit for more canaries and for one full-batch Gaussian release, at the
 * benchmark's q and T (σ calibrated by the RDP accountant as train does), 3 seeds each; printed as a table.
 */
function simulate(m: number): void {
  const q = 64 / 4708;
  const settings = [
    { name: `${m}, q = ${q.toFixed(4)}, T = 222`, m, q, steps: 222 },
    { name: `${10 * m}, q = ${q.toFixed(4)}, T = 222`, m: 10 * m, q, steps: 222 },
    { name: `${m}, one full-batch Gaussian release (q = 1, T = 1)`, m, q: 1, steps: 1 },
  ];
  // Each cell: the (ε, δ) bound's range over 3 seeds, then in brackets the f-DP figure's (valid only if
  // the canaries' trade-off curve is Gaussian: eval/privacy/canary-bound-fdp.ts).
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const cell = (b: { epsilonLowerBound: number; gdpEpsilon: number }[]) => `${range(b.map((x) => x.epsilonLowerBound))} (${range(b.map((x) => x.gdpEpsilon))})`;
  const out = ['| canaries, setting | ε = 1 | ε = 2 | ε = 4 | ε = 8 | unit counted twice, ε = 2 claimed |', '|---|---|---|---|---|---|'];
  for (const st of settings) {
    const cells = [1, 2, 4, 8].map((eps) => {
      const sigma = calibrateNoise({ targetEpsilon: eps, delta: 1e-5, sampleRate: st.q, steps: st.steps }).noiseMultiplier;
      return cell([0, 1, 2].map((seed) => idealBound({ q: st.q, steps: st.steps, sigma, m: st.m, delta: 1e-5, seed })));
    });
    const sigma2 = calibrateNoise({ targetEpsilon: 2, delta: 1e-5, sampleRate: st.q, steps: st.steps }).noiseMultiplier;
    const d = [0, 1, 2].map((seed) => idealBound({ q: st.q, steps: st.steps, sigma: sigma2, m: st.m, delta: 1e-5, seed, amplitude: 2 }));
    out.push(`| ${st.name} | ${cells.join(' | ')} | ${cell(d)} |`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

function readRecords(file: string): (RunRecord & CostRecord)[] {
  if (!existsSync(file)) return [];
  // Two invocations may finish the same run: the first record of a key counts.
  const seen = new Set<string>();
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RunRecord & CostRecord)
    .filter((r) => !seen.has(r.key) && seen.add(r.key) !== undefined);
}

function writeResults(opts: Record<string, string>, records: (RunRecord & CostRecord)[], m: number): void {
  const runs = records.filter((r) => r.cost === undefined);
  const loads = records.map((r) => r.load);
  // Correct runs by ε, then the breaks, then input canaries.
  const rank = (l: string) => (l.startsWith('correct') ? 0 : l.startsWith('BROKEN') ? 1 : 2);
  const labels = [...new Set(runs.map((r) => r.label))].sort((a, b) => rank(a) - rank(b) || runs.find((r) => r.label === a)!.eps - runs.find((r) => r.label === b)!.eps || a.localeCompare(b));
  const lines = [
    '# One-run canary audit of DP-SGD (#20)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? '?'} (${cpus().length} cores); 1-min load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} over the runs (other work shared the machine: the times are not clean). \`npm run bench:canary\` (eval/bench/canary-audit.ts; every run's record in eval/results/canary-audit.jsonl).`,
    '',
    `Setting: cVAE, ${opts.data.split('/').slice(-1)[0]} at ${opts.size} px, image units, batch ${opts.batchSize}, ${opts.epochs} epochs, RDP accountant, ${m} canaries per run (each included with probability 1/2, secretly). Gradient canaries: Dirac, all iterates observed, likelihood-ratio scores. Steinke et al. (2023) one-run bound at 95% confidence with the Bonferroni-corrected search over k. Every figure: mean (min–max) over the runs.`,
    '',
    'IDEAL = the same audit on simulated observations of a perfect implementation with each run\'s own q, T, σ and m: the most this method can show in this setting (gradient canaries only).',
    '',
    '| setting | runs | σ | q | steps | accountant ε | ε_lb (canary audit) | ε_lb / ε | IDEAL ε_lb | ε_lb > ε (caught) | f-DP ε, Gaussian family | claimed curve rejected | s / run |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const label of labels) {
    const rs = runs.filter((r) => r.label === label);
    const lbs = rs.map((r) => r.lb);
    const acc = mean(rs.map((r) => r.accountant));
    const ideal = rs.flatMap((r) => (r.ideal === null ? [] : [r.ideal]));
    const caught = rs.filter((r) => r.lb > r.accountant).length;
    // Runs recorded before 2026-12-05 carry neither reading: counted over the runs that do.
    const gdp = rs.flatMap((r) => (typeof r.gdp === 'number' ? [r.gdp] : []));
    const tested = rs.filter((r) => typeof r.claimRejected === 'boolean');
    const rejected = tested.length ? `${tested.filter((r) => r.claimRejected).length}/${tested.length}` : '-';
    lines.push(`| ${label} | ${rs.length} | ${rs[0]!.sigma.toFixed(3)} | ${rs[0]!.q.toFixed(4)} | ${rs[0]!.steps} | ${acc.toFixed(2)} | ${fmt(lbs)} | ${(mean(lbs) / acc).toFixed(2)} | ${fmt(ideal)} | ${caught}/${rs.length} | ${fmt(gdp)} | ${rejected} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`);
  }
  const normal = records.filter((r) => r.cost === 'normal').map((r) => r.seconds);
  const audited = records.filter((r) => r.cost === 'audit').map((r) => r.seconds);
  if (normal.length && audited.length) {
    lines.push('', `Cost: a normal run ${fmt(normal)} s, the same run as an audit run (${m} gradient canaries) ${fmt(audited)} s: ${(mean(audited) / mean(normal)).toFixed(2)}× (target ≤ 1.3×; pairs run back to back).`);
  }
  lines.push('');
  const out = resolve(opts.out);
  const prev = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const notes = prev.includes('\n## Reading') ? prev.slice(prev.indexOf('\n## Reading')) : '';
  writeFileSync(out, lines.join('\n') + notes);
  process.stderr.write(`wrote ${out}\n`);
}

await main();
