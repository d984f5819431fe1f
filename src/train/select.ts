/**
 * `medsynth train --dp` without `--model`: the private generator and settings that the measured results
 * (eval/results/private-generators.md) found best for the data's size and the target ε. The choice is a
 * function of public or user-given quantities only — the number of privacy units N (already disclosed by
 * the DP plan's δ and sampling), the budget ε, the image size and channels — never of the images, so it
 * spends no privacy. The run records the rule that fired and its evidence in run.json and the model card.
 */
export interface SelectionInput {
  /** N: privacy units in the train split. */
  units: number;
  /** Target ε (null when the user fixed σ instead). */
  epsilon: number | null;
  /** Condition cells (class × group values of the condition vocabulary, which the run takes as given). */
  cells: number;
  size: number;
  channels: 1 | 3;
}

export interface Selection {
  model: string;
  /** Generator options (the user's --model-config wins over them). */
  generator: Record<string, unknown>;
  /** Epochs, unless the user gave --epochs. */
  epochs: number;
  /** One line: why this generator, for this data and budget. */
  reason: string;
  /** Where the measurement behind the rule is. */
  evidence: string;
}

const EVIDENCE = 'eval/results/private-generators.md';

/**
 * DP-MERF's fitting length in epochs of 100 steps, from the expected privacy units per condition cell,
 * N / cells (both public: N is disclosed by the DP plan, the cells by the condition vocabulary). A cell's
 * released mean embedding carries noise ∝ σ / n_c; the longer G fits, the more of that noise it paints
 * into the small cells, and the more it exaggerates what separates them (the phantom's rare lesions become
 * large blotches, which a classifier trained on them learns instead of the real ones). Stopping earlier
 * trades plain accuracy and conditional accuracy for balanced accuracy (the rare classes' recall).
 * Measured (eval/results/private-generators.md, 2026-12-05, fifth session; three training seeds each, the
 * same seeds at each length):
 *   - phantom, 711 patients / 4 cells (178 per cell), ε 8: TSTR balanced accuracy 66.8 / 75.9 / 70.4 /
 *     69.1% at 100 / 200 / 300 / 400 steps (200 above 400 in every seed);
 *   - HAM10000 subset, 2100 images / 21 cells (100 per cell), ε 8: 26.4% at 200 steps, 23.3% at 400;
 *   - PneumoniaMNIST, 4708 images / 2 cells (2354 per cell): accuracy at ε 1 79.1% (200) and 80.1% (400);
 *     at ε 10 78.5 / 79.9 / 78.4% at 200 / 400 / 1000 (400 above 1000 in every seed).
 * The threshold lies between the measured points (178 and 2354 units per cell); it is not tuned finer.
 */
export function fittingEpochs(units: number, cells: number): number {
  return units / Math.max(cells, 1) < 1000 ? 2 : 4;
}

/**
 * The rule. Measured (eval/results/private-generators.md, three training seeds each):
 *   - phantom, 711 patients, ε 8: DP-MERF synthetic-only balanced accuracy 76% at 200 fitting steps (real
 *     94%), 49% distinct nearest records, full mode coverage; the DP cVAE it replaces gave 48% balanced
 *     accuracy and 7 distinct nearest records of 303 samples (issue #18);
 *   - PneumoniaMNIST, 4708 images: DP-MERF TSTR 80.1% at ε 1 and 79.9% at ε 10 against TRTR 83.9% in the
 *     same runs. At ε 10, in the same benchmark and session (2026-12-06, ninth session): DP-MERF 80.1%,
 *     the DP-GAN 80.6% (three training seeds each; TRTR 84.2%). The DP-GAN's samples follow their class
 *     better (conditional accuracy 96% against 86%), but cover 0.67 of the real modes against 0.95, at
 *     about 3x the training time; at equal accuracy the more diverse, cheaper generator is chosen;
 *   - the DP-GAN at the demo's point (phantom, 711 patients, ε 8; 2026-12-06, the same benchmark): TSTR
 *     balanced accuracy 51% over three training seeds (660 D steps; 50% with 3300): it does
 *     not learn the condition there.
 * DP-SGD generators spend their budget step by step and, at these N, learned nothing (cVAE) or needed
 * ε = 10 and N ≈ 4700 to match it (DP-GAN).
 * Below SMALL_UNITS the reason carries a caution: on the phantom with 301 patients (57 diseased training
 * images) at ε 8, DP-MERF did not learn the rare class (balanced accuracy 56%, against 86% without noise;
 * 2026-12-06, ninth session), and no other private generator here learned at 711.
 */
/** The smallest number of privacy units at which the chosen generator was measured to learn a rare class (the demo's 711 patients). */
export const SMALL_UNITS = 700;

export function selectPrivateGenerator(inp: SelectionInput): Selection {
  const eps = inp.epsilon === null ? 'a fixed noise multiplier' : `epsilon ${inp.epsilon}`;
  const epochs = fittingEpochs(inp.units, inp.cells);
  const perCell = inp.units / Math.max(inp.cells, 1);
  return {
    model: 'dpmerf',
    generator: {},
    epochs,
    reason: `dpmerf (DP-MERF: one private release of class x group kernel mean embeddings, then fitting at no further privacy cost) for ${inp.units} privacy units at ${eps}: of the private generators measured at 300-4700 units and epsilon 1-10, the only one that learned from 700 units, and the cheapest where the DP-GAN matched it; ${epochs} fitting epochs, as ${perCell.toFixed(0)} units per condition cell is ${perCell < 1000 ? 'under' : 'at least'} 1000${inp.units < SMALL_UNITS ? `; caution: below ${SMALL_UNITS} units no private generator was measured to learn a rare class (at 301 patients and epsilon 8 DP-MERF did not), so read evaluate's per-class recall before using the samples` : ''}`,
    evidence: EVIDENCE,
  };
}
