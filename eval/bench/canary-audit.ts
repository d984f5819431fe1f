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
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Rng } from '../../src/core/rng.js';
import { canaryAuditBound } from '../privacy/canary-bound.js';
import { gradientCanaryScores } from '../privacy/canary-score.js';

const BIN = new URL('../../src/cli/bin.js', import.meta.url).pathname;
const BREAK_SCRIPT = new URL('../../../scripts/audit-break.mjs', import.meta.url).pathname;
const BREAKS = ['noise', 'clipping', 'double-count'] as const;

interface Row {
  label: string;
  eps: number;
  lbs: number[];
  ideal: number[];
  accountant: number[];
  correct: string[];
  seconds: number[];
  sigma: number;
  q: number;
  steps: number;
}

function run(cmd: string, args: string[]): { stdout: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { stdout: r.stdout, seconds: (performance.now() - t0) / 1000 };
}

/** The ideal audit: simulated observations of a perfect implementation with the run's q, T, σ, m. */
export function idealBound(o: { q: number; steps: number; sigma: number; m: number; delta: number; seed: number }): number {
  const rng = new Rng(o.seed);
  const included = Uint8Array.from({ length: o.m }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const obs = new Float32Array(o.steps * o.m);
  for (let t = 0; t < o.steps; t++) {
    for (let i = 0; i < o.m; i++) obs[t * o.m + i] = (included[i] && rng.uniform() < o.q ? 1 : 0) + o.sigma * rng.normal();
  }
  const s = gradientCanaryScores(obs, { canaries: o.m, sampleRate: o.q, noiseMultiplier: o.sigma }).likelihoodRatio;
  return canaryAuditBound(s, included, { delta: o.delta }).epsilonLowerBound;
}

const fmt = (xs: number[]) => (xs.length ? `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : '-');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const opts = new Command()
    .option('--data <path>', 'training data', resolve('../shared/data/pneumoniamnist/pneumoniamnist.npz'))
    .option('--size <px>', 'image side', '28')
    .option('--eps <list>', 'target epsilons', '1,2,4,8')
    .option('--runs <n>', 'runs per setting', '5')
    .option('--canaries <m>', 'canaries per run', '1000')
    .option('--epochs <n>', 'epochs per run', '6')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--break-eps <e>', 'epsilon of the broken runs', '2')
    .option('--break-runs <n>', 'runs per break', '5')
    .option('--cost-repeats <n>', 'normal/audit pairs timed', '2')
    .option('--input-eps <list>', 'target epsilons of the input-canary rows', '8')
    .option('--only <parts>', 'comma list of gradient, breaks, input, cost', 'gradient,breaks,input,cost')
    .option('--out <file>', 'results table', 'eval/results/canary-audit.md')
    .parse()
    .opts();
  if (!existsSync(opts.data)) {
    process.stderr.write(`bench:canary: ${opts.data} not found; pass --data (the benchmark needs ../shared/data)\n`);
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'medsynth-canary-'));
  const m = Number(opts.canaries);
  const loads: number[] = [loadavg()[0]!];
  const base = ['--data', opts.data, '--model', 'cvae', '--size', opts.size, '--epochs', opts.epochs, '--batch-size', opts.batchSize];
  const rows: Row[] = [];
  const parts = new Set(String(opts.only).split(','));
  const audit = (dir: string) => {
    const f = join(dir, 'audit.json');
    run(BIN, ['audit', '--model', dir, '--data', opts.data, '--attacks', 'control', '--bootstrap', '10', '--json', f]);
    return JSON.parse(readFileSync(f, 'utf8')).canaryAudit as { epsilonLowerBound: number; accountantEpsilon: number; correct: number; guesses: number; delta: number; blackBox?: { epsilonLowerBound: number } };
  };
  const card = (dir: string) => JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')).privacy as { noiseMultiplier: number; sampleRate: number; steps: number; delta: number };
  const record = (row: Row, dir: string, seconds: number, r: number, blackRow?: Row) => {
    const gradient = blackRow === undefined;
    const a = audit(dir);
    const pv = card(dir);
    Object.assign(row, { sigma: pv.noiseMultiplier, q: pv.sampleRate, steps: pv.steps });
    if (blackRow && a.blackBox) {
      Object.assign(blackRow, { sigma: pv.noiseMultiplier, q: pv.sampleRate, steps: pv.steps });
      blackRow.lbs.push(a.blackBox.epsilonLowerBound);
      blackRow.accountant.push(a.accountantEpsilon);
      blackRow.seconds.push(seconds);
    }
    row.lbs.push(a.epsilonLowerBound);
    row.accountant.push(a.accountantEpsilon);
    row.correct.push(`${a.correct}/${a.guesses}`);
    row.seconds.push(seconds);
    if (gradient) row.ideal.push(idealBound({ q: pv.sampleRate, steps: pv.steps, sigma: pv.noiseMultiplier, m, delta: pv.delta, seed: 1000 + r }));
    loads.push(loadavg()[0]!);
    process.stderr.write(`${row.label} run ${r + 1}: eps_lb ${a.epsilonLowerBound.toFixed(3)} (${a.correct}/${a.guesses}), ideal ${row.ideal.at(-1)?.toFixed(3) ?? '-'}, accountant ${a.accountantEpsilon.toFixed(3)}, ${seconds.toFixed(0)} s\n`);
  };
  try {
    for (const eps of parts.has('gradient') ? String(opts.eps).split(',').map(Number) : []) {
      const row: Row = { label: `correct DP-SGD, ε = ${eps}`, eps, lbs: [], ideal: [], accountant: [], correct: [], seconds: [], sigma: 0, q: 0, steps: 0 };
      for (let r = 0; r < Number(opts.runs); r++) {
        const dir = join(work, `eps${eps}-${r}`);
        const t = run(BIN, ['train', ...base, '--out', dir, '--dp', '--target-epsilon', String(eps), '--seed', String(r + 1), '--audit-canaries', String(m), '--canary-seed', String(100 + r), '--json', join(work, `eps${eps}-${r}.jsonl`)]);
        record(row, dir, t.seconds, r);
        rmSync(dir, { recursive: true, force: true });
      }
      rows.push(row);
    }
    const breakEps = Number(opts.breakEps);
    for (const b of parts.has('breaks') ? BREAKS : []) {
      const row: Row = { label: `BROKEN (${b}), ε = ${breakEps} claimed`, eps: breakEps, lbs: [], ideal: [], accountant: [], correct: [], seconds: [], sigma: 0, q: 0, steps: 0 };
      for (let r = 0; r < Number(opts.breakRuns); r++) {
        const dir = join(work, `break-${b}-${r}`);
        const cfg = {
          model: 'cvae', data: opts.data, size: Number(opts.size), condition: ['label'], epochs: Number(opts.epochs), batchSize: Number(opts.batchSize),
          seed: r + 1, splitSeed: 0, generator: {}, dp: { targetEpsilon: breakEps, clipNorm: 1, accountant: 'rdp' },
          auditCanaries: { canaries: m, kind: 'gradient', seed: 200 + r, break: b },
        };
        const t = run(BREAK_SCRIPT, [dir, JSON.stringify(cfg)]);
        record(row, dir, t.seconds, r);
        rmSync(dir, { recursive: true, force: true });
      }
      rows.push(row);
    }
    for (const eps of parts.has('input') ? String(opts.inputEps).split(',').map(Number) : []) {
      const row: Row = { label: `input canaries, white-box (final model's loss), ε = ${eps}`, eps, lbs: [], ideal: [], accountant: [], correct: [], seconds: [], sigma: 0, q: 0, steps: 0 };
      const black: Row = { label: `input canaries, black-box (samples only), ε = ${eps}`, eps, lbs: [], ideal: [], accountant: [], correct: [], seconds: [], sigma: 0, q: 0, steps: 0 };
      for (let r = 0; r < Number(opts.runs); r++) {
        const dir = join(work, `input${eps}-${r}`);
        const t = run(BIN, ['train', ...base, '--out', dir, '--dp', '--target-epsilon', String(eps), '--seed', String(r + 1), '--audit-canaries', String(m), '--canary-kind', 'input', '--canary-seed', String(300 + r), '--json', join(work, `input${eps}-${r}.jsonl`)]);
        record(row, dir, t.seconds, r, black);
        rmSync(dir, { recursive: true, force: true });
      }
      rows.push(row, black);
    }
    // Cost: the same run with and without canaries, alternating.
    const normal: number[] = [];
    const audited: number[] = [];
    for (let r = 0; r < (parts.has('cost') ? Number(opts.costRepeats) : 0); r++) {
      for (const withCanaries of [false, true]) {
        const dir = join(work, `cost-${r}-${withCanaries}`);
        const t = run(BIN, ['train', ...base, '--out', dir, '--dp', '--target-epsilon', '4', '--seed', '1', ...(withCanaries ? ['--audit-canaries', String(m), '--canary-seed', '1'] : []), '--json', join(work, 'cost.jsonl')]);
        (withCanaries ? audited : normal).push(t.seconds);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    loads.push(loadavg()[0]!);
    writeResults(opts, rows, { normal, audited }, loads, m);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function writeResults(opts: Record<string, string>, rows: Row[], cost: { normal: number[]; audited: number[] }, loads: number[], m: number): void {
  const lines = [
    '# One-run canary audit of DP-SGD (#20)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? '?'} (${cpus().length} cores); 1-min load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} during the run. \`npm run bench:canary\` (eval/bench/canary-audit.ts).`,
    '',
    `Setting: cVAE, ${opts.data.split('/').slice(-1)[0]} at ${opts.size} px, image units, batch ${opts.batchSize}, ${opts.epochs} epochs, RDP accountant, ${m} Dirac gradient canaries (each included with probability 1/2, secretly), all iterates observed, likelihood-ratio scores, Steinke et al. (2023) one-run bound at 95% confidence with the Bonferroni-corrected search over k. Every figure: mean (min–max) over the runs.`,
    '',
    'IDEAL = the same audit on simulated observations of a perfect implementation with each run\'s own q, T, σ and m: the most this method can show in this setting.',
    '',
    '| setting | runs | σ | q | steps | accountant ε | ε_lb (canary audit) | ε_lb / ε | IDEAL ε_lb | caught (ε_lb > ε) | s / run |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const acc = mean(r.accountant);
    const caught = r.lbs.filter((x, i) => x > r.accountant[i]!).length;
    lines.push(`| ${r.label} | ${r.lbs.length} | ${r.sigma.toFixed(3)} | ${r.q.toFixed(4)} | ${r.steps} | ${acc.toFixed(2)} | ${fmt(r.lbs)} | ${(mean(r.lbs) / acc).toFixed(2)} | ${fmt(r.ideal)} | ${caught}/${r.lbs.length} | ${mean(r.seconds).toFixed(0)} |`);
  }
  if (cost.normal.length) {
    const ratio = mean(cost.audited) / mean(cost.normal);
    lines.push('', `Cost: a normal run ${fmt(cost.normal)} s, the same run as an audit run (${m} gradient canaries) ${fmt(cost.audited)} s: ${ratio.toFixed(2)}× (target ≤ 1.3×).`);
  }
  lines.push('', 'The IDEAL column applies to gradient canaries only (input canaries: "-").', '');
  const out = resolve(opts.out);
  const prev = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const notes = prev.includes('\n## Reading') ? prev.slice(prev.indexOf('\n## Reading')) : '';
  writeFileSync(out, lines.join('\n') + notes);
  process.stderr.write(`wrote ${out}\n`);
}

await main();
