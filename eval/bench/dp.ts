/**
 * The cost of DP-SGD (issue #5's benchmark): time of a DP step ÷ time of the same non-DP step, batch 64,
 * medsynth vs a PyTorch peer measured in the same run.
 *
 *   npm run bench:dp -- [--json] [--only cvae28,cvae64,gan28-D,gan28-step] [--seconds 2] [--repeats 5]
 *                       [--all-configs] [--write]
 *
 * Rows (eval/bench/archs.ts; DP-SGD with C = 1, σ = 1, fixed batch 64, expected units 64):
 *   cvae28, cvae64  step() vs dpStep(): the whole cVAE is the private module.
 *   gan28-D         dStep() vs dpDStep(): the discriminator step alone (real half through DP-SGD, the
 *                   fake half's gradient added as an ordinary gradient; a fixed fake batch).
 *   gan28-step      step() vs dpStep(): that D step, then the same G step.
 * ratio = DP step time / non-DP step time; target ≤ 1.5.
 *
 * Timing, as eval/bench/throughput.ts: medsynth runs in a child process per configuration (default = what a
 * user gets, initBackend('auto'); `--all-configs` adds wasm without the native kernels, MEDSYNTH_NATIVE=0).
 * Per row: 5 warm-up steps of each kind, then `--repeats` rounds; a round times a block of non-DP steps
 * and a block of DP steps (each ≥ `--seconds` and ≥ 3 steps, a sync point after every step), the order
 * alternating between rounds so that drift cancels. Reported: the median over rounds of each block's mean
 * step time and of the per-round ratio, plus the spread of the ratio. The tensor count after the warm-up
 * must equal the count after all rounds (reported as growth; the command fails otherwise).
 * The child also breaks one DP step into its parts (capture forward/backward, per-example norms,
 * clipped sum, noise) and profiles a DP step by kernel (tf.profile), for the reading of the results.
 * The PyTorch peer (eval/bench/dp_torch.py: per-sample gradients by functorch.vmap(grad), clip, sum,
 * noise) runs right after with torch.set_num_threads(2), OPENBLAS_NUM_THREADS=1, when /usr/bin/python3
 * (or python3) can import torch and functorch.
 * `--write` writes eval/results/dp.md (date, CPU, versions, backend, the table, the breakdown).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { initBackend, resolveBackendChoice, type BackendInfo } from '../../src/backend/index.js';
import { fillNormal } from '../../src/core/gaussian.js';
import { clipFactors } from '../../src/privacy/clip-noise.js';
import { CaptureTape, clippedSum, perExampleNorms } from '../../src/privacy/per-example.js';
import { DP_BENCH, makeWorkload, type ArchName, type Workload } from './archs.js';

export const ROW_NAMES = ['cvae28', 'cvae64', 'gan28-D', 'gan28-step'] as const;
export type RowName = (typeof ROW_NAMES)[number];

/** The architecture of a row and its two step functions. */
function rowSpec(row: RowName): { arch: ArchName; plain: (w: Workload) => void; dp: (w: Workload) => void } {
  if (row === 'gan28-D') return { arch: 'gan28', plain: (w) => w.dStep!(), dp: (w) => w.dpDStep!() };
  return { arch: row === 'gan28-step' ? 'gan28' : row, plain: (w) => w.step(), dp: (w) => w.dpStep!() };
}

export interface RowResult {
  /** Median over rounds of the mean non-DP step time, ms. */
  plainMs: number;
  /** Median over rounds of the mean DP step time, ms. */
  dpMs: number;
  /** Median over rounds of DP / non-DP. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** The same ratio in process CPU time (user + system, all threads): less sensitive to other load. */
  cpuRatio: number;
  /** Fastest single DP step / fastest single non-DP step over all rounds: the least disturbed by other load. */
  bestRatio: number;
  /** Timed steps of each kind, summed over rounds. */
  plainSteps: number;
  dpSteps: number;
  /** Tensor count after all rounds minus after the warm-up. */
  growth: number;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean wall and CPU ms per step of `fn` over a block of ≥ `seconds` and ≥ `minSteps` steps. */
function timeBlock(w: Workload, fn: (w: Workload) => void, seconds: number, minSteps: number): { ms: number; cpuMs: number; minMs: number; steps: number } {
  let steps = 0;
  let minMs = Infinity;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000 || steps < minSteps) {
    const s0 = performance.now();
    fn(w);
    w.lastLoss(); // sync point per step
    const now = performance.now();
    minMs = Math.min(minMs, now - s0);
    steps++;
    elapsed = now - t0;
  }
  const cpu = process.cpuUsage(c0);
  return { ms: elapsed / steps, cpuMs: (cpu.user + cpu.system) / 1000 / steps, minMs, steps };
}

