/** `medsynth balance`: plan class × group top-ups, generate them, write the augmented dataset. */
import { InvalidArgumentError, type Command } from 'commander';
import { balance, type BalanceResult } from '../../balance/balance.js';
import { DEFAULT_MIN_REAL_PER_CELL } from '../../balance/plan.js';
import { PROPORTIONS_OPTION } from '../../sample/proportions.js';
import { info_, startBackend } from '../context.js';
import { parseList, parseSeed } from '../options.js';
import { fmt, formatTable } from '../../core/table.js';
import { openConditionsLine } from './sample.js';
import { JsonOutput, withDataLoadOptions, withExample, withSharedOptions, type DataLoadCliOptions, type SharedOptions } from './shared.js';

interface BalanceCliOptions extends SharedOptions {
  data: string;
  model: string;
  target: string;
  groupBy?: string[];
  minPerCell?: number;
  maxSyntheticRatio?: number;
  minRealPerCell: number;
  includeGroups?: string[];
  dryRun: boolean;
  copy: boolean;
  seed: number;
  out?: string;
  reviewedOnly?: string;
  conditionProportions?: string;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function parseRatio(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0)) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

export function planTable(r: BalanceResult): string {
  const rows = r.cells.map((c) => [
    c.labelName,
    ...r.groupBy.map((g) => c.groupValues[g]!),
    c.real,
    c.synthetic,
    c.total,
    c.skipped !== null ? `skipped: ${c.skipped}` : c.cappedFrom !== null ? `capped (wanted ${c.cappedFrom})` : '',
  ]);
  const table = formatTable(['class', ...r.groupBy, 'real', 'synthetic', 'total', 'note'], rows);
  const idx = (name: string, d: BalanceResult['before']) => `${name}: Gini ${fmt(d.gini)}  Shannon ${fmt(d.shannon)} nats  Pielou ${fmt(d.pielou)}`;
  return [
    table,
    '',
    `${r.realImages} real + ${r.syntheticImages} synthetic = ${r.realImages + r.syntheticImages} images (target ${r.target}, seed ${r.seed})`,
    idx('cell counts before', r.before),
    idx('cell counts after ', r.after),
  ].join('\n');
}

export function registerBalanceCommand(program: Command): void {
  withExample(withDataLoadOptions(withSharedOptions(
    program
      .command('balance')
      .description('plan and generate synthetic top-ups per class x group cell, and write the augmented dataset')
      .requiredOption('--data <path>', 'the real dataset (its train split is balanced)')
      .requiredOption('--model <run>', 'a trained run folder (runs/NAME)')
      .requiredOption('--target <kind>', 'equalize-groups, equalize-classes, uniform, or FILE.json with counts or proportions per cell')
      .option('--group-by <attrs>', 'attributes that define a group (default: the model\'s conditioning attributes)', parseList)
      .option('--min-per-cell <n>', 'every cell gets at least this many images', parseCount)
      .option('--max-synthetic-ratio <r>', 'at most r synthetic images per real image in a cell', parseRatio)
      .option('--min-real-per-cell <n>', 'cells with fewer real images are never topped up (the plan lists them as skipped)', parseCount, DEFAULT_MIN_REAL_PER_CELL)
      .option('--include-groups <list>', "unknown or missing values to balance as groups after all, e.g. 'sex=unknown,age=missing' (default: never)", parseList)
      .option('--dry-run', 'print the plan and write nothing', false)
      .option('--copy', 'write the real training images into the output (default: reference them by path)', false)
      .option('--seed <int>', 'sampling seed', parseSeed, 1)
      .option('--out <dir>', 'output folder (must not exist; required unless --dry-run)')
      .option('--reviewed-only <dir>', 'generate nothing: top up from the reviewed images a medsynth release folder holds (cells with too few get what there is)')
      .option(`${PROPORTIONS_OPTION} <file.csv>`, "public proportions for conditioning attributes outside --group-by: CSV naming them and a 'proportion' or 'count' column (default: the cell's real rows)"),
  )), 'medsynth balance --data data/phantom --model runs/cvae --target equalize-groups --group-by sex --out data/balanced').action(async (opts: BalanceCliOptions & DataLoadCliOptions) => {
    const json = new JsonOutput(opts.json);
    const backend = await startBackend({ backend: opts.backend, json: json.stdout });
    const r = await balance({
      data: opts.data,
      run: opts.model,
      target: opts.target,
      groupBy: opts.groupBy,
      minPerCell: opts.minPerCell,
      maxSyntheticRatio: opts.maxSyntheticRatio,
      minRealPerCell: opts.minRealPerCell,
      includeGroups: opts.includeGroups,
      dryRun: opts.dryRun,
      copy: opts.copy,
      seed: opts.seed,
      out: opts.out,
      reviewedOnly: opts.reviewedOnly,
      conditionProportions: opts.conditionProportions,
    });
    json.write({ command: 'balance', backend, ...r });
    if (json.stdout) return;
    process.stdout.write(planTable(r) + '\n');
    if (r.skipped.length) info_(`skipped ${r.skipped.length} cell(s) (unknown group values, or fewer than ${r.minRealPerCell} real images): see the note column`);
    if (r.reviewedOnly) {
      const short = r.reviewedOnly.reviewedShort;
      info_(`synthetic images drawn from the reviewed release ${r.reviewedOnly.from}${short.length ? `; too few reviewed images for ${short.length} cell(s): ${short.map((x) => `${x.key} (${x.available} of ${x.planned})`).join(', ')}` : ''}`);
    }
    if (Object.values(r.openConditions.sources).some((s) => s !== 'fixed')) info_(openConditionsLine(r.openConditions));
    if (r.capped.length) info_(`--max-synthetic-ratio capped ${r.capped.length} cell(s): ${r.capped.join(', ')}`);
    if (r.out) info_(`wrote ${r.out}/manifest.csv (${r.realImages} real rows by ${opts.copy ? 'copy' : 'reference'}, ${r.syntheticImages} synthetic)`);
    else info_('dry run: nothing written');
  });
}
