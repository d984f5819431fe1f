/**
 * Adaptive discriminator step frequency (Bie, Kamath & Zhang, "Private GANs, Revisited", TMLR 2023, the
 * "adaptive discriminator step frequency" of their Sec. on restoring parity, and the schedule in their released
 * code): under DP-SGD the discriminator falls behind the generator, so the number of D steps per G step is
 * raised whenever D stops telling the fakes apart.
 *
 * After each G step the schedule folds a ∈ [0, 1], the share of fakes D rejected (scored below 0) over the
 * D steps of the cycle that just ended, into an exponential moving average
 *   a_ema ← a                          at the first G step,
 *   a_ema ← β·a_ema + (1 − β)·a        after,
 * and moves to the next rung of the ladder 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 when
 *   a_ema ≤ threshold,  at least `grace` G steps have run since the last move,  and  next rung ≤ max.
 * It never moves down. The cap `max` is ours, not Bie et al.'s: on our short runs the uncapped ladder
 * reached 50–100 D steps per G step within ~10 epochs and left G ~100 updates (eval/results/dpgan.md).
 * Bie et al. measure D's accuracy on fakes, which reads no private data, so the schedule is
 * post-processing and costs no privacy; they use threshold 0.6, β = 0.99 and a grace of 200
 * G steps for runs of 10⁵ D steps. Our runs are ~10³–10⁴ D steps, so the defaults (models/dpgan) scale
 * the grace and the averaging window down.
 */

/** The rungs, D steps per G step (the ladder of Bie et al.'s released schedule). */
export const D_STEP_LADDER: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export interface DStepSchedule {
  /** D steps per G step now. */
  dSteps: number;
  /** EMA of the fake-rejection share; NaN before the first G step. */
  ema: number;
  /** G steps since the last move (or since the start). */
  sinceMove: number;
}

export interface DStepScheduleOptions {
  threshold: number;
  beta: number;
  grace: number;
  /** Highest D steps per G step the schedule may move to (a start above it stays where it is). */
  max: number;
}

/** The schedule at the start: `dSteps` as given (it need not be a rung; the next move goes to the next larger rung). */
export function initialSchedule(dSteps: number): DStepSchedule {
  return { dSteps, ema: Number.NaN, sinceMove: 0 };
}

/** The next rung above `dSteps` (itself when it is at or above the top). */
export function nextRung(dSteps: number): number {
  return D_STEP_LADDER.find((r) => r > dSteps) ?? dSteps;
}

/** The schedule after a G step whose cycle's D rejected `share` of the fakes (formula in the header). Pure. */
export function afterGeneratorStep(s: DStepSchedule, share: number, o: DStepScheduleOptions): DStepSchedule {
  const ema = Number.isNaN(s.ema) ? share : o.beta * s.ema + (1 - o.beta) * share;
  const sinceMove = s.sinceMove + 1;
  const next = nextRung(s.dSteps);
  if (sinceMove >= o.grace && ema <= o.threshold && next !== s.dSteps && next <= o.max) {
    return { dSteps: next, ema, sinceMove: 0 };
  }
  return { dSteps: s.dSteps, ema, sinceMove };
}
