/**
 * `medsynth balance`: plan and generate class × group top-ups of a training split with a trained
 * generator, and write the augmented dataset.
 *
 * Cells: every class × group combination of the vocabulary (groups = --group-by attributes, default the
 * model's conditioning attributes), counted over the train split (the split the run used, from its
 * splits.csv; data other than the run's gets the split the run's --split-seed assigns). Every cell is listed, but only target cells are topped up (src/balance/plan.ts): a cell
 * with fewer than --min-real-per-cell real images (default 5; an empty cell has none) would be invented by
 * the generator, and a group with an unknown or missing value (sex=unknown, an empty age) is not a
 * population to equalise unless named with --include-groups. The plan lists skipped cells with the reason.
 * Generation: each synthetic image is conditioned on its cell; conditioning attributes outside --group-by
 * (open conditions) are drawn from --condition-proportions when given (public proportions, restricted to
 * the rows that agree with the cell: src/sample/proportions.ts), else from the real train rows of the same
 * cell (the output holds those rows anyway), and uniformly when the cell has none; `openConditions` in the
 * result and plan.json says which. All draws and the generator's noise come from --seed: same seed, same bytes.
 * Output (built in a temporary folder and renamed): manifest.csv with the real train rows BY REFERENCE
 * (paths relative to the output folder; `--copy` writes them as PNGs instead), then the synthetic rows
 * (images/syn_*.png, synthetic=1, model_id, seed); plan.json with the plan and the diversity indices.
 * The manifest is a normal medsynth manifest: train, evaluate and data inspect read it. Real rows keep
 * their patient_id (the dataset's own privacy unit); each synthetic row is its own unit (syn_<n>).
 * --reviewed-only DIR (#24): nothing is generated; each cell's top-up is drawn (seeded, without replacement)
 * from the images a person reviewed and `medsynth release` wrote to DIR, matched on class and --group-by
 * values. A cell whose reviewed pool is smaller than the plan gets what there is, and the result lists it
 * (`reviewedShort`); the written images, manifest and plan.json agree with what was drawn.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { imageLength, type ImageDataset } from '../../datasets/dataset.js';
import { encodePng } from '../../datasets/image/encode.js';
import { toCsv } from '../../datasets/csv.js';
import { loadDataset } from '../../datasets/load.js';
import { assignSplits } from '../../datasets/splits.js';
import { diversityIndices, type DiversityIndices } from '../../eval/diversity/indices.js';
import { conditionWidth, encodeConditions } from '../../models/generator.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import { markerCommand, writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { Rng } from '../core/rng.js';
import { readSamples } from '../review/log.js';
import { RELEASE_MARKER } from '../review/release.js';
import { openConditionsRecord, readConditionProportions, drawFromProportions, PROPORTIONS_OPTION, type OpenConditionsRecord } from '../sample/proportions.js';
import { openRun } from '../train/open.js';
import { DEFAULT_MIN_REAL_PER_CELL, isUnknownValue, parseTargetFile, planBalance, type BalanceTarget, type CellCount, type PlannedCell } from './plan.js';

export interface BalanceRequest {
  data: string;
  run: string;
  /** equalize-groups | equalize-classes | uniform | path to a JSON file. */
  target: string;
  groupBy?: string[];
  minPerCell?: number;
  maxSyntheticRatio?: number;
  /** Cells with fewer real images are not topped up (default DEFAULT_MIN_REAL_PER_CELL). */
  minRealPerCell?: number;
  /** Unknown or missing values to treat as groups after all, as `attr=value` (e.g. `sex=unknown`). */
  includeGroups?: string[];
  dryRun: boolean;
  copy: boolean;
  seed: number;
  out?: string;
  /** A `medsynth release` output folder: top up from its reviewed, accepted images instead of generating. */
  reviewedOnly?: string;
  /** --condition-proportions: public proportions for the conditioning attributes outside --group-by. */
  conditionProportions?: string;
}

