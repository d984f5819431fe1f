/**
 * A training run on disk, and the functions that create, resume and load it.
 *
 * runs/NAME/
 *   run.json           resolved configuration: data path, preprocessing, conditioning, generator config, seeds
 *   splits.csv         the train/holdout/test split actually used (id,split)
 *   conditions.json    the condition vocabulary and how often each condition occurs in the train split
 *                      (DP runs withhold the counts: they are statistics of the private data)
 *   metrics.jsonl      one line per epoch: mean losses, images/s, elapsed time (and ε in DP runs)
 *   checkpoint/        weights + optimiser state + position (written atomically after every epoch; a
 *                      resume first cleans up after a write that was killed, and drops metrics lines
 *                      past the checkpoint, so an epoch cut off by a crash is logged once)
 *   <network>/model.json + model.bin   final weights per network (encoder/, decoder/, ...), tfjs format
 *   model-card.json    what was trained on what, how, and with which results
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../datasets/load.js';
import type { ImageDataset } from '../../datasets/dataset.js';
import { assignSplits, DEFAULT_SPLIT_SEED, emptySplitWarnings, splitIndices, splitsCsv, type SplitAssignment } from '../../datasets/splits.js';
import { conditionCells, encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { generatorFactory } from '../../models/registry.js';
import type { BackendInfo } from '../backend/index.js';
import { ConfigError, DatasetError, PrivacyAssumptionError } from '../core/errors.js';
import { accountant, type AccountantName } from '../privacy/accountants/index.js';
import { calibrateNoise } from '../privacy/calibrate.js';
import { PrivacyLedger } from '../privacy/ledger.js';
import { privacyUnits, type PrivacyUnit, type UnitIndex } from '../privacy/poisson.js';
import { assertDpSetup, assertDpUnits } from '../privacy/validate.js';
import { selectPrivateGenerator, type Selection } from './select.js';
import { Rng } from '../core/rng.js';
import { recoverDirAtomic, writeDirAtomic, writeFileAtomic } from '../core/fs.js';
import { packageVersion } from '../core/version.js';
import { loadTensors, saveTensors } from './checkpoint.js';
import { canaryInputs, CanaryRecorder, planCanaries, type CanaryPlanFile, readCanaryKey, readCanaryObservations, readCanaryPlan, writeCanaryPlan, AUDIT_RUN_NOTE, type CanaryRequest } from './canaries.js';
import type { AuditBreak, CanaryKind } from '../privacy/canary.js';
import { byNetwork, createGenerator, loadNetworks, saveNetworks, weightsSha256 } from './networks.js';
import { openRun, readRunRecord } from './open.js';
import { MetricsLineSchema, type Conditions, type DpPlan, type EpochEpsilon, type InitRecord, type ModelCard, type RunRecord, type RunSettings } from './records.js';
import { dpStepsPerEpoch, trainLoop, type DpSchedule, type EpochSummary, type LoopPosition, type Progress } from './loop.js';

/** What the user asks for with --dp. */
export interface DpRequest {
  targetEpsilon?: number;
  delta?: number;
  clipNorm: number;
  noiseMultiplier?: number;
  /**
   * Absent: PRV for a one-shot release (for one Gaussian mechanism it is the exact analytic-Gaussian
   * bound, Balle & Wang 2018, so σ is 6–8% smaller than RDP's at the same (ε, δ)), RDP for DP-SGD.
   */
  accountant?: AccountantName;
  unit?: PrivacyUnit;
}

export type { DpPlan, InitRecord } from './records.js';

export interface RunConfig {
  model: string;
  data: string;
  size: number;
  /** 1 or 3; when absent at the start of a run, the images' own channel count (then recorded). */
  channels?: 1 | 3;
  bins?: Record<string, number[]>;
  attributes?: string[];
  /** Conditioning: 'label' plus attribute names. */
  condition: string[];
  epochs: number;
  batchSize: number;
  seed: number;
  splitSeed: number;
  generator: Record<string, unknown>;
  /** DP-SGD: the request (new runs) or the resolved plan (saved runs). */
  dp?: DpRequest | DpPlan;
  /**
   * Warm start (public pretraining): a finished run whose final weights this run starts from. New runs give
   * its folder (`--init-from`); run.json records what was found there (`InitRecord`).
   */
  initFrom?: string | InitRecord;
  /** `--model auto`: why the generator was chosen (src/train/select.ts); recorded in run.json and the card. */
  selection?: { reason: string; evidence: string };
  /** Request only: `epochs` is the CLI's default, so a `--model auto` selection may set it. Not recorded. */
  epochsDefaulted?: boolean;
  /**
   * An audit run (`--audit-canaries`): the request carries the canary seed; run.json records only the kind
   * and count (the seed is the secret key's, kept in canary-key.json: src/train/canaries.ts).
   */
  auditCanaries?: CanaryRequest | { canaries: number; kind: CanaryKind; break?: AuditBreak };
}

/** `--model auto`: the trainer picks the private generator (src/train/select.ts). */
export const AUTO_MODEL = 'auto';

