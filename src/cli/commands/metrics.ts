/** `medsynth metrics`: FID, KID and precision / recall / density / coverage between two feature files. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseCsvRecords } from '../../../datasets/csv.js';
import { parseNpy } from '../../../datasets/npy.js';
import { fidelity, type FeatureMatrix, type FidelityResult } from '../../../eval/fidelity/index.js';
import { checkSameDimension } from '../../../eval/fidelity/matrix.js';
import { DEFAULT_KID_SEED, DEFAULT_KID_SUBSETS, DEFAULT_KID_SUBSET_SIZE } from '../../../eval/fidelity/kid.js';
import { DEFAULT_K } from '../../../eval/fidelity/prdc.js';
import { DatasetError } from '../../core/errors.js';
import { describeBackend, startBackend } from '../context.js';
import { parsePositiveInt, parseSeed } from '../options.js';
import { fmt } from '../../core/table.js';
import type { BackendInfo } from '../../backend/index.js';
import { JsonOutput, withExample, withSharedOptions, type SharedOptions } from './shared.js';

export interface MetricsCliOptions extends SharedOptions {
  real: string;
  synthetic: string;
  k: number;
  kidSubsets: number;
  kidSubsetSize: number;
  seed: number;
}

export interface MetricsReport extends FidelityResult {
  real: { path: string; n: number };
  synthetic: { path: string; n: number };
  /** Seconds to read both files (the metrics' own times are in `seconds`). */
  readSeconds: number;
}

function parseSubsetSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError('expected a whole number >= 2');
  return n;
}

export function registerMetricsCommand(program: Command): void {
  withExample(withSharedOptions(
    program
      .command('metrics')
      .description('fidelity of synthetic features against real ones: FID, KID, precision, recall, density, coverage')
      .requiredOption('--real <file>', 'real features: a 2-D float32/float64 .npy or a numeric .csv, one row per sample')
      .requiredOption('--synthetic <file>', 'synthetic features, same columns as --real')
      .option('--k <n>', 'nearest neighbours for precision, recall, density, coverage', parsePositiveInt, DEFAULT_K)
      .option('--kid-subsets <n>', 'KID subset pairs', parsePositiveInt, DEFAULT_KID_SUBSETS)
      .option('--kid-subset-size <n>', 'KID subset size (capped at each set size)', parseSubsetSize, DEFAULT_KID_SUBSET_SIZE)
      .option('--seed <int>', 'seed of the KID subset draws', parseSeed, DEFAULT_KID_SEED),
  ), 'medsynth metrics --real real.npy --synthetic synthetic.npy --k 5').action(async (opts: MetricsCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const report = await runMetrics(opts);
    json.write({ command: 'metrics', backend, ...report });
    if (!json.stdout) process.stdout.write(formatMetrics(report, backend));
  });
}

export async function runMetrics(opts: Omit<MetricsCliOptions, keyof SharedOptions>): Promise<MetricsReport> {
  const t0 = performance.now();
  const names = { real: `--real ${opts.real}`, synthetic: `--synthetic ${opts.synthetic}` };
  const real = readFeatureMatrix(opts.real, '--real');
  const synthetic = readFeatureMatrix(opts.synthetic, '--synthetic');
  checkSameDimension(real, synthetic, names);
  const readSeconds = (performance.now() - t0) / 1000;
  const result = await fidelity(real, synthetic, {
    k: opts.k,
    kidSubsets: opts.kidSubsets,
    kidSubsetSize: opts.kidSubsetSize,
    seed: opts.seed,
    names,
  });
  return { real: { path: opts.real, n: real.n }, synthetic: { path: opts.synthetic, n: synthetic.n }, readSeconds, ...result };
}

/**
 * Reads a feature matrix: a 2-D `.npy` of float32 or float64 (C order), or a `.csv` of numbers with an
 * optional header line. Every value must be finite. `option` names the flag in error messages.
 */