export interface BalanceResult {
  groupBy: string[];
  target: string;
  seed: number;
  modelId: string;
  cells: (PlannedCell & { labelName: string; groupValues: Record<string, string> })[];
  before: DiversityIndices;
  after: DiversityIndices;
  realImages: number;
  syntheticImages: number;
  /** Cells where --max-synthetic-ratio lowered the count. */
  capped: string[];
  minRealPerCell: number;
  /** Cells that get no synthetic images whatever the target, and why. */
  skipped: { key: string; reason: string }[];
  /** With --reviewed-only: the release folder drawn from, and the cells whose pool was smaller than planned. */
  reviewedOnly?: { from: string; reviewedShort: { key: string; planned: number; available: number }[] };
  /**
   * Where the generated images' conditions came from, per condition: `fixed` (the cell's class and groups),
   * `user-supplied`, `real rows of the cell` (uniform in `uniformCells`, which have none), or `reviewed
   * images` (--reviewed-only).
   */
  openConditions: OpenConditionsRecord & { uniformCells: string[] };
  out: string | null;
}

/** Where the dataset's image paths are relative to. */
function manifestRoot(ds: ImageDataset): string {
  const p = resolve(ds.source.path);
  return p.toLowerCase().endsWith('.csv') ? dirname(p) : statSync(p).isDirectory() ? p : dirname(p);
}