export interface RunCallbacks {
  backend: BackendInfo;
  onProgress?: (p: Progress) => void;
  onEpoch?: (e: EpochSummary) => void;
  /** `--model auto`: the generator chosen, before training starts. */
  onSelect?: (s: Selection) => void;
  /**
   * A problem that does not stop the run but limits what can be done with it (e.g. an empty holdout split:
   * no membership audit). Default: printed to stderr as `warning: …`. The summary and the model card
   * record the same messages.
   */
  onWarning?: (message: string) => void;
  shouldStop?: () => boolean;
}

export interface RunSummary {
  out: string;
  status: 'done' | 'stopped' | 'budget';
  /** DP runs: ε spent, at δ, by the accountant. */
  privacy?: { epsilon: number; delta: number; accountant: AccountantName; unit: PrivacyUnit; noiseMultiplier: number; steps: number };
  step: number;
  epochs: number;
  finalLosses: Record<string, number> | null;
  trainingSeconds: number;
  modelCard: string | null;
  /** The warnings of the run (see RunCallbacks.onWarning), when there were any. */
  warnings?: string[];
}

interface Prepared {
  ds: ImageDataset;
  split: SplitAssignment;
  spec: ConditionSpec;
  trainIdx: number[];
  codes: Int32Array[];
  /** What the data rules out (empty holdout or test split); shown before training, kept in the card. */
  warnings: string[];
}

function isPlan(dp: DpRequest | DpPlan): dp is DpPlan {
  return (dp as DpPlan).plannedSteps !== undefined;
}

/** The privacy units of the train split (indices into the train tensors). */
function trainUnits(p: Prepared, unit: PrivacyUnit): UnitIndex {
  const ids = p.ds.patientIds;
  if (unit === 'patient' && !ids) {
    throw new PrivacyAssumptionError(`--privacy-unit patient: ${p.ds.name} has no patient_id column; add one to the manifest, or use --privacy-unit image (then a patient with several images is protected only image by image)`);
  }
  return privacyUnits(p.trainIdx.length, unit, ids ? p.trainIdx.map((i) => ids[i]!) : undefined);
}

/**
 * Resolves a DP request against the data: unit (patient when the data has patient_id), δ (default
 * min(1e-5, 1/(10 N))), q = batch / train images, T = epochs × round(1/q), σ calibrated to the target
 * when not given. Throws PrivacyAssumptionError for impossible budgets.
 */
function resolveDp(req: DpRequest, cfg: RunConfig, p: Prepared): DpPlan {
  const unit: PrivacyUnit = req.unit ?? (p.ds.patientIds ? 'patient' : 'image');
  const n = trainUnits(p, unit).members.length;
  const delta = req.delta ?? Math.min(1e-5, 1 / (10 * n));
  // A one-shot generator releases its statistics of the whole train split once: one Gaussian mechanism,
  // i.e. one step at sampling rate 1, with unit-norm vectors (clip norm 1).
  const oneShot = isOneShot(cfg.model);
  const sampleRate = oneShot ? 1 : Math.min(1, cfg.batchSize / p.trainIdx.length);
  const plannedSteps = oneShot ? 1 : cfg.epochs * dpStepsPerEpoch(sampleRate);
  if (oneShot && req.clipNorm !== 1) {
    throw new ConfigError(`--max-grad-norm ${req.clipNorm}: ${cfg.model} releases unit-norm feature vectors with clip norm 1; drop --max-grad-norm`);
  }
  if (req.targetEpsilon === undefined && req.noiseMultiplier === undefined) {
    throw new ConfigError('--dp needs a budget: give --target-epsilon E (the noise is calibrated to it) or --noise-multiplier S');
  }
  if (!(delta > 0 && delta < 1)) throw new PrivacyAssumptionError(`--delta ${delta}: must be in (0, 1)`);
  // δ against N, and N itself, before anything is calibrated: no noise level makes such a plan mean anything.
  assertDpUnits({ units: n, delta, unitName: unit });
  const accountantName: AccountantName = req.accountant ?? (oneShot ? 'prv' : 'rdp');
  let noiseMultiplier = req.noiseMultiplier;
  if (noiseMultiplier === undefined) {
    noiseMultiplier = calibrateNoise({ targetEpsilon: req.targetEpsilon!, delta, sampleRate, steps: plannedSteps, accountant: accountantName }).noiseMultiplier;
  }
  return {
    unit,
    units: n,
    delta,
    clipNorm: req.clipNorm,
    noiseMultiplier,
    calibrated: req.noiseMultiplier === undefined,
    targetEpsilon: req.targetEpsilon ?? null,
    accountant: accountantName,
    sampleRate,
    plannedSteps,
  };
}

/** The units plus `extra` single-image units for the images after the first `n` (input canaries). */
function withExtraUnits(units: UnitIndex, n: number, extra: number): UnitIndex {
  return extra === 0 ? units : { unit: units.unit, members: [...units.members, ...Array.from({ length: extra }, (_, k) => [n + k])] };
}

/** True for generators that release their statistics once ('one-shot') instead of taking DP-SGD steps. */
function isOneShot(model: string): boolean {
  return generatorFactory(model)?.mechanism === 'one-shot';
}