export function timeRow(row: RowName, seconds: number, repeats: number, minSteps = 3): RowResult {
  const spec = rowSpec(row);
  const w = makeWorkload(spec.arch, 0);
  try {
    for (let i = 0; i < 5; i++) {
      spec.plain(w);
      spec.dp(w);
    }
    w.lastLoss(); // sync point: the warm-up is finished
    const before = tf.memory().numTensors;
    const plain: number[] = [];
    const dp: number[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const best = { plain: Infinity, dp: Infinity };
    let plainSteps = 0;
    let dpSteps = 0;
    for (let r = 0; r < repeats; r++) {
      const order = r % 2 === 0 ? (['plain', 'dp'] as const) : (['dp', 'plain'] as const);
      const got: Record<'plain' | 'dp', number> = { plain: 0, dp: 0 };
      const cpu: Record<'plain' | 'dp', number> = { plain: 0, dp: 0 };
      for (const kind of order) {
        const b = timeBlock(w, kind === 'plain' ? spec.plain : spec.dp, seconds, minSteps);
        got[kind] = b.ms;
        cpu[kind] = b.cpuMs;
        best[kind] = Math.min(best[kind], b.minMs);
        if (kind === 'plain') plainSteps += b.steps;
        else dpSteps += b.steps;
      }
      plain.push(got.plain);
      dp.push(got.dp);
      ratios.push(got.dp / got.plain);
      cpuRatios.push(cpu.dp / cpu.plain);
    }
    const loss = w.lastLoss();
    if (!Number.isFinite(loss)) throw new Error(`${row}: loss is ${loss}`);
    return {
      plainMs: median(plain),
      dpMs: median(dp),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      cpuRatio: median(cpuRatios),
      bestRatio: best.dp / best.plain,
      plainSteps,
      dpSteps,
      growth: tf.memory().numTensors - before,
    };
  } finally {
    w.dispose();
  }
}

/**
 * ms of the parts of one DP gradient, in the order dpGradients runs them: the minimum over `reps` calls
 * (other load on the machine only ever adds time).
 */
export interface Parts {
  /** Ordinary gradient of the summed loss w.r.t. the private params (the non-DP work for this module). */
  plainGrad: number;
  /** Forward + backward to the input with the capture tape (no parameter gradients). */
  capture: number;
  /** Per-example (per-unit) squared norms from the captured tensors. */
  norms: number;
  /** Σ_i c_i ∇θ_i from the captured tensors. */
  clippedSum: number;
  /** One N(0, σ²C²) draw per parameter. */
  noise: number;
  /** Parameters of the private module. */
  params: number;
}

function timeParts(arch: ArchName, reps: number): Parts {
  const w = makeWorkload(arch, 0);
  const { params, x, sumLoss } = w.dpProblem!();
  const ms = (fn: () => void): number => {
    const t: number[] = [];
    for (let i = 0; i < reps + 2; i++) {
      const t0 = performance.now();
      fn();
      t.push(performance.now() - t0);
    }
    return Math.min(...t.slice(2)); // the first two are warm-up
  };
  try {
    const plainGrad = ms(() => {
      const { value, grads } = tf.variableGrads(() => sumLoss(x), params);
      value.dataSync(); // sync point
      tf.dispose([value, ...Object.values(grads)]);
    });
    const capture = ms(() => {
      // perExampleNorms's first step, alone.
      const tape = new CaptureTape();
      const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => sumLoss(xi, tape))(x);
      value.dataSync(); // sync point
      tf.dispose([value, grad]);
      tape.dispose();
    });
    const withNorms = ms(() => {
      const tape = new CaptureTape();
      perExampleNorms(x, sumLoss, tape); // reads the norms back: a sync point
      tape.dispose();
    });
    const tape = new CaptureTape();
    const r = perExampleNorms(x, sumLoss, tape);
    const factors = Float32Array.from(clipFactors(r.squaredNorms, DP_BENCH.clipNorm));
    const sum = ms(() => {
      const s = clippedSum(tape, factors);
      for (const g of s.values()) g.dataSync(); // sync point
      tf.dispose([...s.values()]);
    });
    tape.dispose();
    const noise = ms(() => {
      // As dp-sgd.ts: fillNormal on the JS thread, then one upload per parameter.
      const n = params.map((p, k) => tf.tensor(fillNormal(new Float32Array(p.size), k, DP_BENCH.noiseMultiplier * DP_BENCH.clipNorm), p.shape, 'float32'));
      tf.dispose(n);
    });
    return { plainGrad, capture, norms: withNorms - capture, clippedSum: sum, noise, params: params.reduce((a, p) => a + p.size, 0) };
  } finally {
    w.dispose();
  }
}

