/**
 * Utility and group fairness of a classifier's predictions.
 *
 * Input: three int arrays of one length n, aligned by index: yTrue (class 0..K-1), yPred (class
 * 0..K-1) and group (code 0..G-1, e.g. sex). Counts are over the given samples; no weighting.
 *
 *   accuracy           = 1/n sum_i 1[yPred_i = yTrue_i]                                      maximize
 *   recall_c           = #{yPred = c, yTrue = c} / #{yTrue = c}      (null when class c is absent)
 *   balanced accuracy  = mean of recall_c over the classes present in yTrue                  maximize
 *                        (Brodersen et al., ICPR 2010, Sec. 2; sklearn's balanced_accuracy_score)
 *   per group g, for a positive class p:
 *     acc_g  = accuracy over the samples of g (all K classes)
 *     sel_g  = P(yPred = p | g)                                 selection rate
 *     TPR_g  = P(yPred = p | yTrue = p, g)                      null when g has no positive
 *     FPR_g  = P(yPred = p | yTrue != p, g)                     null when g has no negative
 *   worst-group accuracy        = min_g acc_g                                                 maximize
 *   demographic-parity diff.    = max_g sel_g - min_g sel_g                                   minimize; 0 = parity
 *   equalized-odds difference   = max(max_g TPR_g - min_g TPR_g, max_g FPR_g - min_g FPR_g)   minimize; 0 = parity
 *
 * Demographic parity and equalized odds are the criteria of Hardt, Price & Srebro, "Equality of
 * Opportunity in Supervised Learning", NeurIPS 2016: Def. 1, equalized odds (Yhat independent of A given
 * Y, i.e. equal TPR and FPR across groups); Def. 2, equal opportunity (the Y = 1 half, equal TPR);
 * demographic parity (Yhat independent of A) is the criterion their introduction contrasts these with.
 * The "difference" forms (largest minus smallest rate over groups)
 * are the between-groups summaries of Fairlearn's `demographic_parity_difference` and
 * `equalized_odds_difference` (Bird et al., "Fairlearn: A toolkit for assessing and improving fairness
 * in AI", Microsoft MSR-TR-2020-32, and the Fairlearn user guide, "Common fairness metrics").
 *
 * Conventions:
 * - Binary (K = 2): one positive class p, a parameter; default the rarest class of yTrue (ties: the lower
 *   label), the class a screening model exists to find.
 * - Multi-class (K > 2): one-vs-rest. Each class c in turn is the positive class; the per-group rates and
 *   the two differences are given per class, and the headline difference is the largest over classes.
 * - Groups with no sample are left out. A rate that is undefined in a group (TPR without positives, FPR
 *   without negatives) is null and that group is left out of that rate's difference; a difference over
 *   fewer than two defined groups is null. (Counting an undefined rate as 0 would invent a disparity.)
 *
 * Reference values: test/fixtures/fairness.json (hand calculation, re-checked by
 * test/fixtures/generators/fairness_oracle.py with numpy).
 */

export type Labels = ArrayLike<number>;

export interface GroupRates {
  /** Group code. */
  group: number;
  n: number;
  /** Samples of the positive class in the group, and the rest. */
  positives: number;
  negatives: number;
  accuracy: number;
  selectionRate: number;
  tpr: number | null;
  fpr: number | null;
}

export interface OneVsRest {
  /** The positive class. */
  positive: number;
  /** Per group with at least one sample, in group-code order. */
  groups: GroupRates[];
  demographicParityDifference: number | null;
  equalizedOddsDifference: number | null;
  /** max_g TPR_g - min_g TPR_g and the same for FPR (the two halves of the equalized-odds difference). */
  tprDifference: number | null;
  fprDifference: number | null;
}