/** `extraUnits`: input canaries of an audit run, one unit each, after the train images. */
/**
 * The run's one privacy ledger is made here: trainRun validates the plan with it before writing anything
 * and hands it to runLoop (`ledger`), whose epoch summaries (metrics.jsonl), summary and model card all read it.
 */
function dpSchedule(plan: DpPlan, p: Prepared, gen: Generator, epochs: number, extraUnits = 0, given?: PrivacyLedger): { schedule: DpSchedule; ledger: PrivacyLedger } {
  const oneShot = isOneShot(gen.kind);
  assertDpSetup({
    privateLayers: gen.privateLayers?.() ?? [],
    units: plan.units,
    unitName: plan.unit,
    delta: plan.delta,
    sampling: 'poisson',
    clipNorm: plan.clipNorm,
    noiseMultiplier: plan.noiseMultiplier,
  });
  if (!oneShot && !gen.privateStep) throw new ConfigError(`--dp: the ${gen.kind} generator has no DP-SGD step`);
  const ledger = given ?? new PrivacyLedger(plan.accountant, plan.noiseMultiplier, plan.sampleRate, plan.delta);
  const plannedSteps = oneShot ? 1 : epochs * dpStepsPerEpoch(plan.sampleRate);
  const maxSteps = plan.targetEpsilon === null ? plannedSteps : ledger.maxStepsWithin(plan.targetEpsilon, plannedSteps);
  if (maxSteps === 0) {
    throw new PrivacyAssumptionError(`--target-epsilon ${plan.targetEpsilon}: even one ${oneShot ? 'release' : 'step'} at noise multiplier ${plan.noiseMultiplier} exceeds it; raise the noise multiplier or drop it so it is calibrated`);
  }
  // Epoch summaries (metrics.jsonl, the epoch line) get the exact ε. Progress asks for ε every step: the
  // RDP ledger answers at once, the PRV one (0.2–0.5 s a call) is asked at most every 15 s and otherwise
  // shows the last exact value.
  let last = { step: -1, at: -Infinity, eps: 0 };
  const epsilonAt = (t: number) => {
    if (t !== last.step) last = { step: t, at: performance.now(), eps: ledger.epsilon(t).epsilon };
    return last.eps;
  };
  const progressEpsilon = (t: number) =>
    plan.accountant === 'rdp' || performance.now() - last.at > 15000 || t >= maxSteps ? epsilonAt(t) : last.eps;
  return {
    schedule: { units: withExtraUnits(trainUnits(p, plan.unit), p.trainIdx.length, extraUnits), sampleRate: plan.sampleRate, clipNorm: plan.clipNorm, noiseMultiplier: plan.noiseMultiplier, plannedSteps, maxSteps, epsilonAt, progressEpsilon },
    ledger,
  };
}

/**
 * Which of the private module's parameters DP-SGD trained, when not all of them (a `trainable` option):
 * the trained layers and their parameter count, and the frozen ones, which keep their initial weights.
 */
function privatelyTrained(gen: Generator): Record<string, unknown> {
  const all = gen.privateLayers?.() ?? [];
  const trained = gen.trainedPrivateLayers?.() ?? all;
  if (trained.length === all.length) return {};
  const count = (ls: { params: { size: number }[] }[]) => ls.reduce((a, l) => a + l.params.reduce((b, v) => b + v.size, 0), 0);
  return {
    privatelyTrained: { layers: trained.map((l) => l.name), parameters: count(trained), ofParameters: count(all) },
    frozen: { layers: all.filter((l) => !trained.includes(l)).map((l) => l.name), note: 'kept at their initial weights (--init-from); DP-SGD never updated them, so its noise covers only the trained parameters' },
  };
}

/** What a DP model card says the guarantee covers and does not cover. */
function dpCardNote(plan: DpPlan, init: InitRecord | null): { covers: string; doesNotCover: string[] } {
  const who = plan.unit === 'patient' ? 'each patient (all of a patient\'s images together)' : 'each training image (a patient with several images is protected image by image, so their combined privacy loss can be larger)';
  return {
    covers: `the released generator weights and everything computed from them (samples), for ${who} in the train split`,
    doesNotCover: [
      'the condition vocabulary (class names and attribute values), treated as public',
      'training logs (metrics.jsonl, losses, clipped shares) and run.json/splits.csv in the run folder: computed on private data, not privatised; do not release them',
      'the holdout and test splits, which training never reads (they get no protection from this training either)',
      'hyperparameter tuning on private data, which spends privacy this accounting does not count',
      'floating-point and pseudo-random-number effects: the noise comes from a seeded (reproducible, not cryptographically secure) generator in float32',
      ...(init
        ? [
            `the pretraining data of the initial weights (--init-from ${init.run}: ${init.dataset}, sha256:${init.fingerprint}), treated as PUBLIC: this run gives its images and patients no protection (that run's own guarantee: ${init.privacy})`,
          ]
        : []),
    ],
  };
}
function prepare(cfg: RunConfig): Prepared {
  const ds = loadDataset({ path: cfg.data, size: cfg.size, channels: cfg.channels, bins: cfg.bins, attributes: cfg.attributes });
  const attrNames = cfg.condition.filter((c) => c !== 'label');
  const attrs = attrNames.map((name) => {
    const a = ds.attributes.find((x) => x.name === name);
    if (!a) {
      throw new ConfigError(
        `--condition ${name}: ${ds.name} has no attribute '${name}' (available: label${ds.attributes.map((x) => `, ${x.name}`).join('')})`,
      );
    }
    return a;
  });
  const spec: ConditionSpec = { labels: ds.labelNames, attributes: attrs.map((a) => ({ name: a.name, values: a.values })) };
  const split = assignSplits(ds, { seed: cfg.splitSeed });
  const trainIdx = splitIndices(split, 'train');
  if (trainIdx.length === 0) throw new DatasetError(`${cfg.data}: the train split is empty; check the manifest's split column`);
  return { ds, split, spec, trainIdx, codes: attrs.map((a) => a.codes), warnings: emptySplitWarnings(split) };
}

