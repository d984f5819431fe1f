/**
 * Configuration of the built-in phantom dataset (see `datasets/phantom/README.md`).
 *
 * Every field is optional; a missing field takes the default listed below. The resolved config is stored in
 * `phantom.json` next to the images, so a folder can always be regenerated from (seed, n, size, config).
 *
 * Fields
 * - `diseaseRate` (0.10): overall probability that a patient has the disease. All images of a patient share
 *   the patient's label, and the number of images per patient does not depend on the label, so the expected
 *   fraction of diseased images is the same number.
 * - `femaleRate` (0.25): probability that a patient is female.
 * - `diseaseRateRatioMinority` (0.5): P(disease | minority sex) / P(disease | majority sex). The minority sex
 *   is female when `femaleRate` <= 0.5, otherwise male. The two group rates are chosen so that the overall
 *   rate stays `diseaseRate`:  with minority share m and ratio r,
 *       p_major = diseaseRate / (1 - m + r·m),   p_minor = r · p_major.
 *   A config for which p_major or p_minor would exceed 1 is rejected.
 * - `ageRange` ([18, 90]): patient ages are integers drawn uniformly from this closed range (years).
 * - `imagesPerPatient` ([1, 3]): each patient has a uniform integer number of images in this closed range
 *   (the last patient is cut short so that exactly n images are produced).
 * - `sites` (site_a / site_b / site_c with weights 0.5 / 0.3 / 0.2): acquisition sites. `weight` is the
 *   relative frequency of the site among patients; `noise` is the standard deviation of the additive
 *   Gaussian detector noise (intensity units, image range [0, 1]); `gamma` is the display curve exponent
 *   applied last (v -> v^gamma; < 1 brightens, > 1 darkens the mid-tones).
 * - `lesionCount` ([1, 3]): number of lesions drawn in each diseased patient (uniform integer, closed range).
 * - `lesionRadius` ([0.05, 0.085]): lesion radius as a fraction of the image side (uniform in the range), so
 *   lesions scale with the image size.
 * - `lesionContrast` (0.35): peak added intensity of a lesion (before the site gamma). Larger is easier.
 */
import { z } from 'zod';
import { ConfigError, oneLine } from '../../src/core/errors.js';

export interface PhantomSite {
  /** Site name as written to the `site` column: letters, digits, `_`, `-`, `.`. */
  name: string;
  /** Relative frequency among patients (> 0). */
  weight: number;
  /** Standard deviation of additive Gaussian detector noise, in [0, 0.5]. */
  noise: number;
  /** Display gamma exponent, in [0.25, 4]. */
  gamma: number;
}

/** A resolved phantom config: every field present. */
export interface PhantomConfig {
  diseaseRate: number;
  femaleRate: number;
  diseaseRateRatioMinority: number;
  ageRange: [number, number];
  imagesPerPatient: [number, number];
  sites: PhantomSite[];
  lesionCount: [number, number];
  lesionRadius: [number, number];
  lesionContrast: number;
}

export const DEFAULT_SITES: readonly PhantomSite[] = [
  { name: 'site_a', weight: 0.5, noise: 0.012, gamma: 1.0 },
  { name: 'site_b', weight: 0.3, noise: 0.025, gamma: 0.8 },
  { name: 'site_c', weight: 0.2, noise: 0.035, gamma: 1.25 },
];

const prob = z.number().min(0).max(1);
const intPair = (lo: number, hi: number) => z.tuple([z.number().int().min(lo).max(hi), z.number().int().min(lo).max(hi)]);

const SiteSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'site names use 1-40 letters, digits, "_", "-" or "."'),
    weight: z.number().gt(0).max(1e6),
    noise: z.number().min(0).max(0.5),
    gamma: z.number().min(0.25).max(4),
  })
  .strict();

/** Ordered [lo, hi] pairs must have lo <= hi. */
function checkPair(ctx: z.RefinementCtx, field: string, pair: readonly [number, number]): void {
  if (pair[0] > pair[1]) {
    ctx.addIssue({ code: 'custom', path: [field], message: `must be [lo, hi] with lo <= hi, got [${pair[0]}, ${pair[1]}]` });
  }
}