export interface FairnessReport {
  n: number;
  classes: number;
  /** `binary`: K = 2 and one positive class; `one-vs-rest`: K > 2, every class in turn. */
  mode: 'binary' | 'one-vs-rest';
  accuracy: number | null;
  balancedAccuracy: number | null;
  /** recall_c per class; null for a class absent from yTrue. */
  recall: (number | null)[];
  /** Per group (all classes): n and accuracy. */
  groupAccuracy: { group: number; n: number; accuracy: number }[];
  worstGroupAccuracy: number | null;
  /** Binary: one entry (the positive class); one-vs-rest: one entry per class. */
  perPositive: OneVsRest[];
  /** Binary: the positive class's value; one-vs-rest: the largest over classes (null if all are null). */
  demographicParityDifference: number | null;
  equalizedOddsDifference: number | null;
  /**
   * confusion[g][t][p]: test samples of group g with true class t predicted as p (G x K x K counts, all
   * groups, empty ones as zeros). Aggregates only; every figure above can be recomputed from them, and
   * eval/fairness/bootstrap.ts resamples them for intervals.
   */
  confusion: number[][][];
}

/** confusion[g][t][p] = #{i : group_i = g, yTrue_i = t, yPred_i = p}. */
export function groupConfusion(yTrue: Labels, yPred: Labels, group: Labels, opts: { classes: number; groups: number }): number[][][] {
  checkInputs(yTrue, yPred, group);
  const K = opts.classes;
  const out = Array.from({ length: opts.groups }, () => Array.from({ length: K }, () => new Array<number>(K).fill(0)));
  for (let i = 0; i < yTrue.length; i++) out[group[i]!]![yTrue[i]!]![yPred[i]!]!++;
  return out;
}

function checkInputs(yTrue: Labels, yPred: Labels, group?: Labels): void {
  if (yTrue.length !== yPred.length || (group && group.length !== yTrue.length)) {
    throw new Error(`internal error: yTrue, yPred${group ? ', group' : ''} lengths differ (${yTrue.length}, ${yPred.length}${group ? `, ${group.length}` : ''})`);
  }
}

export function accuracy(yTrue: Labels, yPred: Labels): number | null {
  checkInputs(yTrue, yPred);
  if (yTrue.length === 0) return null;
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return hit / yTrue.length;
}

/** recall_c for c = 0..classes-1; null where class c does not occur in yTrue. */
export function classRecall(yTrue: Labels, yPred: Labels, classes: number): (number | null)[] {
  checkInputs(yTrue, yPred);
  const hit = new Array<number>(classes).fill(0);
  const tot = new Array<number>(classes).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    tot[yTrue[i]!]!++;
    if (yPred[i] === yTrue[i]) hit[yTrue[i]!]!++;
  }
  return tot.map((t, c) => (t > 0 ? hit[c]! / t : null));
}

/** Mean recall over the classes present in yTrue; null when yTrue is empty. */
export function balancedAccuracy(yTrue: Labels, yPred: Labels, classes: number): number | null {
  const present = classRecall(yTrue, yPred, classes).filter((r): r is number => r !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}

/** The class with the fewest (but > 0) samples in yTrue; ties go to the lower label. */
export function rarestClass(yTrue: Labels, classes: number): number {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < yTrue.length; i++) counts[yTrue[i]!]!++;
  let best = -1;
  for (let c = 0; c < classes; c++) if (counts[c]! > 0 && (best < 0 || counts[c]! < counts[best]!)) best = c;
  if (best < 0) throw new Error('internal error: rarestClass of an empty label array');
  return best;
}