/** Counts of each (label, attribute codes) combination among the train images. */
function conditionCounts(p: Prepared): { label: number; codes: number[]; count: number }[] {
  const counts = new Map<string, { label: number; codes: number[]; count: number }>();
  for (const i of p.trainIdx) {
    const label = p.ds.labels[i]!;
    const codes = p.codes.map((c) => c[i]!);
    const key = [label, ...codes].join(',');
    const e = counts.get(key) ?? { label, codes, count: 0 };
    e.count++;
    counts.set(key, e);
  }
  return [...counts.values()].sort((a, b) => a.label - b.label || a.codes.join().localeCompare(b.codes.join()));
}

function trainTensors(p: Prepared): { images: tf.Tensor4D; cond: tf.Tensor2D } {
  const { ds, trainIdx } = p;
  const len = ds.height * ds.width * ds.channels;
  const px = new Float32Array(trainIdx.length * len);
  trainIdx.forEach((src, dst) => px.set(ds.images.subarray(src * len, (src + 1) * len), dst * len));
  const cond = encodeConditions(
    p.spec,
    trainIdx.map((i) => ds.labels[i]!),
    p.codes.map((c) => trainIdx.map((i) => c[i]!)),
  );
  return {
    images: tf.tensor4d(px, [trainIdx.length, ds.height, ds.width, ds.channels]),
    cond: tf.tensor2d(cond, [trainIdx.length, cond.length / trainIdx.length]),
  };
}

/**
 * The resolved settings (run.json without the fingerprint) of a config whose request parts are resolved:
 * the DP plan, the init record, the audit canaries without their seed. Anything else is a bug.
 */
function settings(cfg: RunConfig): RunSettings {
  if (cfg.dp && !isPlan(cfg.dp)) throw new Error('internal error: run.json would record the DP request, not its plan');
  if (typeof cfg.initFrom === 'string') throw new Error('internal error: run.json would record --init-from unresolved');
  if (cfg.auditCanaries && 'seed' in cfg.auditCanaries) throw new Error('internal error: run.json would record the canary seed');
  if (cfg.epochsDefaulted !== undefined) throw new Error('internal error: epochsDefaulted is a request field');
  return cfg as RunSettings;
}

/** The InitRecord of a run config, once resolved (null: no warm start). */
function initRecord(cfg: RunConfig): InitRecord | null {
  return cfg.initFrom && typeof cfg.initFrom === 'object' ? cfg.initFrom : null;
}

/**
 * Warm start: copies the final weights of the finished run `from` into `gen` (optimiser state starts fresh)
 * and returns what run.json and the model card record about it. The pretraining run must be the same
 * model with the same shapes (size, channels, widths, condition layout). Under DP it must not have seen
 * this run's data: a model of the private data as the starting point would carry that data into the
 * released weights outside the accountant, so the same data (equal sha256) is refused. Its data is public
 * by the user's declaration, which the card states; nothing here can check that.
 */
export function initialiseFrom(from: string, cfg: RunConfig, fingerprint: string, gen: Generator): InitRecord {
  const dir = resolve(from);
  if (!existsSync(join(dir, 'run.json')) || !existsSync(join(dir, 'model-card.json'))) {
    throw new DatasetError(`--init-from ${from}: not a finished medsynth run (run.json or model-card.json missing); train the pretraining run to the end first`);
  }
  const init = openRun(dir, { option: '--init-from' });
  const initCfg = init.record;
  const card = init.card;
  if (initCfg.model !== cfg.model) throw new ConfigError(`--init-from ${from}: that run trained a ${initCfg.model}, this one a ${cfg.model}; warm-start from a run of the same --model`);
  if (cfg.dp && initCfg.fingerprint === fingerprint) {
    throw new PrivacyAssumptionError(
      `--init-from ${from}: that run was trained on this run's data (same sha256); starting a DP run from a model of its private data would put that data in the weights outside the privacy accounting; pretrain on public data`,
    );
  }
  loadNetworks(dir, gen, (d) => new ConfigError(`--init-from ${from}: ${d}; the pretraining run needs the same --model, --size, --channels, generator widths (--model-config) and condition layout (number of labels, attributes and their values)`));
  const privacy = card.privacy.differentialPrivacy ? card.privacy.claim : 'not private';
  return {
    run: dir,
    dataset: card.dataset.name,
    fingerprint: initCfg.fingerprint,
    weightsSha256: weightsSha256(dir, [...byNetwork(gen.weights()).keys()]),
    privacy,
    conditioning: card.conditioning,
  };
}

