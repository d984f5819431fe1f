/**
 * `medsynth train`'s options → the run request (`RunConfig`, run.ts), in one place: which generator when
 * none is named, which options go into the generator config, that the DP-GAN trains with DP by default
 * (at ε = DPGAN_DEFAULT_EPSILON unless a budget is given), and which option combinations mean nothing.
 * The CLI parses flags into `TrainOptions` and prints the returned notices; the policy lives here, so the
 * library and the command line build the same request from the same options. The request is resolved
 * against the data by `trainRun` (the DP plan, the `--model auto` choice) and recorded as run.json
 * (records.ts RunRecord).
 */
import { randomInt } from 'node:crypto';
import { parseBinsOption } from '../../datasets/attributes.js';
import { ConfigError } from '../core/errors.js';
import type { AccountantName } from '../privacy/accountants/index.js';
import type { CanaryKind } from '../privacy/canary.js';
import type { PrivacyUnit } from '../privacy/poisson.js';
import { AUTO_MODEL, type RunConfig } from './run.js';

/** The budget `--model dpgan` trains to when the user gives none (the reference setting). */
export const DPGAN_DEFAULT_EPSILON = 10;

/** What `medsynth train` was given for a new run, parsed but not yet interpreted. */
export interface TrainOptions {
  model?: string;
  data: string;
  size: number;
  channels?: 1 | 3;
  condition: string[];
  epochs: number;
  /** True when `epochs` is the CLI's default (a `--model auto` selection may then set it). */
  epochsDefaulted?: boolean;
  batchSize: number;
  lr?: number;
  latent?: number;
  beta?: number;
  warmupSteps?: number;
  likelihood?: string;
  seed: number;
  splitSeed: number;
  /** `--bins` as given, e.g. 'age=30,45,60'. */
  bins?: string;
  attributes?: string[];
  /** --dp / --no-dp; absent: the model's default (DP for the DP-GAN only). */
  dp?: boolean;
  dSteps?: number;
  modelConfig?: Record<string, unknown>;
  initFrom?: string;
  targetEpsilon?: number;
  delta?: number;
  maxGradNorm: number;
  noiseMultiplier?: number;
  /** Absent: the mechanism's own (run.ts DpRequest). */
  accountant?: AccountantName;
  privacyUnit?: PrivacyUnit;
  auditCanaries?: number;
  canaryKind: CanaryKind;
  canarySeed?: number;
}

/** The request, and what the user should be told about defaults that were applied (one line each). */
export function normaliseTrainOptions(opts: TrainOptions): { request: RunConfig; notices: string[] } {
  const notices: string[] = [];
  // No --model: with --dp the trainer picks the private generator (src/train/select.ts); without, the cVAE.
  const model = opts.model ?? (opts.dp ? AUTO_MODEL : 'cvae');
  const generator: Record<string, unknown> = { ...(opts.modelConfig ?? {}) };
  if (opts.lr !== undefined) generator.lr = opts.lr;
  if (opts.latent !== undefined) generator.latent = opts.latent;
  if (opts.beta !== undefined) generator.beta = opts.beta;
  if (opts.warmupSteps !== undefined) generator.warmupSteps = opts.warmupSteps;
  if (opts.likelihood !== undefined) generator.likelihood = opts.likelihood;
  const condition = opts.condition.includes('label') ? opts.condition : ['label', ...opts.condition];
  const dpOptions = ['targetEpsilon', 'delta', 'noiseMultiplier', 'privacyUnit'] as const;
  // DP is the default for the DP-GAN (with a budget of epsilon 10 unless told otherwise).
  const dp = opts.dp ?? model === 'dpgan';
  let targetEpsilon = opts.targetEpsilon;
  if (model === 'dpgan') {
    if (opts.dSteps !== undefined) generator.dSteps = opts.dSteps;
    if (dp && targetEpsilon === undefined && opts.noiseMultiplier === undefined) {
      targetEpsilon = DPGAN_DEFAULT_EPSILON;
      notices.push(`privacy budget: epsilon ${DPGAN_DEFAULT_EPSILON} (the dpgan default; set --target-epsilon, or --no-dp for a non-private baseline)`);
    }
    if (!dp) notices.push('warning: --no-dp: this DP-GAN is NOT differentially private; its samples may reveal training patients');
  } else if (opts.dSteps !== undefined) {
    throw new ConfigError('--d-steps only applies to --model dpgan');
  }
  if (opts.auditCanaries === undefined && opts.canarySeed !== undefined) throw new ConfigError('--canary-seed only applies with --audit-canaries M');
  if (!dp) {
    if (opts.auditCanaries !== undefined) throw new ConfigError('--audit-canaries audits a DP-SGD run: add --dp and a budget (--target-epsilon)');
    const stray = dpOptions.find((k) => opts[k] !== undefined);
    if (stray) throw new ConfigError(`--${stray.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} only applies with --dp; add --dp to train with differential privacy`);
  }
  const request: RunConfig = {
    model,
    data: opts.data,
    size: opts.size,
    channels: opts.channels,
    bins: opts.bins ? parseBinsOption(opts.bins) : undefined,
    attributes: opts.attributes,
    condition,
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    splitSeed: opts.splitSeed,
    generator,
    ...(opts.initFrom ? { initFrom: opts.initFrom } : {}),
    ...(opts.auditCanaries !== undefined
      ? { auditCanaries: { canaries: opts.auditCanaries, kind: opts.canaryKind, seed: opts.canarySeed ?? randomInt(0, 2 ** 31) } }
      : {}),
    ...(dp
      ? {
          dp: {
            targetEpsilon,
            delta: opts.delta,
            clipNorm: opts.maxGradNorm,
            noiseMultiplier: opts.noiseMultiplier,
            ...(opts.accountant ? { accountant: opts.accountant } : {}),
            unit: opts.privacyUnit,
          },
        }
      : {}),
    ...(opts.epochsDefaulted ? { epochsDefaulted: true } : {}),
  };
  return { request, notices };
}
