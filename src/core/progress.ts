/**
 * Progress of a job run in stages (evaluate: features → fidelity → utility → diversity → fairness), as
 * fractions with an ETA, for a callback that prints it.
 *
 * Each stage has a weight: its expected cost in any common unit (evaluate uses classifier training steps).
 * The job's fraction done is
 *   fraction = (Σ weights of finished stages + weight(current) · stageFraction) / Σ all weights
 * and never decreases: stages only move forward and a stage's fraction is clamped to its previous value.
 * The ETA extrapolates the time so far:  eta = elapsed · (1 − fraction) / fraction  (null at fraction 0),
 * so it is as good as the weights; it corrects itself as stages finish.
 */

export interface StageProgress {
  /** The stage's name (`features`, `utility`, …). */
  stage: string;
  /** 1-based position of the stage, and the number of stages. */
  index: number;
  stages: number;
  /** Share of this stage done, in [0, 1]. */
  stageFraction: number;
  /** Share of the whole job done, in [0, 1]; non-decreasing from one call to the next. */
  fraction: number;
  /** What the stage does (when it starts) or where it is ("classifier 5 of 12"). */
  message: string;
  /** True on the first call of a stage. */
  started: boolean;
  elapsedSeconds: number;
  /** Seconds left for the whole job, extrapolated; null before anything is done. */
  etaSeconds: number | null;
}

export type ProgressCallback = (p: StageProgress) => void;

export class StageTracker {
  private readonly total: number;
  private readonly t0: number;
  private current = -1;
  private stageFraction = 0;
  private last = 0;

  /** `now` in milliseconds (performance.now by default; tests pass a fake clock). */
  constructor(
    private readonly stages: readonly { name: string; weight: number }[],
    private readonly onProgress: ProgressCallback | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.total = stages.reduce((a, s) => a + Math.max(0, s.weight), 0);
    this.t0 = now();
  }

  /** Enters `stage` (finishing those before it) and reports it with what it does. */
  start(stage: string, message: string): void {
    const k = this.stages.findIndex((s) => s.name === stage);
    if (k < 0) throw new Error(`progress: unknown stage '${stage}'`);
    if (k < this.current) throw new Error(`progress: stage '${stage}' after '${this.stages[this.current]!.name}'`);
    if (k > this.current) {
      this.current = k;
      this.stageFraction = 0;
    }
    this.emit(message, true);
  }

  /** Reports the current stage at `stageFraction` (clamped to [previous, 1]). */
  update(stageFraction: number, message = ''): void {
    if (this.current < 0 || !this.onProgress) return;
    this.stageFraction = Math.min(1, Math.max(this.stageFraction, Number.isFinite(stageFraction) ? stageFraction : 0));
    this.emit(message, false);
  }

  /** The whole job is done: reports fraction 1 in the last stage. */
  finish(message = 'done'): void {
    this.current = this.stages.length - 1;
    this.stageFraction = 1;
    this.emit(message, false);
  }

  private emit(message: string, started: boolean): void {
    if (!this.onProgress) return;
    const before = this.stages.slice(0, this.current).reduce((a, s) => a + Math.max(0, s.weight), 0);
    const w = Math.max(0, this.stages[this.current]!.weight);
    const raw = this.total > 0 ? (before + w * this.stageFraction) / this.total : this.stageFraction;
    this.last = Math.min(1, Math.max(this.last, raw));
    const elapsedSeconds = (this.now() - this.t0) / 1000;
    this.onProgress({
      stage: this.stages[this.current]!.name,
      index: this.current + 1,
      stages: this.stages.length,
      stageFraction: this.stageFraction,
      fraction: this.last,
      message,
      started,
      elapsedSeconds,
      etaSeconds: this.last > 0 ? (elapsedSeconds * (1 - this.last)) / this.last : null,
    });
  }
}