async function writeCheckpoint(out: string, gen: Generator, pos: LoopPosition, cfg: RunConfig, canaries?: CanaryRecorder | null): Promise<void> {
  await writeDirAtomic(
    join(out, 'checkpoint'),
    async (tmp) => {
      await saveNetworks(tmp, gen, { generatorType: gen.kind });
      canaries?.write(tmp, pos.step);
      const opt = gen.optimizerState();
      await saveTensors(tmp, 'optimizer', { step: opt.step, ...(opt.meta ? { state: opt.meta } : {}) }, opt.slots);
      writeFileAtomic(join(tmp, 'state.json'), JSON.stringify({ ...pos, seed: cfg.seed, epochs: cfg.epochs }, null, 2) + '\n');
    },
    { overwrite: true },
  );
}

function packageVersions(): Record<string, string> {
  return { medsynth: packageVersion(), '@tensorflow/tfjs': tf.version_core, node: process.version };
}

/**
 * A one-shot generator's single access to the train split: its statistics, released with the Gaussian
 * mechanism at the plan's σ (σ = 0 without DP), units as in the plan (images without DP). The counts the
 * release carries replace conditions.json's (under DP they are noisy, so releasing them costs nothing more).
 */
function releaseOnce(out: string, cfg: RunConfig, p: Prepared, gen: Generator, plan: DpPlan | null, data: { images: tf.Tensor4D; cond: tf.Tensor2D }): void {
  const extra = data.images.shape[0] - p.trainIdx.length; // input canaries of an audit run
  const units = withExtraUnits(trainUnits(p, plan?.unit ?? 'image'), p.trainIdx.length, extra);
  const unitOf = units.members.every((m) => m.length === 1) ? null : new Int32Array(data.images.shape[0]);
  if (unitOf) units.members.forEach((m, u) => m.forEach((i) => (unitOf[i] = u)));
  gen.releaseStatistics!({ ...data, unitOf }, { clipNorm: 1, noiseMultiplier: plan?.noiseMultiplier ?? 0, seed: new Rng(cfg.seed).derive('release-noise').nextUint32() });
  const counts = gen.releasedConditionCounts!().filter((c) => c.count > 0);
  const conditions = plan
    ? { spec: p.spec, train: counts, countsSource: `noisy counts from the generator's differentially private release (the same Gaussian mechanism as its statistics, (epsilon, ${plan.delta})-DP per ${plan.unit} in total); cells below the model's minimum count are omitted` }
    : { spec: p.spec, train: counts };
  writeFileAtomic(join(out, 'conditions.json'), JSON.stringify(conditions, null, 2) + '\n');
}

/** The included input canaries (images and condition rows). */
function includedInputs(plan: CanaryPlanFile, included: Uint8Array, spec: ConditionSpec): { images: Float32Array; cond: Float32Array; n: number; width: number } {
  const all = canaryInputs(plan, spec);
  const keep = [...included.keys()].filter((i) => included[i] === 1);
  const len = all.images.length / all.n;
  const images = new Float32Array(keep.length * len);
  const cond = new Float32Array(keep.length * all.width);
  keep.forEach((i, k) => {
    images.set(all.images.subarray(i * len, (i + 1) * len), k * len);
    cond.set(all.cond.subarray(i * all.width, (i + 1) * all.width), k * all.width);
  });
  return { images, cond, n: keep.length, width: all.width };
}

/** The train tensors with input canaries appended (the inputs are disposed here). */
function withInputs(data: { images: tf.Tensor4D; cond: tf.Tensor2D }, inputs: { images: Float32Array; cond: Float32Array; n: number; width: number }): { images: tf.Tensor4D; cond: tf.Tensor2D } {
  const [, h, w, c] = data.images.shape;
  const out = tf.tidy(() => ({
    images: tf.concat([data.images, tf.tensor4d(inputs.images, [inputs.n, h, w, c])]) as tf.Tensor4D,
    cond: tf.concat([data.cond, tf.tensor2d(inputs.cond, [inputs.n, inputs.width])]) as tf.Tensor2D,
  }));
  tf.dispose([data.images, data.cond]);
  return out;
}

