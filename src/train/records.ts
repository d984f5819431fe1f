/**
 * What a run folder holds, as zod schemas with their inferred types: the one definition that `train`
 * writes (src/train/run.ts) and `openRun` (src/train/open.ts) reads back for every other command.
 *
 *   run.json         RunRecord: the resolved configuration (no request unions: `dp` is the plan, `initFrom`
 *                    the record of what was found), plus the data's sha256 `fingerprint`
 *   model-card.json  ModelCard: what was trained on what and how; `privacy` is the claim, with the
 *                    accountant's `history` and ε after every epoch (`epsilonPerEpoch`)
 *   conditions.json  Conditions: the condition vocabulary and train-split counts (withheld or released)
 *   metrics.jsonl    MetricsLine per epoch
 *   splits.csv       `id,split`, read by `parseSplitsCsv` only
 *
 * The request types (`RunConfig`, `DpRequest` in run.ts) stay separate: they are what the CLI asks for.
 * Fields added after a folder was written are optional here, so older run folders still parse; what a
 * reader cannot do without is named by the reader (`openRun`), as one line.
 */
import { z } from 'zod';
import { parseCsv } from '../../datasets/csv.js';
import { SPLIT_NAMES, type SplitName } from '../../datasets/dataset.js';
import { DatasetError } from '../core/errors.js';

export const PrivacyUnitSchema = z.enum(['image', 'patient']);
export const AccountantNameSchema = z.enum(['rdp', 'prv']);

/** The condition vocabulary (models/generator.ts ConditionSpec). */
export const ConditionSpecSchema = z.object({
  labels: z.array(z.string()),
  attributes: z.array(z.object({ name: z.string(), values: z.array(z.string()) })),
});

/** One segment of identical Poisson-subsampled Gaussian steps (src/privacy/accountants MechanismSegment). */
export const MechanismSegmentSchema = z.object({
  noiseMultiplier: z.number().nonnegative(),
  sampleRate: z.number().min(0).max(1),
  steps: z.number().int().nonnegative(),
});

/** The resolved `--dp` plan (run.json `dp`). */
export const DpPlanSchema = z.object({
  unit: PrivacyUnitSchema,
  /** Privacy units in the train split (N). */
  units: z.number().int().nonnegative(),
  delta: z.number(),
  clipNorm: z.number(),
  noiseMultiplier: z.number(),
  /** True when σ was calibrated to targetEpsilon (false: given by the user). */
  calibrated: z.boolean(),
  targetEpsilon: z.number().nullable(),
  accountant: AccountantNameSchema,
  sampleRate: z.number(),
  plannedSteps: z.number().int().nonnegative(),
});
export type DpPlan = z.infer<typeof DpPlanSchema>;

/** Where a warm-started run's initial weights came from (run.json `initFrom`, the card's `initialisation`). */
export const InitRecordSchema = z.object({
  /** The pretraining run folder (absolute). */
  run: z.string(),
  dataset: z.string(),
  /** sha256 of the pretraining run's data. */
  fingerprint: z.string(),
  /** sha256 over the pretraining run's weight files (network folders in name order, model.json + model.bin). */
  weightsSha256: z.string(),
  /** The pretraining run's own privacy claim, or that it had none. */
  privacy: z.string(),
  conditioning: ConditionSpecSchema,
});
export type InitRecord = z.infer<typeof InitRecordSchema>;

/** An audit run (`--audit-canaries`): kind and count only; the canary seed stays in canary-key.json. */
export const AuditCanariesRecordSchema = z.object({
  canaries: z.number().int().positive(),
  kind: z.enum(['gradient', 'input']),
  break: z.enum(['noise', 'clipping', 'double-count']).optional(),
});