export const PhantomConfigSchema = z
  .object({
    diseaseRate: prob.default(0.1),
    femaleRate: prob.default(0.25),
    diseaseRateRatioMinority: z.number().min(0).max(1000).default(0.5),
    ageRange: intPair(0, 120).default([18, 90]),
    imagesPerPatient: intPair(1, 100).default([1, 3]),
    sites: z
      .array(SiteSchema)
      .min(1)
      .max(64)
      .default(() => DEFAULT_SITES.map((s) => ({ ...s }))),
    lesionCount: intPair(1, 10).default([1, 3]),
    lesionRadius: z.tuple([z.number().min(0.01).max(0.2), z.number().min(0.01).max(0.2)]).default([0.05, 0.085]),
    lesionContrast: z.number().gt(0).max(1).default(0.35),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    checkPair(ctx, 'ageRange', cfg.ageRange);
    checkPair(ctx, 'imagesPerPatient', cfg.imagesPerPatient);
    checkPair(ctx, 'lesionCount', cfg.lesionCount);
    checkPair(ctx, 'lesionRadius', cfg.lesionRadius);
    const seen = new Set<string>();
    cfg.sites.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['sites', i, 'name'], message: `duplicate site name "${s.name}"` });
      }
      seen.add(s.name);
    });
    const { major, minor } = groupDiseaseRates(cfg);
    if (major > 1 || minor > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['diseaseRateRatioMinority'],
        message:
          `with diseaseRate ${cfg.diseaseRate} and femaleRate ${cfg.femaleRate} this ratio needs a group disease rate ` +
          `of ${Math.max(major, minor).toFixed(3)} > 1; lower diseaseRate or move the ratio closer to 1`,
      });
    }
  });

// Compile-time check that the schema's output is the documented resolved type.
type SchemaOutput = z.output<typeof PhantomConfigSchema>;
const _outputIsConfig: (c: SchemaOutput) => PhantomConfig = (c) => c;
void _outputIsConfig;

/** The minority sex of a config: female when femaleRate <= 0.5, otherwise male. */
export function minoritySex(cfg: Pick<PhantomConfig, 'femaleRate'>): 'female' | 'male' {
  return cfg.femaleRate <= 0.5 ? 'female' : 'male';
}

/** Per-sex disease probabilities that keep the overall rate at `diseaseRate` (formula in the header). */
export function groupDiseaseRates(
  cfg: Pick<PhantomConfig, 'diseaseRate' | 'femaleRate' | 'diseaseRateRatioMinority'>,
): { major: number; minor: number; female: number; male: number } {
  const m = cfg.femaleRate <= 0.5 ? cfg.femaleRate : 1 - cfg.femaleRate;
  const r = cfg.diseaseRateRatioMinority;
  const denom = 1 - m + r * m;
  const major = denom > 0 ? cfg.diseaseRate / denom : 0;
  const minor = r * major;
  const femaleIsMinor = minoritySex(cfg) === 'female';
  return { major, minor, female: femaleIsMinor ? minor : major, male: femaleIsMinor ? major : minor };
}

/**
 * Validates a user-supplied (partial) config and fills in defaults. `source` names where it came from (a
 * config file path, or e.g. `phantom defaults`) and is the first thing in the error message.
 */
export function resolvePhantomConfig(partial: unknown, source: string): PhantomConfig {
  const input = partial === undefined || partial === null ? {} : partial;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${source}: the phantom config must be an object of fields (e.g. {"diseaseRate": 0.1}), got ${Array.isArray(input) ? 'an array' : typeof input}`);
  }
  const parsed = PhantomConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  let field = issue.path.length > 0 ? formatPath(issue.path) : '';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    field = formatPath([...issue.path, keys[0] ?? '?']);
    message = `unknown field; known fields are ${Object.keys(PhantomConfigSchema.shape).join(', ')}`;
    if (issue.path.length > 0) message = 'unknown field; site fields are name, weight, noise, gamma';
  }
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : '';
  throw new ConfigError(oneLine(`${source}: phantom config field ${field || '(root)'}: ${message}${more}`));
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}