async function runLoop(out: string, cfg: RunConfig, p: Prepared, gen: Generator, cb: RunCallbacks, start?: LoopPosition, ledger?: PrivacyLedger): Promise<RunSummary> {
  const plan = cfg.dp && isPlan(cfg.dp) ? cfg.dp : null;
  const oneShot = isOneShot(gen.kind);
  const canaryPlan = plan ? readCanaryPlan(out) : null;
  const canaries =
    canaryPlan?.kind === 'gradient'
      ? new CanaryRecorder(canaryPlan, readCanaryKey(out, canaryPlan.canaries), gen, start ? readCanaryObservations(join(out, 'checkpoint'), canaryPlan.canaries, start.step) : undefined)
      : null;
  // Input canaries: the included ones join the train images as units of their own.
  const inputs = canaryPlan?.kind === 'input' ? includedInputs(canaryPlan, readCanaryKey(out, canaryPlan.canaries), p.spec) : null;
  const dp = plan ? dpSchedule(plan, p, gen, cfg.epochs, inputs?.n ?? 0, ledger) : null;
  const data = inputs ? withInputs(trainTensors(p), inputs) : trainTensors(p);
  try {
    if (oneShot && !gen.isReleased!()) {
      releaseOnce(out, cfg, p, gen, plan, data);
      // The release is saved at once, so a resumed run fits to it and never releases again.
      await writeCheckpoint(out, gen, { step: 0, elapsedMs: 0 }, cfg);
    }
    const result = await trainLoop(gen, data, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      seed: cfg.seed,
      start,
      dp: oneShot ? undefined : dp ? { ...dp.schedule, ...(canaries ? { canaries: canaries.loop } : {}) } : undefined,
      ...(oneShot ? { fit: { stepsPerEpoch: Number(gen.config().stepsPerEpoch), ...(dp ? { epsilon: dp.ledger.epsilon(1).epsilon } : {}) } } : {}),
      onProgress: cb.onProgress,
      onEpoch: (e) => {
        appendFileSync(join(out, 'metrics.jsonl'), JSON.stringify(e) + '\n');
        cb.onEpoch?.(e);
      },
      checkpoint: (pos) => writeCheckpoint(out, gen, pos, cfg, canaries),
      shouldStop: cb.shouldStop,
    });
    if (canaries && result.status !== 'stopped') canaries.write(out, result.position.step);
    let modelCard: string | null = null;
    const finalLosses = result.lastEpoch?.losses ?? null;
    // Privacy-spending steps: the one release of a one-shot generator, else the DP-SGD steps taken.
    const privateSteps = oneShot ? 1 : result.position.step;
    const spent = plan && dp ? dp.ledger.epsilon(privateSteps) : null;
    const privacySummary =
      plan && spent
        ? { epsilon: spent.epsilon, delta: plan.delta, accountant: plan.accountant, unit: plan.unit, noiseMultiplier: plan.noiseMultiplier, steps: privateSteps }
        : undefined;
    if (result.status !== 'stopped') {
      await saveNetworks(out, gen, { generatorType: gen.kind });
      const init = initRecord(cfg);
      modelCard = join(out, 'model-card.json');
      const card: ModelCard = {
        generator: { type: gen.kind, architecture: gen.architecture(), config: gen.config() },
        conditioning: p.spec,
        dataset: {
          name: p.ds.name,
          source: p.ds.source.kind,
          path: cfg.data,
          fingerprint: `sha256:${p.ds.source.fingerprint}`,
          preprocessing: { ...p.ds.source.preprocessing },
          bitDepth: p.ds.bitDepth,
        },
        splits: { seed: p.split.seed, origin: p.split.origin, unit: p.split.unit, sizes: p.split.sizes, units: p.split.units },
        training: {
          config: settings(cfg),
          seed: cfg.seed,
          steps: result.position.step,
          seconds: result.position.elapsedMs / 1000,
          finalLosses,
        },
        ...(init
          ? {
              initialisation: {
                ...init,
                note: `started from the final weights of ${init.run} (pretrained on ${init.dataset}); that data is treated as PUBLIC: this run's privacy accounting does not cover it`,
              },
            }
          : {}),
        ...(p.warnings.length ? { warnings: p.warnings } : {}),
        ...(canaryPlan
          ? { auditRun: { kind: canaryPlan.kind, canaries: canaryPlan.canaries, notForRelease: true, note: AUDIT_RUN_NOTE, ...(canaryPlan.break ? { break: `TEST BUILD: deliberately broken DP-SGD (${canaryPlan.break}); the privacy claim below does NOT hold` } : {}) } }
          : {}),
        privacy:
          plan && spent
            ? {
                differentialPrivacy: true,
                unit: plan.unit,
                epsilon: spent.epsilon,
                delta: plan.delta,
                accountant: plan.accountant,
                accountantDescription: accountant(plan.accountant).description,
                ...(spent.order !== null ? { rdpOrder: spent.order } : {}),
                ...(spent.estimate !== undefined ? { epsilonEstimate: spent.estimate, epsilonLower: spent.lower } : {}),
                targetEpsilon: plan.targetEpsilon,
                noiseMultiplier: plan.noiseMultiplier,
                noiseCalibrated: plan.calibrated,
                clipNorm: plan.clipNorm,
                sampleRate: plan.sampleRate,
                sampling: oneShot ? 'none: one release over the whole train split' : 'Poisson',
                units: plan.units,
                steps: privateSteps,
                plannedSteps: dp!.schedule.plannedSteps,
                stoppedByBudget: result.status === 'budget',
                // The accountant's input and its answer after every epoch: the one ledger of this run
                // (dpSchedule), as metrics.jsonl recorded it; the report reads these, it recomputes nothing.
                history: dp!.ledger.history(privateSteps),
                epsilonPerEpoch: epochEpsilons(out),
                mechanism: oneShot ? 'one Gaussian release of per-unit-clipped statistics (src/privacy/release.ts); the generator is fitted to them afterwards without reading the data' : 'DP-SGD',
                privateModule: oneShot ? ['release/statistics'] : (gen.privateLayers?.().map((l) => l.name) ?? []),
                ...(oneShot ? {} : privatelyTrained(gen)),
                claim: `(${spent.epsilon.toFixed(3)}, ${plan.delta})-DP per ${plan.unit}, ${plan.accountant.toUpperCase()} accountant, ${oneShot ? 'one Gaussian release' : `${result.position.step} DP-SGD steps`}`,
                ...dpCardNote(plan, init),
              }
            : {
                differentialPrivacy: false,
                warning: 'NOT PRIVATE: trained without differential privacy. There is no formal guarantee for the training images or patients; samples may reproduce training images. Audit before any release.',
              },
        environment: { versions: packageVersions(), backend: { ...cb.backend } },
      };
      writeFileAtomic(modelCard, JSON.stringify(card, null, 2) + '\n');
    }
    return {
      out,
      status: result.status,
      step: result.position.step,
      epochs: cfg.epochs,
      finalLosses,
      trainingSeconds: result.position.elapsedMs / 1000,
      modelCard,
      ...(privacySummary ? { privacy: privacySummary } : {}),
      ...(p.warnings.length ? { warnings: p.warnings } : {}),
    };
  } finally {
    tf.dispose([data.images, data.cond]);
  }
}

