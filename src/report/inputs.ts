/**
 * The two JSON files `medsynth report` takes besides the run folder, as zod schemas with their inferred
 * types, and the one reader of each:
 *
 *   --eval   evaluation.json  `medsynth evaluate --json` (src/evaluate/evaluate.ts EvaluateResult)  readEvaluation
 *   --audit  audit.json       `medsynth audit --json` (src/audit/audit.ts AuditResult)              readAudit
 *
 * A schema names every field the report and its checklist read. Required: what the writer has written
 * since its first version, and the blocks without which the report would print a wrong number. Optional:
 * what an older medsynth did not write and the report answers for itself ("re-run medsynth evaluate"):
 * the evaluation's `learned` and `fairness` blocks, classifier seeds with per-seed reports and summaries,
 * the oversampling way (d) and the comparisons of (c), ROC curves; and the canary audit (audit runs only). A number that is only printed may be null (JSON writes NaN and
 * infinities as null). Every object is loose: fields the report does not read pass through unchanged
 * (report.json carries both files whole), and a writer that adds a field does not break this reader.
 *
 * They live here rather than beside their writers because src/report may not import src/evaluate or
 * src/audit (ARCHITECTURE.md); test/src/report/inputs.test.ts parses files the CLI wrote and checks the
 * writers' result types against these types, so a writer change that breaks the report fails a test.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DatasetError, oneLine } from '../core/errors.js';
import { parseRecord } from '../train/records.js';

/** A number the report only prints. */
const shown = z.number().nullable();

// --- evaluation.json --------------------------------------------------------------------------------

const FidelityValuesSchema = z.looseObject({
  fid: shown,
  kid: z.looseObject({ mean: shown, std: shown }).nullable(),
  precision: shown,
  recall: shown,
  density: shown,
  coverage: shown,
});

const FidelityComparisonSchema = z.looseObject({ n: z.number(), values: FidelityValuesSchema.nullable(), note: z.string().nullable() });
export type FidelityComparison = z.infer<typeof FidelityComparisonSchema>;

const FidelityRowSchema = z.looseObject({
  slice: z.enum(['overall', 'class', 'group']),
  name: z.string(),
  synthetic: FidelityComparisonSchema,
  baseline: FidelityComparisonSchema,
});

/** One classifier seed's report (eval/fairness/metrics.ts FairnessReport). */
const ClassifierReportSchema = z.looseObject({
  accuracy: shown,
  balancedAccuracy: shown,
  recall: z.array(shown),
  groupAccuracy: z.array(z.looseObject({ group: z.number().int(), accuracy: shown })),
  worstGroupAccuracy: shown,
  demographicParityDifference: shown,
  equalizedOddsDifference: shown,
});
export type ClassifierReport = z.infer<typeof ClassifierReportSchema>;

/** Mean and t-interval over classifier seeds (eval/utility SeedStat). */
const SeedStatSchema = z.looseObject({ mean: shown, lo: shown, hi: shown });
export type SeedStat = z.infer<typeof SeedStatSchema>;
const UtilitySummarySchema = z.looseObject({ accuracy: SeedStatSchema, balancedAccuracy: SeedStatSchema, recall: z.array(SeedStatSchema), worstGroupAccuracy: SeedStatSchema });
export type UtilitySummary = z.infer<typeof UtilitySummarySchema>;

const UtilityWaySchema = z.looseObject({
  key: z.string(),
  label: z.string(),
  trainImages: z.number(),
  /** The first seed's report; null when the way was skipped. */
  report: ClassifierReportSchema.nullable(),
  /** One report per classifier seed (absent before --classifier-seeds). */
  reports: z.array(ClassifierReportSchema).optional(),
  summary: UtilitySummarySchema.nullable().optional(),
});
export type UtilityWay = z.infer<typeof UtilityWaySchema>;

/** (c) against another way, paired over classifier seeds (eval/utility WayComparison). */
const WayComparisonSchema = z.looseObject({
  deltaBalancedAccuracy: z.number(),
  ci: z.looseObject({ lo: z.number(), hi: z.number() }).nullable(),
  verdict: z.enum(['augmentation better', 'within 1 point', 'oversampling is better here', 'real only is better here']),
});
export type WayComparison = z.infer<typeof WayComparisonSchema>;

const BootIntervalSchema = z.looseObject({ estimate: shown, lo: shown, hi: shown });
export type BootInterval = z.infer<typeof BootIntervalSchema>;

/** Minimum group size and bootstrap intervals (eval/fairness/bootstrap.ts FairnessBootstrap + group names). */
const FairnessSchema = z.looseObject({
  minGroup: z.number(),
  replicates: z.number(),
  seed: z.number(),
  confidence: z.number(),
  groups: z.array(z.string()),
  groupSizes: z.array(z.number()),
  eligible: z.array(z.number().int()),
  excluded: z.array(z.looseObject({ group: z.number().int(), n: z.number() })),
  ways: z.array(z.looseObject({ key: z.string(), worstGroupAccuracy: BootIntervalSchema, equalizedOddsDifference: BootIntervalSchema })),
  differences: z.array(z.looseObject({ of: z.tuple([z.string(), z.string()]), worstGroupAccuracy: BootIntervalSchema, equalizedOddsDifference: BootIntervalSchema })),
});

