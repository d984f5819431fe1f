/**
 * One attack's scores → the audit's numbers: AUC, TPR at low FPR and maximum advantage with bootstrap
 * intervals, and the empirical epsilon lower bound (all defined in ./metrics.ts), overall and per group
 * of a categorical variable (leakage can differ between groups). Members = train-split images,
 * non-members = holdout-split images; higher score = more likely a member.
 */
import { assert } from '../../src/core/errors.js';
import { bootstrapRoc, DEFAULT_CONFIDENCE, DEFAULT_FPRS, empiricalEpsilon, type EmpiricalEpsilon, type Interval } from './metrics.js';

export interface SummaryOptions {
  /** Bootstrap replicates. */
  replicates: number;
  seed: number;
  /** delta of the epsilon lower bound. */
  delta: number;
  confidence?: number;
  fprs?: readonly number[];
}

export interface AttackMetrics {
  members: number;
  nonMembers: number;
  auc: Interval;
  tprAtFpr: { fpr: number; estimate: number; lower: number; upper: number; resolvable: boolean }[];
  advantage: Interval;
  /**
   * null when either side has fewer than 2 images. Without the chosen threshold: it is one image's
   * score, and reports carry no per-image values (the seed reproduces it).
   */
  epsilon: Omit<EmpiricalEpsilon, 'threshold'> | null;
  /** 1 / non-members: the smallest non-zero FPR these data can show. */
  fprResolution: number;
}

export function attackMetrics(members: ArrayLike<number>, nonMembers: ArrayLike<number>, opts: SummaryOptions): AttackMetrics {
  const fprs = opts.fprs ?? DEFAULT_FPRS;
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const boot = bootstrapRoc(members, nonMembers, { replicates: opts.replicates, seed: opts.seed, confidence, fprs });
  let epsilon: AttackMetrics['epsilon'] = null;
  if (members.length >= 2 && nonMembers.length >= 2) {
    const { threshold: _threshold, ...rest } = empiricalEpsilon(members, nonMembers, { delta: opts.delta, seed: opts.seed, confidence });
    epsilon = rest;
  }
  return {
    members: members.length,
    nonMembers: nonMembers.length,
    auc: boot.auc,
    tprAtFpr: boot.tprAtFpr.map((t) => ({ ...t, resolvable: t.fpr * nonMembers.length >= 1 })),
    advantage: boot.advantage,
    epsilon,
    fprResolution: 1 / nonMembers.length,
  };
}

export interface GroupMetrics {
  variable: string;
  value: string;
  members: number;
  nonMembers: number;
  /** null when the group has fewer than `minPerSide` members or non-members. */
  metrics: AttackMetrics | null;
}

/**
 * Metrics per value of one categorical variable: `memberCodes[i]` is the value (index into `values`) of
 * member i, likewise for non-members. Groups below `minPerSide` on either side get no metrics.
 */
export function groupMetrics(
  members: ArrayLike<number>,
  nonMembers: ArrayLike<number>,
  memberCodes: ArrayLike<number>,
  nonMemberCodes: ArrayLike<number>,
  variable: { name: string; values: readonly string[] },
  opts: SummaryOptions & { minPerSide: number },
): GroupMetrics[] {
  assert(members.length === memberCodes.length && nonMembers.length === nonMemberCodes.length, () => 'groupMetrics: one code per score');
  return variable.values.map((value, g) => {
    const m: number[] = [];
    const u: number[] = [];
    for (let i = 0; i < members.length; i++) if (memberCodes[i] === g) m.push(members[i]!);
    for (let i = 0; i < nonMembers.length; i++) if (nonMemberCodes[i] === g) u.push(nonMembers[i]!);
    const enough = m.length >= opts.minPerSide && u.length >= opts.minPerSide;
    return {
      variable: variable.name,
      value,
      members: m.length,
      nonMembers: u.length,
      metrics: enough ? attackMetrics(m, u, { ...opts, seed: opts.seed }) : null,
    };
  }).filter((g) => g.members + g.nonMembers > 0);
}
