/**
 * Membership-inference audit of a trained run: how well can an attacker tell the images the generator
 * was trained on from images it never saw, and what empirical epsilon does that imply?
 *
 * Sets (from the run's own splits.csv, so exactly what training used):
 *   members     = the train split (subsampled to the size of the holdout split when larger)
 *   non-members = the holdout split (subsampled to the size of the train split when larger)
 *   reference   = the test split: real images that are neither, used to fit the feature extractor
 *                 (pixel PCA) and by the attacks that need real data (DOMIAS, LOGAN black-box)
 *   synthetic   = n samples of the generator (default n = members), conditions drawn as `sample` does
 * Attacks (eval/privacy, one module each) score every member and non-member; metrics come from
 * eval/privacy/summary.ts, overall and per value of each conditioning variable of the model.
 * White-box scores (the cVAE's ELBO and reconstruction error, the GAN discriminator) are computed here,
 * where the models live, and passed to eval/ as plain arrays.
 *
 * Nothing in the result identifies an image: no ids, paths, pixels or per-image scores, only counts and
 * statistics. Every random choice derives from `seed` (recorded).
 */
import * as tf from '@tensorflow/tfjs';
import { imageLength, type ImageDataset } from '../../datasets/dataset.js';
import { fitPca, projectPca } from '../../eval/features/pca.js';
import { ATTACKS, attackInfo, type AttackFamily, type AttackInfo } from '../../eval/privacy/attacks.js';
import { dcrShare, type DcrResult } from '../../eval/privacy/dcr.js';
import { domiasScores } from '../../eval/privacy/domias.js';
import { ganLeaksScores } from '../../eval/privacy/gan-leaks.js';
import { randomControlScores } from '../../eval/privacy/control.js';
import { loganBlackBoxScores } from '../../eval/privacy/logan.js';
import type { FeatureMatrix } from '../../eval/privacy/nearest.js';
import { rocCurve } from '../../eval/privacy/metrics.js';
import { attackMetrics, groupMetrics, type AttackMetrics, type GroupMetrics } from '../../eval/privacy/summary.js';
import { bernoulliEntropy, discriminatorScores, elboScores, reconstructionErrors, reconstructionScores, releaseAlignmentScores } from '../../eval/privacy/whitebox.js';
import { conditionWidth, encodeConditions, type ConditionSpec, type Generator } from '../../models/generator.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import { StageTracker, type ProgressCallback } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { drawConditions } from '../sample/sample.js';
import { canaryAudit, type CanaryAuditResult } from './canary.js';
import { openRun, type OpenedRun } from '../train/open.js';

export type AuditFamily = AttackFamily | 'dcr';

export interface AuditRequest {
  run: string;
  /** The run's data; default: run.json "data" (its sha256 is checked either way). */
  data?: string;
  /** Attack families to run (dcr is the DCR share test). */
  attacks: AuditFamily[];
  seed: number;
  /** Synthetic samples; default: as many as members. */
  nSynthetic?: number;
  /** Bootstrap replicates for the CIs. */
  bootstrap: number;
  /** delta of the empirical epsilon; default: the model card's delta (DP runs), else 1e-5. */
  delta?: number;
  /** Confidence of every interval and bound. */
  confidence: number;
  /** Pixel-PCA feature dimension (capped at reference - 1). */
  featureDim: number;
  /** Leading feature dimensions DOMIAS's KDE uses. */
  domiasDim: number;
  /** Posterior draws averaged in the cVAE's negative ELBO. */
  elboDraws: number;
  /** Groups with fewer members or non-members get no metrics. */
  minGroup: number;
  onProgress?: (message: string) => void;
  /** Stage progress with the fraction done and time left (src/core/progress.ts). */
  onStage?: ProgressCallback;
}

export const AUDIT_DEFAULTS = {
  seed: 1,
  bootstrap: 1000,
  confidence: 0.95,
  featureDim: 64,
  domiasDim: 8,
  elboDraws: 4,
  minGroup: 10,
  nonDpDelta: 1e-5,
} as const;

export interface AttackResult extends AttackInfo {
  /** Metrics, plus the ROC curve's points (for the report's log-log plot). */
  overall: AttackMetrics & { roc: { fpr: number[]; tpr: number[] } };
  groups: GroupMetrics[];
  seconds: number;
  details?: Record<string, unknown>;
}