/** Did the generator learn at all (src/evaluate/learned.ts LearnedEvidence). */
const LearnedSchema = z.looseObject({
  space: z.string(),
  m: z.number(),
  distinctNearest: z.looseObject({ synthetic: z.number(), reference: z.number(), ratio: shown }),
  modeCoverage: z.looseObject({ k: z.number(), synthetic: shown, reference: shown, ratio: shown }),
  conditionalAccuracy: z.looseObject({ synthetic: shown, reference: shown, chance: shown, margin: shown }).nullable(),
  thresholds: z.looseObject({ distinctRatio: z.number(), modeCoverageRatio: z.number(), conditionalMargin: z.number() }),
  collapsed: z.boolean(),
  conditional: z.boolean().nullable(),
  learned: z.boolean(),
  reasons: z.array(z.string()),
  /** Absent in evaluations written before 2026-12-06. */
  untaught: z.array(z.looseObject({ name: z.string(), realRecall: z.number() })).optional(),
});

const IndicesSchema = z.looseObject({ gini: shown, shannon: shown, pielou: shown, emptyCells: z.number() });
const CellCountsSchema = z.looseObject({ counts: z.array(z.array(z.number())), indices: IndicesSchema });
export type CellCounts = z.infer<typeof CellCountsSchema>;
const ModeOccupancySchema = z.looseObject({ coverage: shown, indices: IndicesSchema, ndb: z.looseObject({ ndb: z.number() }) });
export type ModeOccupancy = z.infer<typeof ModeOccupancySchema>;
const PairwiseSchema = z.looseObject({ real: shown, synthetic: shown, ratio: shown });

export const EvaluationSchema = z.looseObject({
  command: z.literal('evaluate'),
  classes: z.array(z.string()),
  groups: z.array(z.string()),
  features: z.looseObject({ name: z.string(), fittedOn: z.string() }),
  fidelity: z.looseObject({ rows: z.array(FidelityRowSchema) }),
  utility: z.looseObject({
    testImages: z.number(),
    positiveName: z.string().nullable(),
    /** `seeds` absent before --classifier-seeds. */
    classifier: z.looseObject({ seeds: z.array(z.number()).optional() }),
    ways: z.array(UtilityWaySchema),
    /** Way (d) and the comparisons of (c): absent before the oversampling baseline. */
    oversampling: z
      .looseObject({ seed: z.number(), matchedOn: z.string(), replaced: z.number(), leftOut: z.number(), notes: z.array(z.string()) })
      .nullable()
      .optional(),
    augmentedVsReal: WayComparisonSchema.nullable().optional(),
    augmentedVsOversampling: WayComparisonSchema.nullable().optional(),
  }),
  fairness: FairnessSchema.optional(),
  learned: LearnedSchema.optional(),
  diversity: z.looseObject({
    cells: z.looseObject({ realTrain: CellCountsSchema, synthetic: CellCountsSchema.nullable(), augmented: CellCountsSchema.nullable() }),
    modes: z.looseObject({ k: z.number(), synthetic: ModeOccupancySchema, baseline: ModeOccupancySchema }),
    intraClass: z.looseObject({ perClass: z.array(PairwiseSchema.extend({ name: z.string() })), all: PairwiseSchema }),
  }),
});
/** evaluation.json as the report reads it. */
export type Evaluation = z.infer<typeof EvaluationSchema>;

// --- audit.json -------------------------------------------------------------------------------------

/** An estimate with its bootstrap interval (eval/privacy/metrics.ts Interval). */
const IntervalSchema = z.looseObject({ estimate: shown, lower: shown, upper: shown });

/** eval/privacy/summary.ts AttackMetrics. */
const AttackMetricsSchema = z.looseObject({
  members: z.number(),
  nonMembers: z.number(),
  auc: IntervalSchema,
  tprAtFpr: z.array(z.looseObject({ fpr: z.number(), estimate: shown, lower: shown, upper: shown, resolvable: z.boolean() })),
  advantage: IntervalSchema,
  epsilon: z.looseObject({ epsilon: shown }).nullable(),
});
export type AttackMetrics = z.infer<typeof AttackMetricsSchema>;

const AttackSchema = z.looseObject({
  name: z.string(),
  access: z.string(),
  /** `roc` absent in audits older than the report's ROC plot. */
  overall: AttackMetricsSchema.extend({ roc: z.looseObject({ fpr: z.array(z.number()), tpr: z.array(z.number()) }).optional() }),
  groups: z.array(z.looseObject({ variable: z.string(), value: z.string(), members: z.number(), nonMembers: z.number(), metrics: AttackMetricsSchema.nullable() })),
});