export function readFeatureMatrix(path: string, option: string): FeatureMatrix {
  const where = `${option} ${path}`;
  const ext = extname(path).toLowerCase();
  if (ext !== '.npy' && ext !== '.csv') {
    throw new DatasetError(`${where}: unknown feature file type '${ext || '(none)'}'; use a 2-D .npy (numpy.save) or a numeric .csv`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DatasetError(`${where}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  }
  const m = ext === '.npy' ? npyMatrix(bytes, where) : csvMatrix(bytes.toString('utf8'), where);
  if (m.n === 0 || m.d === 0) throw new DatasetError(`${where}: no features (shape ${m.n} × ${m.d}); write one row per sample`);
  return m;
}

function npyMatrix(bytes: Uint8Array, where: string): FeatureMatrix {
  const a = parseNpy(bytes, where);
  if (a.shape.length !== 2) {
    throw new DatasetError(
      `${where}: expected a 2-D array [samples, features] but got shape (${a.shape.join(', ')}); save it as 2-D, e.g. numpy.save(f, x.reshape(len(x), -1))`,
    );
  }
  if (a.dtype !== '<f4' && a.dtype !== '<f8') {
    throw new DatasetError(`${where}: dtype ${a.dtype} is not a float; save features as float32 or float64, e.g. x.astype(numpy.float32)`);
  }
  const [n, d] = a.shape as [number, number];
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const what = Number.isNaN(a.data[i]) ? 'NaN' : Number.isFinite(a.data[i]) ? `${a.data[i]} (beyond float32)` : String(a.data[i]);
      throw new DatasetError(`${where}: row ${Math.floor(i / d) + 1}, column ${(i % d) + 1} is ${what}; features must be finite numbers`);
    }
  }
  return { n, d, data };
}

function csvMatrix(text: string, where: string): FeatureMatrix {
  const records = parseCsvRecords(text, where);
  const numeric = (s: string) => s.trim() !== '' && !Number.isNaN(Number(s));
  // A first line with any field that is not a number is a header.
  const rows = records.length > 0 && !records[0]!.fields.every(numeric) ? records.slice(1) : records;
  if (rows.length === 0) return { n: 0, d: 0, data: new Float32Array(0) };
  const d = rows[0]!.fields.length;
  const data = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    if (r.fields.length !== d) {
      throw new DatasetError(`${where} line ${r.line}: ${r.fields.length} values but the first row has ${d}; every row needs the same columns`);
    }
    r.fields.forEach((f, j) => {
      const t = f.trim();
      const v = t === '' ? NaN : Number(t);
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) {
        const what = t === '' ? 'empty' : JSON.stringify(t);
        throw new DatasetError(`${where} line ${r.line}: column ${j + 1} is ${what}, not a finite number; features must be finite numbers`);
      }
      data[i * d + j] = v;
    });
  });
  return { n: rows.length, d, data };
}

/** The human-readable report. */
export function formatMetrics(r: MetricsReport, backend: BackendInfo): string {
  const s = r.settings;
  const why = (metric: string) => r.skipped.find((x) => x.metric === metric)?.reason;
  const value = (v: number | null, metric: string, digits = 4) => (v === null ? `- (${why(metric)})` : fmt(v, digits));
  const kid = r.kid ? `${r.kid.mean.toExponential(3)} ± ${r.kid.std.toExponential(2)}` : `- (${why('kid')})`;
  const sizes = s.kidSubsetSize ? `${s.kidSubsets} subsets of ${s.kidSubsetSize.real} real / ${s.kidSubsetSize.synthetic} synthetic, seed ${s.seed}` : '';
  const out = [
    `real       ${r.real.path}: ${r.n.real} × ${r.d}`,
    `synthetic  ${r.synthetic.path}: ${r.n.synthetic} × ${r.d}`,
    `backend    ${describeBackend(backend)}`,
    '',
    `FID        ${value(r.fid, 'fid')}   (lower is better)`,
    `KID        ${kid}   ${sizes ? `(${sizes})` : ''}`.trimEnd(),
    `precision  ${value(r.precision, 'prdc')}   (k = ${s.k})`,
    `recall     ${value(r.recall, 'prdc')}`,
    `density    ${value(r.density, 'prdc')}   (≈ 1 when the sets match)`,
    `coverage   ${value(r.coverage, 'prdc')}`,
    '',
    `time       read ${r.readSeconds.toFixed(2)} s, FID ${r.seconds.fid.toFixed(2)} s, KID ${r.seconds.kid.toFixed(2)} s, PRDC ${r.seconds.prdc.toFixed(2)} s`,
  ];
  return out.join('\n') + '\n';
}