export interface AuditResult {
  command: 'audit';
  run: string;
  modelId: string;
  generator: string;
  data: { name: string; fingerprint: string; size: number; channels: number };
  seeds: { audit: number; split: number; training: number };
  sizes: { trainSplit: number; holdoutSplit: number; testSplit: number; members: number; nonMembers: number; reference: number; synthetic: number };
  privacy: { differentialPrivacy: boolean; epsilon: number | null; delta: number | null; unit: string | null; accountant: string | null; claim: string | null };
  settings: { attacks: AuditFamily[]; bootstrap: number; confidence: number; delta: number; fprs: number[]; minGroup: number; elboDraws: number; domiasDim: number };
  features: { name: string; fittedOn: string; dim: number; explainedVarianceRatio: number; seed: number } | null;
  groupsBy: string[];
  attacks: AttackResult[];
  dcr: ({ space: 'pixel' | 'feature' } & DcrResult)[];
  /** The attack with the highest AUC (the random control excluded), and that AUC. */
  best: { attack: string; auc: number; epsilonLowerBound: number } | null;
  /** Audit runs (`train --audit-canaries`): the one-run canary audit (src/audit/canary.ts). */
  canaryAudit?: CanaryAuditResult;
  caveats: string[];
  seconds: number;
}

type ElboGenerator = Generator & { elbo(images: tf.Tensor4D, cond: tf.Tensor2D, seed: number): tf.Tensor1D };
type DiscriminatorGenerator = Generator & { discriminate(x: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor1D };
const hasElbo = (g: Generator): g is ElboGenerator => typeof (g as Partial<ElboGenerator>).elbo === 'function';
type ReleaseGenerator = Generator & { releaseAlignment(x: tf.Tensor4D, cond: tf.Tensor2D): tf.Tensor1D };
const hasRelease = (g: Generator): g is ReleaseGenerator => typeof (g as Partial<ReleaseGenerator>).releaseAlignment === 'function';
const hasDiscriminator = (g: Generator): g is DiscriminatorGenerator => typeof (g as Partial<DiscriminatorGenerator>).discriminate === 'function';

interface ModelCardPrivacy {
  differentialPrivacy: boolean;
  sampleRate?: number;
  noiseMultiplier?: number;
  steps?: number;
  epsilon?: number;
  delta?: number;
  unit?: string;
  accountant?: string;
  claim?: string;
}

/** Rows of the dataset's images at `idx` as a [n, d] matrix (flattened NHWC). */
function pixelRows(ds: ImageDataset, idx: readonly number[]): FeatureMatrix {
  const len = imageLength(ds);
  const data = new Float32Array(idx.length * len);
  idx.forEach((src, dst) => data.set(ds.images.subarray(src * len, (src + 1) * len), dst * len));
  return { data, n: idx.length, d: len };
}

/** The dataset without its images: what the audit needs once the rows it reads are out. */
type DatasetMeta = Omit<ImageDataset, 'images'>;

function withoutImages(ds: ImageDataset): DatasetMeta {
  const { images, ...meta } = ds;
  void images;
  return meta;
}

/** Condition rows of dataset images. */
function conditionRows(spec: ConditionSpec, ds: Pick<ImageDataset, 'labels' | 'attributes'>, idx: readonly number[]): Float32Array {
  const attrs = spec.attributes.map((a) => ds.attributes.find((x) => x.name === a.name)!);
  return encodeConditions(
    spec,
    idx.map((i) => ds.labels[i]!),
    attrs.map((a) => idx.map((i) => a.codes[i]!)),
  );
}

/**
 * Runs `fn` on batches of query images and their conditions; returns the concatenated [n] outputs.
 * `rows` are the images of `idx` in that order (pixelRows(ds, idx)).
 */
function batched(ds: DatasetMeta, rows: FeatureMatrix, spec: ConditionSpec, idx: readonly number[], fn: (x: tf.Tensor4D, c: tf.Tensor2D, batch: number) => tf.Tensor): Float32Array {
  const out = new Float32Array(idx.length);
  const width = conditionWidth(spec);
  const len = rows.d;
  for (let s = 0, b = 0; s < idx.length; s += 64, b++) {
    const part = idx.slice(s, s + 64);
    const values = tf.tidy(() => {
      const x = tf.tensor4d(rows.data.subarray(s * len, (s + part.length) * len), [part.length, ds.height, ds.width, ds.channels]);
      const c = tf.tensor2d(conditionRows(spec, ds, part), [part.length, width]);
      return fn(x, c, b).dataSync() as Float32Array; // sync point
    });
    out.set(values, s);
  }
  return out;
}

/** Synthetic images [n, d] from the generator, conditions drawn like `medsynth sample`. */
function sampleSynthetic(gen: Generator, conditions: { spec: ConditionSpec; train: { label: number; codes: number[]; count: number }[] }, n: number, rng: Rng): FeatureMatrix {
  const spec = conditions.spec;
  const drawn = drawConditions(spec, conditions.train, { fixedLabel: null, fixedCodes: spec.attributes.map(() => null) }, n, rng.derive('conditions'));
  const len = gen.imageSize * gen.imageSize * gen.channels;
  const data = new Float32Array(n * len);
  for (let start = 0, b = 0; start < n; start += 64, b++) {
    const end = Math.min(n, start + 64);
    const pixels = tf.tidy(() => {
      const cond = tf.tensor2d(
        encodeConditions(spec, drawn.labels.slice(start, end), drawn.codes.map((c) => c.slice(start, end))),
        [end - start, conditionWidth(spec)],
      );
      return gen.sample(cond, rng.derive(`batch-${b}`).nextUint32()).dataSync() as Float32Array; // sync point
    });
    data.set(pixels, start * len);
  }
  return { data, n, d: len };
}

/** Runs `fn` on batches of raw images [n, H, W, C] with condition rows; returns the concatenated [n] outputs. */
function batchedRows(gen: Generator, inputs: { images: Float32Array; cond: Float32Array; n: number; width: number }, fn: (x: tf.Tensor4D, c: tf.Tensor2D, batch: number) => tf.Tensor): Float32Array {
  const out = new Float32Array(inputs.n);
  const len = gen.imageSize * gen.imageSize * gen.channels;
  for (let s = 0, b = 0; s < inputs.n; s += 64, b++) {
    const k = Math.min(64, inputs.n - s);
    const values = tf.tidy(() => {
      const x = tf.tensor4d(inputs.images.subarray(s * len, (s + k) * len), [k, gen.imageSize, gen.imageSize, gen.channels]);
      const c = tf.tensor2d(inputs.cond.subarray(s * inputs.width, (s + k) * inputs.width), [k, inputs.width]);
      return fn(x, c, b).dataSync() as Float32Array; // sync point
    });
    out.set(values, s);
  }
  return out;
}

/**
 * Input canaries' scores (higher = more likely included): white-box from the final model (the cVAE's
 * negative ELBO, the discriminator's logit, or the alignment with the released statistics), and black-box
 * from synthetic samples only (minus the distance to the nearest of max(m, 1000) samples, GAN-Leaks style).
 */
async function scoreInputCanaries(
  gen: Generator,
  conditions: { spec: ConditionSpec; train: { label: number; codes: number[]; count: number }[] },
  inputs: { images: Float32Array; cond: Float32Array; n: number; width: number },
  req: AuditRequest,
  rng: Rng,
): Promise<{ whiteBox: { scores: Float64Array; score: string } | null; blackBox: { scores: Float64Array; score: string } }> {
  let whiteBox: { scores: Float64Array; score: string } | null = null;
  if (hasElbo(gen)) {
    const sum = new Float64Array(inputs.n);
    for (let k = 0; k < req.elboDraws; k++) {
      const draw = rng.derive(`elbo/${k}`);
      const v = batchedRows(gen, inputs, (x, c, b) => gen.elbo(x, c, draw.derive(b).nextUint32()));
      for (let i = 0; i < v.length; i++) sum[i]! += v[i]! / req.elboDraws;
    }
    whiteBox = { scores: elboScores(sum), score: `the final cVAE's negative ELBO (${req.elboDraws} posterior draws), lower = included` };
  } else if (hasDiscriminator(gen)) {
    whiteBox = { scores: discriminatorScores(batchedRows(gen, inputs, (x, c) => gen.discriminate(x, c))), score: "the final discriminator's logit" };
  } else if (hasRelease(gen)) {
    whiteBox = { scores: releaseAlignmentScores(batchedRows(gen, inputs, (x, c) => gen.releaseAlignment(x, c))), score: 'alignment of the canary\'s features with the released noisy statistics' };
  }
  const synthetic = sampleSynthetic(gen, conditions, Math.max(inputs.n, 1000), rng.derive('samples'));
  const len = gen.imageSize * gen.imageSize * gen.channels;
  const black = await ganLeaksScores({ data: inputs.images, n: inputs.n, d: len }, synthetic);
  return { whiteBox, blackBox: { scores: Float64Array.from(black.scores), score: `minus the pixel distance to the nearest of ${synthetic.n} synthetic samples` } };
}

/**
 * The audit's sets from the run's data (splits from its splits.csv; members and non-members subsampled
 * with `rng`), with the only pixels the audit reads: the rows of the queries (members, then non-members)
 * and, when an attack needs it, of the reference (test split). The dataset's own image array is not
 * returned, so it is freed once this returns (10 000 grey images at 64 px: 164 MB).
 */
function auditSets(run: OpenedRun, req: AuditRequest, rng: Rng, needsReference: boolean) {
  // The run's data by default; either way its sha256 must be run.json's. Sets from the run's splits.csv.
  const ds = run.loadData({ path: req.data, option: '--data' });
  const split = run.splitOf(ds);
  const ofSplit = (s: string) => split.flatMap((v, i) => (v === s ? [i] : []));
  const train = ofSplit('train');
  const holdout = ofSplit('holdout');
  const test = ofSplit('test');
  const nBalanced = Math.min(train.length, holdout.length);
  if (nBalanced < 10) {
    throw new DatasetError(`--model ${req.run}: the audit needs at least 10 train and 10 holdout images, the run has ${train.length} and ${holdout.length}; use more data (or a manifest split column with a larger holdout)`);
  }
  const members = rng.derive('members').shuffle([...train]).slice(0, nBalanced).sort((a, b) => a - b);
  const nonMembers = rng.derive('non-members').shuffle([...holdout]).slice(0, nBalanced).sort((a, b) => a - b);
  const queries = [...members, ...nonMembers];
  if (needsReference && test.length < 10) {
    throw new DatasetError(`--model ${req.run}: the feature extractor and the DOMIAS/LOGAN attacks need a reference set (the test split) of at least 10 images, the run has ${test.length}; use more data, or --attacks whitebox`);
  }
  return {
    ds: withoutImages(ds),
    train,
    holdout,
    test,
    nBalanced,
    members,
    nonMembers,
    queries,
    pQueries: pixelRows(ds, queries),
    pReference: needsReference ? pixelRows(ds, test) : (null as FeatureMatrix | null),
  };
}

/** Pixel PCA fitted on the reference rows, and the projections the black-box attacks use. */
function pixelFeatures(reference: FeatureMatrix, queries: FeatureMatrix, synthetic: FeatureMatrix, k: number, seed: number) {
  const pca = fitPca(reference, { k, seed });
  return {
    fQueries: projectPca(pca, queries),
    fSynthetic: projectPca(pca, synthetic),
    fReference: projectPca(pca, reference),
    explainedVarianceRatio: pca.variances.reduce((a, b) => a + b, 0) / pca.totalVariance,
  };
}

function splitScores(scores: ArrayLike<number>, nMembers: number): { members: Float64Array; nonMembers: Float64Array } {
  const all = Float64Array.from(scores);
  return { members: all.subarray(0, nMembers), nonMembers: all.subarray(nMembers) };
}

export async function auditRun(req: AuditRequest): Promise<AuditResult> {
  const t0 = performance.now();
  const say = req.onProgress ?? (() => {});
  // Stages weighted by their typical share of the time; the attacks advance one scored attack at a time.
  const families0 = new Set(req.attacks);
  const plannedScores = (families0.has('distance') ? 3 : 0) + (families0.has('domias') ? 1 : 0) + (families0.has('dcr') ? 1 : 0) + (families0.has('whitebox') ? 2 : 0) + (families0.has('control') ? 1 : 0);
  const stage = new StageTracker(
    [
      { name: 'load', weight: 1 },
      { name: 'samples', weight: 2 },
      { name: 'attacks', weight: 2 * Math.max(1, plannedScores) },
    ],
    req.onStage,
  );
  let scored = 0;
  const advance = (what: string) => stage.update(++scored / Math.max(1, plannedScores), what);
  const run = openRun(req.run, { option: '--model' });
  const runDir = run.dir;
  const cfg = run.record;
  const pv: ModelCardPrivacy = run.card.privacy;

  say(`loading ${req.data ?? run.dataPath} at ${cfg.size} px`);
  stage.start('load', `the run's data at ${cfg.size} px and its generator (and an audit run's canaries)`);
  const rng = new Rng(req.seed);
  const families = new Set(req.attacks);
  const needsReference = families.has('domias') || families.has('distance') || families.has('dcr');
  // Only the pixel rows of the queries and the reference are kept, not the whole data set's images.
  const sets = auditSets(run, req, rng, needsReference);
  const { ds, train, holdout, test, nBalanced, members, nonMembers, queries, pQueries } = sets;

  const conditions = run.conditions;
  const gen = run.loadGenerator();
  try {
    const canaries = await canaryAudit(runDir, pv, req.confidence, { spec: conditions.spec, scorer: (inputs) => scoreInputCanaries(gen, conditions, inputs, req, rng.derive('canaries')) });
    if (canaries) say(`canary audit: ${canaries.summary}`);
    const nSynthetic = req.nSynthetic ?? nBalanced;
    const delta = req.delta ?? (pv.differentialPrivacy && pv.delta !== undefined ? pv.delta : AUDIT_DEFAULTS.nonDpDelta);
    const summaryOpts = (name: string) => ({ replicates: req.bootstrap, seed: rng.derive(`metrics/${name}`).seed, delta, confidence: req.confidence });
    const groupsBy = cfg.condition;
    const groupVariables = groupsBy.map((v) => {
      if (v === 'label') return { name: 'label', values: ds.labelNames, codes: ds.labels };
      const a = ds.attributes.find((x) => x.name === v);
      if (!a) throw new DatasetError(`--data ${req.data ?? run.dataPath}: no attribute '${v}', which the run is conditioned on`);
      return { name: a.name, values: a.values, codes: a.codes };
    });
    const results: AttackResult[] = [];
    const score = (name: string, scores: ArrayLike<number>, started: number, details?: Record<string, unknown>) => {
      const { members: sm, nonMembers: sn } = splitScores(scores, members.length);
      const opts = summaryOpts(name);
      const groups = groupVariables.flatMap((g) =>
        groupMetrics(sm, sn, Int32Array.from(members, (i) => g.codes[i]!), Int32Array.from(nonMembers, (i) => g.codes[i]!), g, {
          ...opts,
          seed: rng.derive(`metrics/${name}/${g.name}`).seed,
          minPerSide: req.minGroup,
        }),
      );
      const overall = { ...attackMetrics(sm, sn, opts), roc: rocCurve(sm, sn) };
      results.push({ ...attackInfo(name), overall, groups, seconds: (performance.now() - started) / 1000, ...(details ? { details } : {}) });
      say(`${name}: AUC ${overall.auc.estimate.toFixed(3)}`);
      advance(`${name} scored`);
    };

    stage.start('samples', 'synthetic samples and the pixel-PCA feature space the black-box attacks need');
    // Synthetic samples and pixel / feature spaces, only when a black-box attack needs them.
    let synthetic: FeatureMatrix | null = null;
    let features: AuditResult['features'] = null;
    let fQueries: FeatureMatrix | null = null;
    let fSynthetic: FeatureMatrix | null = null;
    let fReference: FeatureMatrix | null = null;
    if (needsReference) {
      say(`sampling ${nSynthetic} synthetic images (seed ${req.seed})`);
      synthetic = sampleSynthetic(gen, conditions, nSynthetic, rng.derive('synthetic'));
      const nReference = sets.pReference!.n;
      const k = Math.min(req.featureDim, nReference - 1, sets.pReference!.d);
      const pcaSeed = rng.derive('pca').seed;
      say(`fitting pixel PCA (k = ${k}) on the ${nReference} reference images`);
      const f = pixelFeatures(sets.pReference!, pQueries, synthetic, k, pcaSeed);
      sets.pReference = null; // its pixels are not needed past the features
      fQueries = f.fQueries;
      fSynthetic = f.fSynthetic;
      fReference = f.fReference;
      features = {
        name: 'pixel-pca',
        fittedOn: `reference = test split (${nReference} images): neither members nor non-members`,
        dim: k,
        explainedVarianceRatio: f.explainedVarianceRatio,
        seed: pcaSeed,
      };
    }

    stage.start('attacks', `${plannedScores} attack scores, each with bootstrap intervals`);
    if (families.has('distance')) {
      let t = performance.now();
      score('gan-leaks-pixel', (await ganLeaksScores(pQueries, synthetic!)).scores, t);
      t = performance.now();
      score('gan-leaks-feature', (await ganLeaksScores(fQueries!, fSynthetic!)).scores, t);
      t = performance.now();
      const logan = loganBlackBoxScores(fQueries!, fSynthetic!, fReference!, { seed: rng.derive('logan').seed });
      score('logan-black-box', logan.scores, t, { ...logan.config, trainLoss: logan.trainLoss });
    }
    if (families.has('domias')) {
      const t = performance.now();
      const dim = Math.min(req.domiasDim, fQueries!.d);
      const cols = (m: FeatureMatrix): FeatureMatrix => {
        const data = new Float32Array(m.n * dim);
        for (let i = 0; i < m.n; i++) data.set(m.data.subarray(i * m.d, i * m.d + dim), i * dim);
        return { data, n: m.n, d: dim };
      };
      const r = await domiasScores(cols(fQueries!), cols(fSynthetic!), cols(fReference!));
      score('domias', r.scores, t, { dims: dim, kernel: 'gaussian, Scott bandwidth, full covariance', bandwidth: r.bandwidth });
    }
    const dcr: AuditResult['dcr'] = [];
    if (families.has('dcr')) {
      say('DCR share test');
      // The queries are the members, then as many non-members: each half is a view, not a copy.
      const half = (m: FeatureMatrix, part: 0 | 1): FeatureMatrix => ({ data: m.data.subarray(part * members.length * m.d, (part + 1) * members.length * m.d), n: members.length, d: m.d });
      const dcrSeed = rng.derive('dcr').seed;
      dcr.push({ space: 'pixel', ...(await dcrShare(synthetic!, half(pQueries, 0), half(pQueries, 1), { confidence: req.confidence, seed: dcrSeed })) });
      dcr.push({ space: 'feature', ...(await dcrShare(fSynthetic!, half(fQueries!, 0), half(fQueries!, 1), { confidence: req.confidence, seed: dcrSeed })) });
      advance('DCR share test');
    }
    if (families.has('whitebox')) {
      const spec = conditions.spec;
      if (hasElbo(gen)) {
        let t = performance.now();
        say(`cVAE negative ELBO (${req.elboDraws} posterior draws per image)`);
        const sum = new Float64Array(queries.length);
        for (let k = 0; k < req.elboDraws; k++) {
          const draw = rng.derive(`elbo/${k}`);
          const v = batched(ds, pQueries, spec, queries, (x, c, b) => gen.elbo(x, c, draw.derive(b).nextUint32()));
          for (let i = 0; i < v.length; i++) sum[i]! += v[i]! / req.elboDraws;
        }
        const bernoulli = gen.config().likelihood === 'bernoulli';
        const offset = bernoulli ? bernoulliEntropy(pQueries.data, queries.length) : undefined;
        score('cvae-elbo', elboScores(sum, offset), t, { draws: req.elboDraws, offset: bernoulli ? 'Bernoulli entropy of the image subtracted' : 'none (Gaussian likelihood)' });
        if (gen.reconstruct) {
          t = performance.now();
          const recon = new Float32Array(pQueries.data.length);
          const len = pQueries.d;
          for (let s = 0; s < queries.length; s += 64) {
            const part = queries.slice(s, s + 64);
            const values = tf.tidy(() => {
              const x = tf.tensor4d(pQueries.data.subarray(s * len, (s + part.length) * len), [part.length, ds.height, ds.width, ds.channels]);
              const c = tf.tensor2d(conditionRows(spec, ds, part), [part.length, conditionWidth(spec)]);
              return gen.reconstruct!(x, c).dataSync() as Float32Array; // sync point
            });
            recon.set(values, s * len);
          }
          score('cvae-reconstruction', reconstructionScores(reconstructionErrors(pQueries.data, recon, queries.length)), t);
        }
      }
      if (hasDiscriminator(gen)) {
        const t = performance.now();
        score('gan-discriminator', discriminatorScores(batched(ds, pQueries, spec, queries, (x, c) => gen.discriminate(x, c))), t);
      }
      if (hasRelease(gen)) {
        const t = performance.now();
        score('release-alignment', releaseAlignmentScores(batched(ds, pQueries, spec, queries, (x, c) => gen.releaseAlignment(x, c))), t);
      }
      if (!hasElbo(gen) && !hasDiscriminator(gen) && !hasRelease(gen)) say(`whitebox: the ${gen.kind} generator exposes no ELBO, discriminator or released statistics; no white-box attack`);
    }
    if (families.has('control')) score('random-control', randomControlScores(queries.length, rng.derive('control').seed), performance.now());

    stage.finish();
    const ordered = ATTACKS.flatMap((a) => results.filter((r) => r.name === a.name));
    const best = ordered
      .filter((r) => r.family !== 'control')
      .reduce<AttackResult | null>((b, r) => (b === null || r.overall.auc.estimate > b.overall.auc.estimate ? r : b), null);
    const caveats = [
      `Empirical epsilon: a ${Math.round(req.confidence * 100)}% Clopper-Pearson lower bound from one trained model, threshold chosen on half of the members and non-members and evaluated on the other half (eval/privacy/metrics.ts). It can show that a model leaks more than a claim allows; a small value does not prove privacy. With ${Math.floor(members.length / 2)} images per half it cannot exceed ${Math.log(Math.floor(nBalanced / 2) / 3.7).toFixed(2)}.`,
      `Each attack's epsilon bound holds at ${Math.round(req.confidence * 100)}% on its own; the largest of ${results.length} attacks' bounds holds at >= ${Math.max(0, Math.round((1 - results.length * (1 - req.confidence)) * 100))}% (union bound).`,
      `TPR at FPR below 1/${nonMembers.length} (the non-members) is the share of members scored above every non-member; such values are marked as not resolvable.`,
      'logan-black-box is a reduced LOGAN: its local discriminator separates the synthetic samples from reference real images instead of from a locally trained GAN.',
      'Features are pixel PCA fitted on the test split only, so the extractor has not seen members or non-members.',
      `Groups with fewer than ${req.minGroup} members or non-members get no metrics.`,
    ];
    if (pv.differentialPrivacy) caveats.push('The accountant\'s epsilon is an upper bound that holds for every attack; the empirical epsilon is a lower bound from these attacks only.');
    return {
      command: 'audit',
      run: runDir,
      modelId: run.modelId,
      generator: gen.kind,
      data: { name: ds.name, fingerprint: `sha256:${ds.source.fingerprint}`, size: ds.height, channels: ds.channels },
      seeds: { audit: req.seed, split: cfg.splitSeed, training: cfg.seed },
      sizes: {
        trainSplit: train.length,
        holdoutSplit: holdout.length,
        testSplit: test.length,
        members: members.length,
        nonMembers: nonMembers.length,
        reference: needsReference ? test.length : 0,
        synthetic: synthetic ? synthetic.n : 0,
      },
      privacy: {
        differentialPrivacy: pv.differentialPrivacy,
        epsilon: pv.differentialPrivacy ? (pv.epsilon ?? null) : null,
        delta: pv.differentialPrivacy ? (pv.delta ?? null) : null,
        unit: pv.differentialPrivacy ? (pv.unit ?? null) : null,
        accountant: pv.differentialPrivacy ? (pv.accountant ?? null) : null,
        claim: pv.differentialPrivacy ? (pv.claim ?? null) : null,
      },
      settings: {
        attacks: [...req.attacks],
        bootstrap: req.bootstrap,
        confidence: req.confidence,
        delta,
        fprs: [0.01, 0.001],
        minGroup: req.minGroup,
        elboDraws: req.elboDraws,
        domiasDim: req.domiasDim,
      },
      features,
      groupsBy,
      attacks: ordered,
      dcr,
      best: best ? { attack: best.name, auc: best.overall.auc.estimate, epsilonLowerBound: best.overall.epsilon?.epsilon ?? 0 } : null,
      ...(canaries ? { canaryAudit: canaries } : {}),
      caveats,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    gen.dispose();
  }
}

/** `all` or a comma list of families → the families, validated. */
export function parseAttackFamilies(value: string): AuditFamily[] {
  const all: AuditFamily[] = ['distance', 'dcr', 'domias', 'whitebox', 'control'];
  if (value.trim() === 'all') return all;
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of parts) {
    if (!(all as string[]).includes(p)) throw new ConfigError(`--attacks ${value}: unknown attack family '${p}'; use all or a comma list of ${all.join(', ')}`);
  }
  if (parts.length === 0) throw new ConfigError(`--attacks: empty; use all or a comma list of ${all.join(', ')}`);
  return all.filter((f) => parts.includes(f));
}
