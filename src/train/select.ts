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
 * DP-MERF's fitting length. The release's signal-to-noise ratio grows with N·ε (a cell's noisy mean
 * embedding has noise ∝ σ / n_c and σ ∝ 1/ε); at low N·ε, G fits the noise of the rare cells as texture
 * after ~500 steps (seen on the phantom: 730 patients, ε 8), so it stops at 400; at high N·ε it takes 1000.
 */
export function fittingEpochs(units: number, epsilon: number | null): number {
  return epsilon !== null && units * epsilon >= 20000 ? 10 : 4;
}

/**
 * The rule table. DP-MERF (one Gaussian release, then fitting for free) is the only private generator that
 * produced class-distinct samples at every size and budget measured (300-5000 units, ε 1-10); DP-SGD
 * generators spend their budget step by step and, at these N, learned nothing (cVAE) or needed ε = 10 and
 * N ≈ 4700 to approach it (DP-GAN). 1000 fitting steps (10 epochs of 100) reach the plateau of its loss
 * on the phantom and PneumoniaMNIST; fitting longer costs time, not privacy.
 */
export function selectPrivateGenerator(inp: SelectionInput): Selection {
  const eps = inp.epsilon === null ? 'a fixed noise multiplier' : `epsilon ${inp.epsilon}`;
  return {
    model: 'dpmerf',
    generator: {},
    epochs: fittingEpochs(inp.units, inp.epsilon),
    reason: `dpmerf (DP-MERF: one private release of class x group kernel mean embeddings, then fitting at no further privacy cost) for ${inp.units} privacy units at ${eps}: the best measured private generator for 300-5000 units and epsilon 1-10`,
    evidence: EVIDENCE,
  };
}
