/**
 * medsynth as a library (package.json `main`/`types`: dist/src/index.js). The stable pieces a program needs
 * to load data, split it, fit a registered generator, account for privacy and measure the result; the
 * commands (`medsynth train`, `evaluate`, …) are built from these. Run folders and the command-level
 * functions are not exported yet: their records are being typed (#21), and a public API should not freeze
 * them first.
 *
 * Start the tfjs backend with `initBackend` before fitting a generator or computing image features.
 */

// Errors and seeds.
export { UserError, ConfigError, DatasetError, BackendError, PrivacyAssumptionError } from './core/errors.js';
export { Rng, deriveSeed } from './core/rng.js';

// Backend.
export { initBackend, resolveBackendChoice, BACKEND_CHOICES, type BackendChoice, type BackendInfo } from './backend/index.js';

// Data.
export { imageLength, subset, type ImageDataset, type Attribute, type SplitName } from '../datasets/dataset.js';
export { loadDataset } from '../datasets/load.js';
export { assignSplits, splitIndices, splitsCsv, DEFAULT_SPLIT_FRACTIONS, DEFAULT_SPLIT_SEED, type SplitAssignment, type SplitOptions } from '../datasets/splits.js';
export { generatePhantom, writePhantom } from '../datasets/phantom/index.js';

// Generators (importing the registry registers the cVAE, the DP-GAN and DP-MERF).
export { generatorFactory, generatorKinds } from '../models/registry.js';
export {
  registerGenerator,
  encodeConditions,
  conditionWidth,
  type Generator,
  type GeneratorFactory,
  type ConditionSpec,
  type TrainBatch,
} from '../models/generator.js';

// Differential privacy: accountants, noise calibration, the per-run ledger.
export { accountant, ACCOUNTANTS, type Accountant, type AccountantName, type AccountantResult } from './privacy/accountants/index.js';
export { calibrateNoise, epsilonFor, type PlannedTraining } from './privacy/calibrate.js';
export { PrivacyLedger } from './privacy/ledger.js';

// Evaluation: features, fidelity, utility and fairness, diversity, membership-attack metrics.
export { computeFeatures, EXTRACTORS, type ExtractorSpec } from '../eval/features/index.js';
export { fidelity, FIDELITY_METRICS, type FidelityResult, type FidelityOptions } from '../eval/fidelity/index.js';
export { utilityTable, type UtilityInput, type UtilityResult, type LabelledImages } from '../eval/utility/index.js';
export { fairnessReport, type FairnessReport } from '../eval/fairness/metrics.js';
export { diversityIndices } from '../eval/diversity/indices.js';
export { rocSummary, empiricalEpsilon, type RocSummary } from '../eval/privacy/metrics.js';