/** Kernel time of one DP step by kernel name, top `top` (tf.profile syncs after every kernel). */
async function profileDp(row: RowName, top: number): Promise<{ totalMs: number; kernels: [string, number, number][] }> {
  const spec = rowSpec(row);
  const w = makeWorkload(spec.arch, 0);
  try {
    for (let i = 0; i < 3; i++) spec.dp(w);
    w.lastLoss();
    const info = await tf.profile(() => {
      spec.dp(w);
      w.lastLoss();
    });
    const by = new Map<string, [number, number]>();
    for (const k of info.kernels) {
      const e = by.get(k.name) ?? [0, 0];
      e[0] += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e[1]++;
      by.set(k.name, e);
    }
    const totalMs = [...by.values()].reduce((a, e) => a + e[0], 0);
    const kernels = [...by].sort((a, b) => b[1][0] - a[1][0]).slice(0, top).map(([k, [t, n]]) => [k, t, n] as [string, number, number]);
    return { totalMs, kernels };
  } finally {
    w.dispose();
  }
}

interface ChildOut {
  backend: BackendInfo;
  /** 1-minute load average before and after the timed rows. */
  load: [number, number];
  rows: Partial<Record<RowName, RowResult>>;
  parts?: Partial<Record<ArchName, Parts>>;
  profile?: Partial<Record<RowName, { totalMs: number; kernels: [string, number, number][] }>>;
}