/** Starts a new run in `out` (which must not exist). */
export async function trainRun(outDir: string, requested: RunConfig, cb: RunCallbacks): Promise<RunSummary> {
  const out = resolve(outDir);
  if (existsSync(out)) throw new ConfigError(`--out ${outDir} already exists; choose a new run folder, or continue it with --resume ${outDir}`);
  const p = prepare(requested);
  const { epochsDefaulted, auditCanaries, ...rest } = requested;
  const cfg: RunConfig = { ...rest, channels: p.ds.channels };
  if (auditCanaries && !cfg.dp) throw new ConfigError('--audit-canaries audits a DP-SGD run: add --dp and a budget (--target-epsilon)');
  if (cfg.model === AUTO_MODEL) {
    // The generator chosen by the measured results for this N and ε (src/train/select.ts): a function of
    // the unit count, the budget and the condition cells, not of the images.
    if (!cfg.dp || isPlan(cfg.dp)) throw new ConfigError('--model auto picks a private generator: add --dp and a budget (--target-epsilon), or name a --model');
    const unit: PrivacyUnit = cfg.dp.unit ?? (p.ds.patientIds ? 'patient' : 'image');
    const sel = selectPrivateGenerator({ units: trainUnits(p, unit).members.length, epsilon: cfg.dp.targetEpsilon ?? null, cells: conditionCells(p.spec), size: cfg.size, channels: p.ds.channels });
    cfg.model = sel.model;
    cfg.generator = { ...sel.generator, ...cfg.generator };
    if (epochsDefaulted) cfg.epochs = sel.epochs;
    cfg.selection = { reason: sel.reason, evidence: sel.evidence };
    cb.onSelect?.(sel);
  }
  if (cfg.dp && !isPlan(cfg.dp)) cfg.dp = resolveDp(cfg.dp, cfg, p);
  // A new DP run takes the model's DP defaults under the user's options. Only here: a resumed or loaded
  // run uses what its run.json recorded, so a default change cannot alter it.
  const privateDefaults = cfg.dp ? generatorFactory(cfg.model)?.privateDefaults : undefined;
  if (privateDefaults) cfg.generator = { ...privateDefaults, ...cfg.generator };
  const gen = createGenerator(cfg, p.spec);
  // run.json records the generator's full resolved options, so a later change of a default cannot change
  // what an existing run folder loads as.
  cfg.generator = gen.config();
  try {
    // The DP validators, the budget check and the warm start run before anything is written.
    const ledger = cfg.dp && isPlan(cfg.dp) ? dpSchedule(cfg.dp, p, gen, cfg.epochs).ledger : undefined;
    if (typeof cfg.initFrom === 'string') cfg.initFrom = initialiseFrom(cfg.initFrom, cfg, p.ds.source.fingerprint, gen);
    const frozen = gen.trainedPrivateLayers && gen.privateLayers ? gen.privateLayers().length - gen.trainedPrivateLayers().length : 0;
    if (frozen > 0 && !cfg.initFrom) {
      p.warnings.push(`${frozen} layer${frozen === 1 ? '' : 's'} of the private module ${frozen === 1 ? 'is' : 'are'} frozen by the model's trainable option but there is no --init-from: ${frozen === 1 ? 'it keeps its' : 'they keep their'} random initial weights; pretrain on public data and pass that run with --init-from`);
    }
    if (auditCanaries && !('seed' in auditCanaries)) throw new Error('internal error: a new audit run needs the canary seed');
    const canaries = auditCanaries ? planCanaries(auditCanaries as CanaryRequest, gen, isOneShot(cfg.model), cfg.seed) : null;
    if (canaries) cfg.auditCanaries = { canaries: canaries.plan.canaries, kind: canaries.plan.kind, ...(canaries.plan.break ? { break: canaries.plan.break } : {}) };
    warn(cb, p.warnings);
    mkdirSync(out, { recursive: true });
    if (canaries) writeCanaryPlan(out, canaries);
    writeFileAtomic(join(out, 'run.json'), JSON.stringify({ ...settings(cfg), fingerprint: p.ds.source.fingerprint } satisfies RunRecord, null, 2) + '\n');
    writeFileAtomic(join(out, 'splits.csv'), splitsCsv(p.ds, p.split));
    const conditions = cfg.dp
      ? { spec: p.spec, train: [], countsWithheld: 'differential privacy: the train-split condition counts are statistics of the private data; sampling draws open conditions uniformly unless --condition-proportions gives public proportions' }
      : { spec: p.spec, train: conditionCounts(p) };
    writeFileAtomic(join(out, 'conditions.json'), JSON.stringify(conditions, null, 2) + '\n');
    return await runLoop(out, cfg, p, gen, cb, undefined, ledger);
  } finally {
    gen.dispose();
  }
}