/** The resolved configuration without the data fingerprint (the model card's `training.config`). */
export const RunSettingsSchema = z.object({
  model: z.string(),
  data: z.string(),
  size: z.number().int().positive(),
  /** Absent only in run folders older than the recorded channel count (then 1). */
  channels: z.union([z.literal(1), z.literal(3)]).optional(),
  bins: z.record(z.string(), z.array(z.number())).optional(),
  attributes: z.array(z.string()).optional(),
  /** Conditioning: 'label' plus attribute names. */
  condition: z.array(z.string()),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  seed: z.number().int(),
  splitSeed: z.number().int(),
  generator: z.record(z.string(), z.unknown()),
  dp: DpPlanSchema.optional(),
  initFrom: InitRecordSchema.optional(),
  /** `--model auto`: why the generator was chosen (src/train/select.ts). */
  selection: z.object({ reason: z.string(), evidence: z.string() }).optional(),
  auditCanaries: AuditCanariesRecordSchema.optional(),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

/** run.json. */
export const RunRecordSchema = RunSettingsSchema.extend({
  /** sha256 over the data's manifest and image bytes (datasets/ `source.fingerprint`, no prefix). */
  fingerprint: z.string(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The part of run.json that says which data a run read and how (for readers that need no generator). */
export const RunDataSchema = RunRecordSchema.pick({ data: true, size: true, channels: true, bins: true, attributes: true, splitSeed: true });
export type RunData = z.infer<typeof RunDataSchema>;

/** ε after an epoch, as the run's one ledger gave it (metrics.jsonl `epsilon`). */
export const EpochEpsilonSchema = z.object({ epoch: z.number().int().positive(), step: z.number().int().nonnegative(), epsilon: z.number().nonnegative() });
export type EpochEpsilon = z.infer<typeof EpochEpsilonSchema>;

export const DpClaimSchema = z.object({
  differentialPrivacy: z.literal(true),
  unit: PrivacyUnitSchema,
  epsilon: z.number(),
  delta: z.number(),
  accountant: AccountantNameSchema,
  accountantDescription: z.string(),
  rdpOrder: z.number().optional(),
  epsilonEstimate: z.number().optional(),
  epsilonLower: z.number().optional(),
  targetEpsilon: z.number().nullable(),
  noiseMultiplier: z.number(),
  noiseCalibrated: z.boolean(),
  clipNorm: z.number(),
  sampleRate: z.number(),
  sampling: z.string(),
  units: z.number().int().nonnegative(),
  /** Privacy-spending steps: the one release of a one-shot generator, else the DP-SGD steps taken. */
  steps: z.number().int().nonnegative(),
  plannedSteps: z.number().int().nonnegative(),
  stoppedByBudget: z.boolean(),
  /**
   * The accountant's input: segments of identical steps (src/privacy/accountants). `accountant(name)
   * .epsilon(history, delta)` gives `epsilon` again. Absent in run folders written before it was recorded.
   */
  history: z.array(MechanismSegmentSchema).optional(),
  /** ε after each epoch (metrics.jsonl's exact values). Absent in older run folders: read metrics.jsonl. */
  epsilonPerEpoch: z.array(EpochEpsilonSchema).optional(),
  mechanism: z.string(),
  privateModule: z.array(z.string()),
  claim: z.string(),
  covers: z.string(),
  doesNotCover: z.array(z.string()),
});
export type DpClaim = z.infer<typeof DpClaimSchema>;

export const NoDpClaimSchema = z.object({ differentialPrivacy: z.literal(false), warning: z.string() });

export const PrivacyClaimSchema = z.discriminatedUnion('differentialPrivacy', [DpClaimSchema, NoDpClaimSchema]);
export type PrivacyClaim = z.infer<typeof PrivacyClaimSchema>;

/** model-card.json. */
export const ModelCardSchema = z.object({
  generator: z.object({ type: z.string(), architecture: z.record(z.string(), z.unknown()), config: z.record(z.string(), z.unknown()) }),
  conditioning: ConditionSpecSchema,
  dataset: z.object({
    name: z.string(),
    source: z.string(),
    path: z.string(),
    /** `sha256:<hex>`. */
    fingerprint: z.string(),
    preprocessing: z.record(z.string(), z.unknown()),
    /** Absent in older run folders (then 8). */
    bitDepth: z.union([z.literal(8), z.literal(16)]).optional(),
  }),
  splits: z.object({
    seed: z.number().int(),
    origin: z.enum(['source', 'seeded', 'mixed']),
    unit: z.string(),
    sizes: z.record(z.string(), z.number()),
    units: z.record(z.string(), z.number()),
  }),
  training: z.object({
    config: RunSettingsSchema,
    seed: z.number().int(),
    steps: z.number().int().nonnegative(),
    seconds: z.number(),
    finalLosses: z.record(z.string(), z.number()).nullable(),
  }),
  initialisation: InitRecordSchema.extend({ note: z.string() }).optional(),
  warnings: z.array(z.string()).optional(),
  auditRun: z
    .object({ kind: z.enum(['gradient', 'input']), canaries: z.number().int().positive(), notForRelease: z.literal(true), note: z.string(), break: z.string().optional() })
    .optional(),
  privacy: PrivacyClaimSchema,
  environment: z.object({ versions: z.record(z.string(), z.string()), backend: z.record(z.string(), z.unknown()) }),
});
export type ModelCard = z.infer<typeof ModelCardSchema>;

export const ConditionCountSchema = z.object({ label: z.number().int().nonnegative(), codes: z.array(z.number().int().nonnegative()), count: z.number().nonnegative() });
export type ConditionCount = z.infer<typeof ConditionCountSchema>;

/**
 * conditions.json. `train` holds the exact train-split counts (non-private runs), the noisy released counts
 * (one-shot DP runs: `countsSource` says so) or nothing (DP-SGD runs: `countsWithheld` says why).
 */
export const ConditionsSchema = z.object({
  spec: ConditionSpecSchema,
  train: z.array(ConditionCountSchema),
  countsWithheld: z.string().optional(),
  countsSource: z.string().optional(),
});
export type Conditions = z.infer<typeof ConditionsSchema>;

/** One line of metrics.jsonl (src/train/loop.ts EpochSummary). */
export const MetricsLineSchema = z.object({
  epoch: z.number().int().positive(),
  step: z.number().int().nonnegative(),
  losses: z.record(z.string(), z.number()),
  imagesPerSecond: z.number(),
  elapsedMs: z.number(),
  /** DP runs: ε spent after this epoch, exact. */
  epsilon: z.number().optional(),
});
export type MetricsLine = z.infer<typeof MetricsLineSchema>;

/**
 * `value` checked against `schema`, or a one-line DatasetError naming the file, the first field that is
 * wrong or missing, and `fix` (what to do).
 */
export function parseRecord<S extends z.ZodType>(schema: S, value: unknown, file: string, fix: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.map(String).join('.');
  const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
  const what = missing ? `no "${where}"` : `${where || 'the file'}: ${issue.message}`;
  throw new DatasetError(`${file}: ${what}; ${fix}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** splits.csv (`id,split`, written by datasets/splits.ts splitsCsv) as id → split. The only parser of it. */
export function parseSplitsCsv(text: string, file: string): Map<string, SplitName> {
  const table = parseCsv(text, file);
  const idCol = table.header.indexOf('id');
  const splitCol = table.header.indexOf('split');
  if (idCol < 0 || splitCol < 0) throw new DatasetError(`${file}: expected the columns id,split; the run folder's splits.csv was changed or is not medsynth's`);
  const out = new Map<string, SplitName>();
  for (const row of table.rows) {
    const id = row.fields[idCol] ?? '';
    const split = row.fields[splitCol] as SplitName;
    if (!SPLIT_NAMES.includes(split)) throw new DatasetError(`${file}: id ${id} has split '${row.fields[splitCol] ?? ''}', expected one of ${SPLIT_NAMES.join(', ')}`);
    out.set(id, split);
  }
  return out;
}