/** `--child`: measure medsynth in this process and print JSON. */
async function child(only: RowName[], seconds: number, repeats: number, parts: boolean, backendFlag?: string): Promise<void> {
  const backend = await initBackend(resolveBackendChoice(backendFlag));
  const load0 = loadavg()[0]!;
  const rows: ChildOut['rows'] = {};
  for (const row of only) rows[row] = timeRow(row, seconds, repeats);
  const out: ChildOut = { backend, load: [load0, loadavg()[0]!], rows };
  if (parts) {
    out.parts = {};
    out.profile = {};
    const archs = [...new Set(only.map((r) => rowSpec(r).arch))];
    for (const a of archs) out.parts[a] = timeParts(a, 7);
    for (const row of only.filter((r) => r !== 'gan28-step')) out.profile[row] = await profileDp(row, 8);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

interface Config {
  label: string;
  env: Record<string, string>;
}
const DEFAULT_CONFIG: Config = { label: 'default', env: {} };
const WASM_ONLY: Config = { label: 'wasm only (MEDSYNTH_NATIVE=0)', env: { MEDSYNTH_NATIVE: '0' } };

function runChild(config: Config, only: RowName[], seconds: number, repeats: number, parts: boolean, backendFlag?: string): ChildOut {
  const args = [new URL(import.meta.url).pathname, '--child', '--only', only.join(','), '--seconds', String(seconds), '--repeats', String(repeats)];
  if (parts) args.push('--parts');
  if (backendFlag) args.push('--backend', backendFlag);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...config.env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`medsynth run (${config.label}) failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildOut;
}

const PYTHONS = ['/usr/bin/python3', 'python3'];

function findTorchPython(): string | null {
  for (const py of PYTHONS) {
    const r = spawnSync(py, ['-c', 'import torch, functorch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

interface TorchRow {
  plain_ms: number;
  dp_ms: number;
  ratio: number;
  ratio_min: number;
  ratio_max: number;
  cpu_ratio: number;
  best_ratio: number;
}
interface TorchOut {
  torch: string;
  functorch: string;
  threads: number;
  load: [number, number];
  rows: Partial<Record<RowName, TorchRow>>;
  parts: Partial<Record<ArchName, { per_sample: number; clip_sum: number; noise: number; plain_grad: number }>>;
}

function runTorch(py: string, only: RowName[], seconds: number, repeats: number): TorchOut {
  const script = new URL('../../../eval/bench/dp_torch.py', import.meta.url);
  const r = spawnSync(py, [script.pathname, '--only', only.join(','), '--seconds', String(seconds), '--repeats', String(repeats), '--threads', '2'], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchOut;
}

async function main(): Promise<void> {
  const program = new Command('bench:dp')
    .option('--json', 'print JSON only', false)
    .option('--only <rows>', `comma-separated subset of ${ROW_NAMES.join(',')}`, ROW_NAMES.join(','))
    .option('--seconds <s>', 'seconds per timed block (each round has one non-DP and one DP block)', '2')
    .option('--repeats <n>', 'rounds per row; the median is reported', '5')
    .option('--backend <name>', 'medsynth backend', undefined)
    .option('--all-configs', 'also measure wasm without the native kernels (MEDSYNTH_NATIVE=0)', false)
    .option('--no-torch', 'skip the PyTorch peer')
    .option('--write', 'write eval/results/dp.md', false)
    .option('--child', 'internal: measure medsynth in this process', false)
    .option('--parts', 'internal: also break a DP step into parts and profile it', false)
    .parse(process.argv);
  const opts = program.opts<{
    json: boolean; only: string; seconds: string; repeats: string; backend?: string; allConfigs: boolean; torch: boolean; write: boolean; child: boolean; parts: boolean;
  }>();
  const only = opts.only.split(',').map((s) => s.trim()) as RowName[];
  for (const n of only) if (!(ROW_NAMES as readonly string[]).includes(n)) throw new Error(`unknown row ${n}; use ${ROW_NAMES.join(', ')}`);
  const seconds = Number(opts.seconds);
  const repeats = Number(opts.repeats);
  if (!(seconds > 0) || !(repeats >= 1)) throw new Error(`--seconds must be > 0 and --repeats >= 1, got ${opts.seconds} and ${opts.repeats}`);
  if (opts.child) return child(only, seconds, repeats, opts.parts, opts.backend);
  const say = (s: string) => {
    if (!opts.json) process.stderr.write(s + '\n');
  };

  const configs = opts.allConfigs ? [DEFAULT_CONFIG, WASM_ONLY] : [DEFAULT_CONFIG];
  const runs: { config: Config; out: ChildOut }[] = [];
  for (const config of configs) {
    say(`medsynth (${config.label}) ...`);
    runs.push({ config, out: runChild(config, only, seconds, repeats, config === DEFAULT_CONFIG, opts.backend) });
  }
  let torch: TorchOut | null = null;
  const py = opts.torch ? findTorchPython() : null;
  if (py) {
    say(`PyTorch peer (${py}) ...`);
    torch = runTorch(py, only, seconds, repeats);
  } else if (opts.torch) {
    say("PyTorch peer skipped: no python3 can 'import torch, functorch' (on Debian: apt-get install python3-torch libopenblas0-pthread)");
  }

  if (opts.json) {
    process.stdout.write(JSON.stringify({ medsynth: runs.map((r) => ({ config: r.config.label, ...r.out })), torch }, null, 2) + '\n');
  } else {
    for (const run of runs) {
      for (const row of only) {
        const m = run.out.rows[row]!;
        const t = torch?.rows[row];
        say(
          `${run.config.label.padEnd(30)} ${row.padEnd(10)} medsynth ${m.plainMs.toFixed(1).padStart(7)} → ${m.dpMs.toFixed(1).padStart(7)} ms  ratio ${m.ratio.toFixed(2)} [${m.ratioMin.toFixed(2)}–${m.ratioMax.toFixed(2)}] cpu ${m.cpuRatio.toFixed(2)} best ${m.bestRatio.toFixed(2)}  growth ${m.growth}` +
            (t ? `   torch ${t.plain_ms.toFixed(1).padStart(7)} → ${t.dp_ms.toFixed(1).padStart(7)} ms  ratio ${t.ratio.toFixed(2)} cpu ${t.cpu_ratio.toFixed(2)} best ${t.best_ratio.toFixed(2)}` : ''),
        );
      }
    }
    const parts = runs[0]!.out.parts;
    if (parts) for (const [a, p] of Object.entries(parts)) say(`parts ${a}: ${JSON.stringify(p, (_, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
  }
  if (opts.write) writeResults(runs, only, torch, py, seconds, repeats);
  const leaks = runs.flatMap((r) => only.filter((row) => r.out.rows[row]!.growth !== 0).map((row) => `${r.config.label} ${row}: ${r.out.rows[row]!.growth}`));
  if (leaks.length) throw new Error(`the tensor count grew over the timed steps (${leaks.join('; ')}): a step leaks tensors`);
}

/** Interpretation kept with the tables (the numbers above are regenerated; these lines are not). */
const NOTES: string[] = [
  '## Reading the results (2026-11-22)',
  '',
  '- **Load.** Other jobs kept 8–12 runnable threads on the 2 cores during this run, so every absolute time above is',
  '  inflated several-fold (an idle cvae64 non-DP step is ~150 ms, PyTorch\'s ~200 ms, eval/results/throughput.md) and',
  '  the native kernels\' shares in the profile are inflated most (each call waits for its worker threads to be',
  '  scheduled). The ratios are the robust quantity: DP and non-DP blocks alternate, so both see the same load.',
  '  The quietest measurement of the session (10:41, load 2–4; interleaved single steps, the fastest of 7, medsynth only,',
  '  same code): cvae28 25.4 → 46.2 ms (**1.82**), cvae64 150.0 → 262.6 ms (**1.75**), gan28-D 90.8 → 118.5 ms (**1.30**).',
  '- **Against the target 1.5.** The DP discriminator step (gan28-D) and the whole DP-GAN step meet it. The cVAEs do',
  '  not: 1.7–1.9. The discriminator has one large conv layer; the cVAE is private end to end, six conv layers',
  '  with ~0.8M parameters (cvae64).',
  '- **Where the cVAE\'s overhead goes** (cvae64 at the quiet moment, DP minus non-DP): +80 ms of kernels and +33 ms',
  '  outside them. The kernels: +53 ms batched matmuls (per-example gradients of conv0/conv1/convT1 and the Gram',
  '  matrices of conv2/convT0), +42 ms pads, stacks and transposes that build the shift form, +10 ms for the input',
  '  gradient of the first layer and the split of its input concat (the capture differentiates w.r.t. the image,',
  '  though nothing needs that gradient); minus 14 ms of backward-filter convolutions (book-keeping reuses the',
  '  materialised per-example gradients) and 20 ms of bias sums (batched matmuls instead of tfjs\'s transposing Sum).',
  '- **The noise is the largest single cost left, and it is outside per-example.ts.** dp-sgd.ts draws N(0, σ²C²) with',
  '  tf.randomNormal, which runs on the JS thread at ~40–45 ns per sample here: 34 ms per cvae64 step (0.77M',
  '  parameters; 23 % of the non-DP step), 9 ms per cvae28 step (36 %), 6 ms per discriminator step. That is the +33 ms',
  '  outside the kernels above. With the noise drawn in a wasm/native kernel (a few ns per sample), the quiet-moment',
  '  ratios would be about 1.46 (cvae28), 1.52 (cvae64) and 1.23 (gan28-D). Recommended next step for dp-sgd.ts\'s',
  '  owner; possibly fused with the division by the expected batch and the Adam update (MedsynthAdam).',
  '- **What changed in src/privacy/per-example.ts** (same window, load 9.8–11.8, `--seconds 2 --repeats 3`, default',
  '  configuration, ratio before → after): cvae28 5.36 → 1.96, cvae64 9.96 → 1.92, gan28-D 3.72 → 1.37, gan28-step',
  '  2.12 → 1.30. Before, conv norms unfolded the input with k² strided slices; tfjs-wasm runs a non-contiguous',
  '  strided slice as a generic per-element loop (up to ~10 ms per slice at batch 64), which made a DP step 3.7–10× a',
  '  non-DP step. Now: (1) the "shift form" (space-to-depth of the input, the k/s × k/s shifts of the output gradient)',
  '  or an unfold by one depthwise convolution, whichever writes fewer floats; (2) per layer, the ghost (Gram) norm',
  '  or the materialised per-example gradient, whichever takes fewer multiply-adds (mixed ghost clipping, Bu, Mao & Xu,',
  '  NeurIPS 2022); (3) materialised per-example gradients are reused for the clipped sum (as in Bu et al., ICML 2023) instead of a',
  '  backward-filter convolution; (4) row dots and bias sums as batched matmuls. Tried and rejected (CPU time of the',
  '  fastest of 9 DP steps, 1 oneDNN thread): materialising every conv layer (with book-keeping) was 1.3–1.6× slower',
  '  than the mixed rule; a rule favouring the ghost form −2…+9 %, dropping book-keeping +5…+10 %.',
  '- **PyTorch peer.** functorch.vmap(grad) per-sample gradients, clip, sum, noise: 1.15–1.64 here, i.e. medsynth\'s',
  '  DP overhead is in the same range as PyTorch\'s best available method on this machine for the GAN, and above',
  '  it for the cVAE (PyTorch draws its noise at a few ns per sample). The issue\'s "Opacus 1.4: 3.0× for the same',
  '  GAN" could not be re-measured (opacus is not installed and cannot be), so it is not in the table; Opacus\'s',
  '  default hook-based grad sampler materialises every per-sample gradient, one reason for the 2.6–8× quoted in the issue.',
  '- **wasm only** (no native kernels): 3.3–3.6× for the cVAEs (not profiled). Likely: the per-example work is ~50',
  '  batched matmuls plus pads, transposes and a depthwise conv per step, all on XNNPACK and 2 wasm threads, and the',
  '  form choices were calibrated on the native kernels of the default configuration.',
  '- **Next steps** in per-example.ts: build the shift form in one native kernel (it is pure data movement, ~40 ms of',
  '  a cvae64 DP step at the quiet moment), and take the capture\'s gradients w.r.t. a probe at the first layer\'s output instead of the',
  '  image. Re-run this benchmark on an idle machine.',
];

/** Which libblas.so.3 Debian's alternatives point at (reference BLAS makes the PyTorch peer unfairly slow). */
function blasName(): string {
  const r = spawnSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
  const m = /^Value: (.*)$/m.exec(r.stdout ?? '');
  return m ? m[1]! : 'unknown';
}

const f1 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));

function writeResults(runs: { config: Config; out: ChildOut }[], only: RowName[], torch: TorchOut | null, py: string | null, seconds: number, repeats: number): void {
  const date = new Date().toISOString().slice(0, 10);
  const cpu = cpus()[0]?.model ?? 'unknown';
  const b = runs[0]!.out.backend;
  const loads = [...runs.map((r) => r.out.load), ...(torch ? [torch.load] : [])].flat();
  const lines = [
    '# The cost of DP-SGD: DP step time / non-DP step time',
    '',
    'Produced by `npm run bench:dp -- --all-configs --write` (eval/bench/dp.ts); medsynth and the PyTorch peer',
    '(eval/bench/dp_torch.py) were measured in the same run, one after the other. Architectures: eval/bench/archs.ts,',
    'batch 64. DP-SGD: clip norm 1, noise multiplier 1, fixed batch of 64 (expected units 64), one clip per image.',
    'Rows: cvae = one step of the whole model; gan28-D = the discriminator step alone (real half through DP-SGD,',
    'fake half an ordinary gradient, fixed fake batch); gan28-step = that D step + the G step. Target: ratio ≤ 1.5.',
    '',
    `- date: ${date}`,
    `- CPU: ${cpu}, ${cpus().length} cores; 1-minute load average during the run ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
    `- node ${process.version}, tfjs ${tf.version_core}; default medsynth backend: ${b.name}, ${b.threads ?? '?'} wasm thread(s)${b.native ? `, native ${b.native.library} ${b.native.version} kernels` : ''}`,
    torch
      ? `- PyTorch peer: torch ${torch.torch}, functorch ${torch.functorch} (${py}), torch.set_num_threads(${torch.threads}), OPENBLAS_NUM_THREADS=1, BLAS: ${blasName()}`
      : '- PyTorch peer: not run',
    `- per row: 5 warm-up steps of each kind, then ${repeats} rounds of (non-DP block, DP block), each block ≥ ${seconds} s, order alternating;`,
    '  medians over rounds; range = min–max of the per-round wall-time ratio; CPU = the same ratio in process CPU time',
    '  (user + system, all threads); best = fastest DP step / fastest non-DP step. Other load on the machine inflates',
    '  wall times; CPU and best ratios are disturbed less by it.',
    '',
    '| configuration | workload | medsynth non-DP ms | medsynth DP ms | medsynth ratio (range) | CPU | best | PyTorch non-DP ms | PyTorch DP ms | PyTorch ratio (range) | CPU | best | tensor growth |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const run of runs) {
    for (const row of only) {
      const m = run.out.rows[row]!;
      const t = run.config === DEFAULT_CONFIG ? torch?.rows[row] : undefined;
      const tr = t ? `${f2(t.ratio)} (${f2(t.ratio_min)}–${f2(t.ratio_max)})` : '-';
      lines.push(
        `| ${run.config.label} | ${row} | ${f1(m.plainMs)} | ${f1(m.dpMs)} | **${f2(m.ratio)}** (${f2(m.ratioMin)}–${f2(m.ratioMax)}) | ${f2(m.cpuRatio)} | ${f2(m.bestRatio)} | ${f1(t?.plain_ms)} | ${f1(t?.dp_ms)} | ${tr} | ${f2(t?.cpu_ratio)} | ${f2(t?.best_ratio)} | ${m.growth} over ${m.plainSteps + m.dpSteps} steps |`,
      );
    }
  }
  const parts = runs[0]!.out.parts;
  if (parts) {
    lines.push(
      '',
      '## Where a DP step goes (default configuration)',
      '',
      'ms per call, minimum of 7, for the private module only (cvae: the whole model; gan28: D on the 64 real images).',
      '"plain gradient" is the non-DP work for the same module (forward + backward, parameter gradients). medsynth:',
      'capture = forward + backward to the input with the capture tape; norms = per-example norms from the captured',
      'tensors; clipped sum = Σ c_i ∇θ_i; noise = one Gaussian draw per parameter (dp-sgd.ts). PyTorch: per-sample =',
      'vmap(grad) (forward + backward + per-sample gradients); clip + sum = norms, factors and the weighted sum;',
      'noise = randn_like per parameter.',
      '',
      '| module | params | medsynth plain gradient | capture | norms | clipped sum | noise | PyTorch plain gradient | per-sample | clip + sum | noise |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const [a, p] of Object.entries(parts) as [ArchName, Parts][]) {
      const t = torch?.parts[a];
      lines.push(
        `| ${a === 'gan28' ? 'gan28 D' : a} | ${p.params} | ${f1(p.plainGrad)} | ${f1(p.capture)} | ${f1(p.norms)} | ${f1(p.clippedSum)} | ${f1(p.noise)} | ${f1(t?.plain_grad)} | ${f1(t?.per_sample)} | ${f1(t?.clip_sum)} | ${f1(t?.noise)} |`,
      );
    }
  }
  const prof = runs[0]!.out.profile;
  if (prof) {
    lines.push('', '## Kernels of one DP step (tf.profile, default configuration; syncs after every kernel, read the shares)', '');
    for (const [row, p] of Object.entries(prof)) {
      const top = p.kernels.map(([k, ms, n]) => `${k} ${((100 * ms) / p.totalMs).toFixed(0)} % (${n})`).join(', ');
      lines.push(`- ${row}: ${p.totalMs.toFixed(1)} ms of kernels; ${top}`);
    }
  }
  lines.push('', ...NOTES, '');
  writeFileSync(new URL('../../../eval/results/dp.md', import.meta.url), lines.join('\n'));
}

const isMain = process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1];
if (isMain) {
  main().catch((err) => {
    process.stderr.write(`bench:dp: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