/** The DCR share test (eval/privacy/dcr.ts DcrResult). */
const DcrSchema = z.looseObject({
  space: z.string(),
  share: shown,
  lower: shown,
  upper: shown,
  synthetic: z.number(),
  permutation: z.looseObject({ pValue: shown, nullLower: shown, nullUpper: shown }),
  distinctNearestRecords: z.number(),
  largestShareOnOneRecord: shown,
});

/** The one-run canary audit of an audit run (src/audit/canary.ts CanaryAuditResult). */
const CanaryAuditSchema = z.looseObject({
  kind: z.string(),
  canaries: z.number(),
  guesses: z.number(),
  correct: z.number(),
  epsilonLowerBound: shown,
  accountantEpsilon: shown,
  confidence: z.number(),
  delta: z.number(),
  threatModel: z.string(),
  summary: z.string(),
  break: z.string().optional(),
  /** The test against the claimed trade-off curve (audits since 2026-12-05); rejected null: not tested. */
  claimTest: z.looseObject({ rejected: z.boolean().nullable(), pValue: z.number().optional(), reason: z.string().optional() }).optional(),
  /** The f-DP reading in the Gaussian family (audits since 2026-12-05). */
  gdp: z.looseObject({ muLowerBound: z.number(), epsilonAtDelta: shown, assumption: z.string() }).optional(),
});

export const AuditSchema = z.looseObject({
  command: z.literal('audit'),
  sizes: z.looseObject({ members: z.number(), nonMembers: z.number(), synthetic: z.number() }),
  settings: z.looseObject({ confidence: z.number(), delta: z.number() }),
  attacks: z.array(AttackSchema),
  dcr: z.array(DcrSchema),
  /** The attack with the highest AUC (the random control excluded); null when only the control ran. */
  best: z.looseObject({ attack: z.string(), auc: z.number(), epsilonLowerBound: shown }).nullable(),
  canaryAudit: CanaryAuditSchema.optional(),
  caveats: z.array(z.string()),
});
/** audit.json as the report reads it. */
export type Audit = z.infer<typeof AuditSchema>;

// --- what the report's functions take ---------------------------------------------------------------

/** Every field optional, at every depth. */
export type Parts<T> = T extends readonly (infer U)[] ? Parts<U>[] : T extends object ? { [K in keyof T]?: Parts<T[K]> } : T;

/**
 * What the verdicts, the checklist and the renderers take: a checked file (`Evaluation`, `Audit`) or a
 * hand-made part of one (the tests'). Field names and types are the files'; the functions keep their
 * guards for absent fields.
 */
export type EvaluationParts = Parts<Evaluation>;
export type AuditParts = Parts<Audit>;

// --- the readers ------------------------------------------------------------------------------------

interface Input<S extends z.ZodType> {
  option: '--eval' | '--audit';
  command: 'evaluate' | 'audit';
  schema: S;
}

const EVALUATION: Input<typeof EvaluationSchema> = { option: '--eval', command: 'evaluate', schema: EvaluationSchema };
const AUDIT: Input<typeof AuditSchema> = { option: '--audit', command: 'audit', schema: AuditSchema };

/**
 * `path` read, parsed and checked against the input's schema; every failure is one DatasetError line naming
 * the option, the file, the first field that is wrong or missing, and what to do.
 */
function readInput<S extends z.ZodType>(path: string, input: Input<S>): z.infer<S> {
  const where = `${input.option} ${path}`;
  const give = `give the file written by medsynth ${input.command} --json FILE`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(`${where}: ${code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? (err as Error).message})`}; ${give}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(oneLine(`${where}: not valid JSON (${(err as Error).message}): the file is cut short or is not medsynth's; ${give}`));
  }
  // Every version of both files names its command: a file without it is neither.
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const command = (value as { command?: unknown }).command;
    if (typeof command !== 'string') throw new DatasetError(`${where}: ${command === undefined ? 'no "command"' : '"command" is not a string'}: not the JSON of medsynth ${input.command}; ${give}`);
    if (command !== input.command) {
      const other = command === 'audit' ? ' (it goes with --audit)' : command === 'evaluate' ? ' (it goes with --eval)' : '';
      throw new DatasetError(`${where}: "command" is "${command}": this is the JSON of medsynth ${command}, not of medsynth ${input.command}${other}; ${give}`);
    }
  }
  parseRecord(input.schema, value, where, `re-run medsynth ${input.command} --json FILE (the file is from an older medsynth, or was edited)`);
  // The value as read, not zod's copy: the schemas transform nothing, and the copy would put the fields the
  // report reads before the others, which reorders the file inside report.json.
  return value as z.infer<S>;
}

/** `--eval FILE`: the JSON of `medsynth evaluate --json FILE`, checked. */
export function readEvaluation(path: string): Evaluation {
  return readInput(path, EVALUATION);
}

/** `--audit FILE`: the JSON of `medsynth audit --json FILE`, checked. */
export function readAudit(path: string): Audit {
  return readInput(path, AUDIT);
}