/** The configuration a run was started with (run.json, checked: records.ts RunRecordSchema). */
export function readRunConfig(runDir: string, option = '--resume'): RunRecord {
  return readRunRecord(runDir, option);
}

/** ε after each epoch, from metrics.jsonl (written by the loop from the run's ledger). */
function epochEpsilons(out: string): EpochEpsilon[] {
  const path = join(out, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => MetricsLineSchema.parse(JSON.parse(l)))
    .flatMap((e) => (typeof e.epsilon === 'number' ? [{ epoch: e.epoch, step: e.step, epsilon: e.epsilon }] : []));
}

function warn(cb: RunCallbacks, messages: string[]): void {
  for (const m of messages) (cb.onWarning ?? ((w: string) => process.stderr.write(`warning: ${w}\n`)))(m);
}

/**
 * Drops the metrics.jsonl lines past `step` (the checkpoint's position), and a torn last line, so the epochs
 * a resumed run trains again from the checkpoint are logged once. Other lines are kept as they are.
 */
function trimMetrics(out: string, step: number): void {
  const path = join(out, 'metrics.jsonl');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  if (text === '') return;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const parsed = (l: string): { step?: unknown } | null => {
    try {
      return JSON.parse(l) as { step?: unknown };
    } catch {
      return null;
    }
  };
  const kept = lines.filter((l, i) => {
    const e = parsed(l);
    if (e === null) return !(i === lines.length - 1 && !text.endsWith('\n')); // a line cut off mid-write
    return !(typeof e.step === 'number' && e.step > step);
  });
  // Rewrite also when the last line lost only its newline, so the next appended line starts a line of its own.
  if (kept.length !== lines.length || !text.endsWith('\n')) writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}

/** Continues a run from its last checkpoint; the same seed gives the same weights as an uninterrupted run. */
export async function resumeRun(runDir: string, cb: RunCallbacks, overrides: { epochs?: number } = {}): Promise<RunSummary> {
  const out = resolve(runDir);
  const saved = readRunConfig(out);
  const { fingerprint, ...rest } = saved;
  const cfg: RunConfig = { ...rest, epochs: overrides.epochs ?? rest.epochs };
  // A checkpoint write killed part-way (kill -9, power loss) leaves writeDirAtomic's temporary folders.
  recoverDirAtomic(join(out, 'checkpoint'));
  if (!existsSync(join(out, 'checkpoint', 'state.json'))) {
    throw new DatasetError(`--resume ${runDir}: no checkpoint yet (it is written after the first epoch); start the run again`);
  }
  const p = prepare(cfg);
  if (p.ds.source.fingerprint !== fingerprint) {
    throw new DatasetError(`--resume ${runDir}: the data at ${cfg.data} changed since the run started (sha256 differs); resume needs the same data`);
  }
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as LoopPosition;
  const gen = createGenerator(cfg, p.spec);
  try {
    loadNetworks(join(out, 'checkpoint'), gen);
    const opt = loadTensors(join(out, 'checkpoint'), 'optimizer');
    try {
      gen.restoreOptimizerState({ step: Number(opt.meta.step), slots: opt.tensors, ...(opt.meta.state ? { meta: opt.meta.state as Record<string, number> } : {}) });
    } finally {
      tf.dispose([...opt.tensors.values()]);
    }
    if (cfg.epochs !== rest.epochs) writeFileAtomic(join(out, 'run.json'), JSON.stringify({ ...settings(cfg), fingerprint } satisfies RunRecord, null, 2) + '\n');
    // Epochs logged after the checkpoint (a crash during its write) are trained again from it.
    trimMetrics(out, state.step);
    warn(cb, p.warnings);
    return await runLoop(out, cfg, p, gen, cb, state);
  } finally {
    gen.dispose();
  }
}

/** A trained generator from a finished run folder, with its configuration and condition statistics (openRun). */
export function loadRunGenerator(runDir: string): { gen: Generator; cfg: RunRecord; conditions: Conditions } {
  const run = openRun(runDir, { option: '--model' });
  return { gen: run.loadGenerator(), cfg: run.record, conditions: run.conditions };
}

export { DEFAULT_SPLIT_SEED };