/** Accuracy, selection rate, TPR and FPR per group for positive class `positive`. */
export function groupRates(yTrue: Labels, yPred: Labels, group: Labels, opts: { groups: number; positive: number }): GroupRates[] {
  checkInputs(yTrue, yPred, group);
  const G = opts.groups;
  const p = opts.positive;
  const n = new Array<number>(G).fill(0);
  const hit = new Array<number>(G).fill(0);
  const sel = new Array<number>(G).fill(0);
  const pos = new Array<number>(G).fill(0);
  const tp = new Array<number>(G).fill(0);
  const fp = new Array<number>(G).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const g = group[i]!;
    n[g]!++;
    if (yTrue[i] === yPred[i]) hit[g]!++;
    const predPos = yPred[i] === p;
    if (predPos) sel[g]!++;
    if (yTrue[i] === p) {
      pos[g]!++;
      if (predPos) tp[g]!++;
    } else if (predPos) fp[g]!++;
  }
  const out: GroupRates[] = [];
  for (let g = 0; g < G; g++) {
    if (n[g] === 0) continue;
    const neg = n[g]! - pos[g]!;
    out.push({
      group: g,
      n: n[g]!,
      positives: pos[g]!,
      negatives: neg,
      accuracy: hit[g]! / n[g]!,
      selectionRate: sel[g]! / n[g]!,
      tpr: pos[g]! > 0 ? tp[g]! / pos[g]! : null,
      fpr: neg > 0 ? fp[g]! / neg : null,
    });
  }
  return out;
}

/** max - min over the defined values; null with fewer than two. */
function spread(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length >= 2 ? Math.max(...v) - Math.min(...v) : null;
}

function maxDefined(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length ? Math.max(...v) : null;
}

/** max_g sel_g - min_g sel_g over groups with samples. */
export function demographicParityDifference(rates: readonly GroupRates[]): number | null {
  return spread(rates.map((r) => r.selectionRate));
}

/** max(TPR spread, FPR spread), each over the groups where that rate is defined. */
export function equalizedOddsDifference(rates: readonly GroupRates[]): number | null {
  return maxDefined([spread(rates.map((r) => r.tpr)), spread(rates.map((r) => r.fpr))]);
}

function oneVsRest(yTrue: Labels, yPred: Labels, group: Labels, groups: number, positive: number): OneVsRest {
  const rates = groupRates(yTrue, yPred, group, { groups, positive });
  return {
    positive,
    groups: rates,
    demographicParityDifference: demographicParityDifference(rates),
    equalizedOddsDifference: equalizedOddsDifference(rates),
    tprDifference: spread(rates.map((r) => r.tpr)),
    fprDifference: spread(rates.map((r) => r.fpr)),
  };
}

/**
 * Everything above in one report. `positive` applies to the binary case only (default: the rarest class
 * of yTrue); pass it explicitly to compare several classifiers on one footing.
 */
export function fairnessReport(
  yTrue: Labels,
  yPred: Labels,
  group: Labels,
  opts: { classes: number; groups: number; positive?: number },
): FairnessReport {
  checkInputs(yTrue, yPred, group);
  const K = opts.classes;
  const mode = K === 2 ? 'binary' : 'one-vs-rest';
  if (opts.positive !== undefined && !(Number.isInteger(opts.positive) && opts.positive >= 0 && opts.positive < K)) {
    throw new Error(`internal error: positive class ${opts.positive} is not one of 0..${K - 1}`);
  }
  let perPositive: OneVsRest[] = [];
  if (yTrue.length > 0) {
    const positives = mode === 'binary' ? [opts.positive ?? rarestClass(yTrue, K)] : Array.from({ length: K }, (_, c) => c);
    perPositive = positives.map((p) => oneVsRest(yTrue, yPred, group, opts.groups, p));
  }
  const groupAccuracy = (perPositive[0]?.groups ?? []).map((r) => ({ group: r.group, n: r.n, accuracy: r.accuracy }));
  return {
    n: yTrue.length,
    classes: K,
    mode,
    accuracy: accuracy(yTrue, yPred),
    balancedAccuracy: balancedAccuracy(yTrue, yPred, K),
    recall: classRecall(yTrue, yPred, K),
    groupAccuracy,
    worstGroupAccuracy: groupAccuracy.length ? Math.min(...groupAccuracy.map((g) => g.accuracy)) : null,
    perPositive,
    demographicParityDifference: maxDefined(perPositive.map((o) => o.demographicParityDifference)),
    equalizedOddsDifference: maxDefined(perPositive.map((o) => o.equalizedOddsDifference)),
    confusion: groupConfusion(yTrue, yPred, group, { classes: K, groups: opts.groups }),
  };
}