export async function balance(req: BalanceRequest): Promise<BalanceResult> {
  const run = openRun(req.run, { option: '--model' });
  const cfg = run.record;
  const spec = run.conditions.spec;
  const gen = run.loadGenerator();
  try {
    const ds = loadDataset({ path: req.data, size: gen.imageSize, channels: gen.channels, bins: cfg.bins });
    const groupBy = req.groupBy ?? spec.attributes.map((a) => a.name);
    const attrs = groupBy.map((name) => {
      const a = ds.attributes.find((x) => x.name === name);
      if (!a) throw new ConfigError(`--group-by ${name}: ${ds.name} has no attribute '${name}' (available: ${ds.attributes.map((x) => x.name).join(', ') || 'none'})`);
      return a;
    });
    // The run's own data: the split training used (splits.csv). Other data (an edited manifest, another
    // site's copy) has no recorded split: the run's split seed assigns one, as training would have.
    const split = ds.source.fingerprint === cfg.fingerprint ? run.splitOf(ds) : assignSplits(ds, { seed: cfg.splitSeed }).split;
    const train = split.flatMap((s, i) => (s === 'train' ? [i] : []));
    if (train.length === 0) throw new DatasetError(`${req.data}: the train split is empty; nothing to balance`);

    // --include-groups: unknown or missing values the user names as groups; each must exist.
    const included = new Set(req.includeGroups ?? []);
    for (const g of included) {
      const [name, ...rest] = g.split('=');
      const value = rest.join('=');
      const a = attrs.find((x) => x.name === name);
      if (!a || rest.length === 0) throw new ConfigError(`--include-groups ${g}: expected attr=value with attr one of the groups (${groupBy.join(', ') || 'none'}), e.g. ${groupBy[0] ?? 'sex'}=unknown`);
      if (!a.values.includes(value)) throw new ConfigError(`--include-groups ${g}: ${name} has no value '${value}' in ${ds.name} (values: ${a.values.join(', ')})`);
    }
    const unknownValues = (group: number[]) =>
      group.map((g, k) => `${attrs[k]!.name}=${attrs[k]!.values[g]!}`).filter((av, k) => isUnknownValue(attrs[k]!.values[group[k]!]!) && !included.has(av));

    // Cells: the full class × group product, counted over the train split.
    const keyOf = (label: number, group: number[]) =>
      [ds.labelNames[label]!, ...group.map((g, k) => `${attrs[k]!.name}=${attrs[k]!.values[g]!}`)].join('|');
    const product: number[][] = attrs.reduce<number[][]>((acc, a) => acc.flatMap((g) => a.values.map((_, v) => [...g, v])), [[]]);
    const cells: CellCount[] = [];
    const rowsOf = new Map<string, number[]>();
    ds.labelNames.forEach((_, label) => {
      for (const group of product) {
        const key = keyOf(label, group);
        const unknown = unknownValues(group);
        cells.push({ key, label, group, real: 0, ...(unknown.length ? { unknownValues: unknown } : {}) });
        rowsOf.set(key, []);
      }
    });
    const byKey = new Map(cells.map((c) => [c.key, c]));
    for (const i of train) {
      const key = keyOf(ds.labels[i]!, attrs.map((a) => a.codes[i]!));
      byKey.get(key)!.real++;
      rowsOf.get(key)!.push(i);
    }
    let target: BalanceTarget;
    if (['equalize-groups', 'equalize-classes', 'uniform'].includes(req.target)) target = { kind: req.target } as BalanceTarget;
    else {
      if (!existsSync(req.target)) {
        throw new ConfigError(`--target ${req.target}: not one of equalize-groups, equalize-classes, uniform, and no such file`);
      }
      target = parseTargetFile(req.target, readFileSync(req.target, 'utf8'), cells.map((c) => c.key));
    }
    const minRealPerCell = req.minRealPerCell ?? DEFAULT_MIN_REAL_PER_CELL;
    const plan = planBalance(cells, { target, minPerCell: req.minPerCell, maxSyntheticRatio: req.maxSyntheticRatio, minRealPerCell });

    // Every cell that needs images must be one the model can generate.
    const modelLabel = (label: number) => spec.labels.indexOf(ds.labelNames[label]!);
    const condAttrIndex = spec.attributes.map((a) => groupBy.indexOf(a.name));
    /** A cell's conditions in the model's codes: its class and group values, the other attributes open. */
    const cellFixed = (c: CellCount) => ({
      fixedLabel: modelLabel(c.label),
      fixedCodes: spec.attributes.map((a, k) => (condAttrIndex[k]! >= 0 ? a.values.indexOf(attrs[condAttrIndex[k]!]!.values[c.group[condAttrIndex[k]!]!]!) : null)),
    });
    for (const c of plan) {
      if (c.synthetic === 0) continue;
      if (modelLabel(c.label) < 0) throw new ConfigError(`cell ${c.key}: the model was not trained on class '${ds.labelNames[c.label]}' (it knows ${spec.labels.join(', ')}); it cannot generate this cell`);
      c.group.forEach((g, k) => {
        const name = attrs[k]!.name;
        const a = spec.attributes.find((x) => x.name === name);
        if (!a) throw new ConfigError(`cell ${c.key}: the model is not conditioned on '${name}' (conditioning: ${spec.attributes.map((x) => x.name).join(', ') || 'class only'}); it cannot generate this cell; use --group-by with conditioning attributes or retrain with --condition label,${name}`);
        if (!a.values.includes(attrs[k]!.values[g]!)) throw new ConfigError(`cell ${c.key}: the model never saw ${name}=${attrs[k]!.values[g]} in training; it cannot generate this cell`);
      });
    }

    if (req.conditionProportions !== undefined && req.reviewedOnly !== undefined) {
      throw new ConfigError(`${PROPORTIONS_OPTION} ${req.conditionProportions}: --reviewed-only generates nothing, so there are no conditions to draw; drop one of the two options`);
    }
    const table = req.conditionProportions !== undefined ? readConditionProportions(req.conditionProportions, spec) : null;
    // Per generated image the conditioning attributes outside --group-by are open: from the user's table
    // where it names them, else from the cell's real rows (uniform in a cell with none).
    const named = (k: number) => table?.attributes.includes(k) ?? false;
    const fromRows = spec.attributes.filter((_, k) => condAttrIndex[k]! < 0 && !named(k)).map((a) => a.name);
    const planned = plan.filter((c) => c.synthetic > 0);
    const uniformCells = req.reviewedOnly === undefined && fromRows.length ? planned.filter((c) => rowsOf.get(c.key)!.length === 0).map((c) => c.key) : [];
    const openSources: Record<string, string> = { label: 'fixed' };
    spec.attributes.forEach((a, k) => {
      openSources[a.name] = condAttrIndex[k]! >= 0 ? 'fixed' : req.reviewedOnly !== undefined ? 'reviewed images' : named(k) ? 'user-supplied' : 'real rows of the cell';
    });
    const openRecord = openConditionsRecord(openSources, table, {
      extra: {
        'real rows of the cell': `the real train rows of each cell${uniformCells.length ? ` (uniform, every value equally likely, in the ${uniformCells.length} cell(s) with no real row: ${uniformCells.join(', ')})` : ''}`,
        'reviewed images': 'the reviewed images drawn from the release',
      },
    });
    if (uniformCells.length) {
      openRecord.uniform = fromRows;
      openRecord.note += `; pass ${PROPORTIONS_OPTION} FILE.csv with public proportions (columns ${fromRows.join(',')},proportion) to draw them realistically there`;
    }
    if (table) {
      // Every cell to generate must be one the file speaks for (checked now, so a failure writes nothing).
      for (const c of planned) drawFromProportions(table, spec, cellFixed(c), new Rng(0), () => `cell ${c.key}`);
    }

    // --reviewed-only: each cell's pool of released images; a short pool lowers the cell's count.
    const reviewedPool = new Map<string, { src: string; row: Record<string, string> }[]>();
    const reviewedShort: { key: string; planned: number; available: number }[] = [];
    if (req.reviewedOnly !== undefined) {
      const from = resolve(req.reviewedOnly);
      if (markerCommand(from) !== RELEASE_MARKER) throw new ConfigError(`--reviewed-only ${req.reviewedOnly}: not a medsynth release output folder; review the samples (medsynth review) and release them (medsynth release SAMPLES --out DIR) first`);
      const set = readSamples(from);
      const missing = groupBy.filter((g) => !set.header.includes(g));
      if (missing.length) throw new ConfigError(`--reviewed-only ${req.reviewedOnly}: its manifest has no ${missing.join(', ')} column, so its images cannot be matched to the --group-by cells`);
      for (const smp of set.samples) {
        const row = Object.fromEntries(set.header.map((h, k) => [h, smp.fields[k]!]));
        const key = [smp.label, ...groupBy.map((g) => `${g}=${row[g]}`)].join('|');
        const list = reviewedPool.get(key) ?? [];
        list.push({ src: join(from, smp.image), row });
        reviewedPool.set(key, list);
      }
      const drawRng = new Rng(req.seed).derive('reviewed-only');
      for (const c of plan) {
        const pool = drawRng.derive(c.key).shuffle(reviewedPool.get(c.key) ?? []);
        if (pool.length < c.synthetic) {
          reviewedShort.push({ key: c.key, planned: c.synthetic, available: pool.length });
          c.total -= c.synthetic - pool.length;
          c.synthetic = pool.length;
        }
        reviewedPool.set(c.key, pool.slice(0, c.synthetic));
      }
    }

    const realImages = train.length;
    const syntheticImages = plan.reduce((a, c) => a + c.synthetic, 0);
    const modelId = run.modelId;
    const result: BalanceResult = {
      groupBy,
      target: req.target,
      seed: req.seed,
      modelId,
      cells: plan.map((c) => ({
        ...c,
        labelName: ds.labelNames[c.label]!,
        groupValues: Object.fromEntries(c.group.map((g, k) => [attrs[k]!.name, attrs[k]!.values[g]!])),
      })),
      before: diversityIndices(plan.map((c) => c.real)),
      after: diversityIndices(plan.map((c) => c.total)),
      realImages,
      syntheticImages,
      capped: plan.filter((c) => c.cappedFrom !== null).map((c) => c.key),
      minRealPerCell,
      skipped: plan.filter((c) => c.skipped !== null).map((c) => ({ key: c.key, reason: c.skipped! })),
      ...(req.reviewedOnly !== undefined ? { reviewedOnly: { from: resolve(req.reviewedOnly), reviewedShort } } : {}),
      openConditions: { ...openRecord, uniformCells },
      out: null,
    };
    if (req.dryRun) return result;
    if (!req.out) throw new ConfigError('medsynth balance needs --out DIR (or --dry-run to print the plan only)');
    if (ds.source.kind === 'medmnist-npz' && !req.copy) {
      throw new ConfigError(`--data ${req.data} is an .npz file: its real images cannot be referenced by path; add --copy to write them into ${req.out}`);
    }

    const bitDepth: 8 | 16 = run.card.dataset.bitDepth === 16 ? 16 : 8;
    const out = resolve(req.out);
    const root = manifestRoot(ds);
    await writeDirAtomic(
      out,
      async (tmp) => {
        const header = ['path', 'label', 'label_name', ...ds.attributes.map((a) => a.name), ...(ds.patientIds ? ['patient_id'] : []), 'split', 'synthetic', 'model_id', 'seed'];
        const rows: (string | number)[][] = [];
        const len = imageLength(ds);
        const realDigits = Math.max(6, String(train.length).length);
        train.forEach((i, n) => {
          let path: string;
          if (req.copy) {
            path = `real/real_${String(n + 1).padStart(realDigits, '0')}.png`;
            writeFileAtomic(join(tmp, path), encodePng(ds.images.subarray(i * len, (i + 1) * len), ds.width, ds.height, ds.channels, ds.bitDepth));
          } else {
            const src = ds.ids[i]!;
            path = relative(out, isAbsolute(src) ? src : join(root, src)).split('\\').join('/');
          }
          rows.push([path, ds.labels[i]!, ds.labelNames[ds.labels[i]!]!, ...ds.attributes.map((a) => a.values[a.codes[i]!]!), ...(ds.patientIds ? [ds.patientIds[i]!] : []), 'train', 0, '', '']);
        });
        // Synthetic rows, cell by cell in plan order, in batches of 64.
        const rng = new Rng(req.seed);
        const digits = Math.max(6, String(syntheticImages).length);
        let made = 0;
        const width = conditionWidth(spec);
        for (const c of plan) {
          if (c.synthetic === 0) continue;
          if (req.reviewedOnly !== undefined) {
            for (const { src, row } of reviewedPool.get(c.key)!) {
              made++;
              const name = `images/syn_${String(made).padStart(digits, '0')}.png`;
              writeFileAtomic(join(tmp, name), readFileSync(src));
              const attrValues = ds.attributes.map((a) => {
                const gi = groupBy.indexOf(a.name);
                return gi >= 0 ? a.values[c.group[gi]!]! : (row[a.name] ?? '');
              });
              rows.push([name, c.label, ds.labelNames[c.label]!, ...attrValues, ...(ds.patientIds ? [`syn_${String(made).padStart(digits, '0')}`] : []), 'train', 1, row.model_id ?? modelId, row.seed ?? '']);
            }
            continue;
          }
          const cellRng = rng.derive(`cell-${c.key}`);
          const pool = rowsOf.get(c.key)!;
          for (let start = 0, b = 0; start < c.synthetic; start += 64, b++) {
            const n = Math.min(64, c.synthetic - start);
            const labels = new Array<number>(n).fill(modelLabel(c.label));
            // Conditioning codes: from the cell's group where the attribute is a group attribute, else from the
            // user's public proportions, else from a random real row of the cell (uniform over the model's
            // values when the cell has none).
            const fromTable = table
              ? Array.from({ length: n }, () => drawFromProportions(table, spec, cellFixed(c), cellRng, () => `cell ${c.key}`).fixedCodes)
              : null;
            const codes = spec.attributes.map((a, k) =>
              Array.from({ length: n }, (_, i) => {
                const gi = condAttrIndex[k]!;
                if (gi >= 0) return a.values.indexOf(attrs[gi]!.values[c.group[gi]!]!);
                if (fromTable && fromTable[i]![k] !== null) return fromTable[i]![k]!;
                if (pool.length > 0) {
                  const src = ds.attributes.find((x) => x.name === a.name);
                  const v = src ? src.values[src.codes[pool[cellRng.int(pool.length)]!]!]! : undefined;
                  const code = v === undefined ? -1 : a.values.indexOf(v);
                  if (code >= 0) return code;
                }
                return cellRng.int(a.values.length);
              }),
            );
            const pixels = tf.tidy(() => {
              const cond = tf.tensor2d(encodeConditions(spec, labels, codes), [n, width]);
              return gen.sample(cond, cellRng.derive(`batch-${b}`).nextUint32()).dataSync() as Float32Array;
            });
            const glen = gen.imageSize * gen.imageSize * gen.channels;
            for (let i = 0; i < n; i++) {
              made++;
              const name = `images/syn_${String(made).padStart(digits, '0')}.png`;
              writeFileAtomic(join(tmp, name), encodePng(pixels.subarray(i * glen, (i + 1) * glen), gen.imageSize, gen.imageSize, gen.channels, bitDepth));
              const attrValues = ds.attributes.map((a) => {
                const gi = groupBy.indexOf(a.name);
                if (gi >= 0) return a.values[c.group[gi]!]!;
                const k = spec.attributes.findIndex((x) => x.name === a.name);
                return k >= 0 ? spec.attributes[k]!.values[codes[k]![i]!]! : '';
              });
              rows.push([name, c.label, ds.labelNames[c.label]!, ...attrValues, ...(ds.patientIds ? [`syn_${String(made).padStart(digits, '0')}`] : []), 'train', 1, modelId, req.seed]);
            }
          }
        }
        writeFileAtomic(join(tmp, 'manifest.csv'), toCsv(header, rows));
        const { out: _o, ...rest } = result;
        writeFileAtomic(join(tmp, 'plan.json'), JSON.stringify({ ...rest, model: run.dir, data: resolve(req.data), copy: req.copy }, null, 2) + '\n');
      },
      { option: '--out' },
    );
    result.out = out;
    return result;
  } finally {
    gen.dispose();
  }
}
