/**
 * The built-in phantom dataset: labelled, demographically imbalanced chest-radiograph-like images drawn from
 * a seed (what is drawn: `draw.ts`; the config fields: `config.ts`; overview: `README.md`).
 *
 * Sampling. Patients are drawn one after another until n images exist. Patient p uses its own random stream
 * `Rng(seed).derive('patient/p')`, itself split by name into `demographics`, `anatomy`, `view/k` and
 * `noise/k`, so no draw shifts any other. For each patient, in this order:
 *   sex ~ Bernoulli(femaleRate); age ~ UniformInt(ageRange); site ~ Categorical(site weights);
 *   disease ~ Bernoulli(p_sex) with p_sex from `groupDiseaseRates` (overall rate = diseaseRate);
 *   images ~ UniformInt(imagesPerPatient), cut so the total is exactly n;
 *   anatomy (habitus, organ sizes, bone density, lesions if diseased) from `sampleAnatomy`;
 *   per image k: a small pose/exposure jitter (`sampleView`) and its own detector noise.
 * The label is per patient, so every image of a patient has the same label, sex, age and site.
 *
 * Determinism. Every number comes from the seeded streams and the renderer is plain arithmetic, so the same
 * (n, size, seed, config) gives the same pixels; PNGs are encoded by `encodePng` with fixed options (grey,
 * 8-bit, fixed filter and deflate level), so files are byte-identical too.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { writeDirAtomic } from '../../src/core/fs.js';
import { encodePng } from '../image/encode.js';
import { Rng } from '../../src/core/rng.js';
import { groupDiseaseRates, resolvePhantomConfig, type PhantomConfig } from './config.js';
import { renderImage, sampleAnatomy, sampleView, type PatientAnatomy, type Sex, type ViewJitter } from './draw.js';

export { PhantomConfigSchema, resolvePhantomConfig, type PhantomConfig } from './config.js';

/** Bumped whenever the same (seed, n, size, config) would give different pixels or rows. */
export const PHANTOM_VERSION = 1;
export const PHANTOM_SIZES: readonly number[] = [28, 32, 64, 128];
export const MANIFEST_HEADER = 'path,label,label_name,sex,age,site,patient_id';

export interface PhantomRow {
  path: string;
  label: 0 | 1;
  label_name: 'healthy' | 'disease';
  sex: 'female' | 'male';
  age: number;
  site: string;
  patient_id: string;
}

export interface PhantomData {
  config: PhantomConfig;
  seed: number;
  size: number;
  rows: PhantomRow[];
  /** One size×size uint8 grey image per row, row-major. */
  pixels: Uint8Array[];
}

/** One planned image: its row plus everything needed to render it. */
export interface PhantomItem {
  row: PhantomRow;
  anatomy: PatientAnatomy;
  view: ViewJitter;
  siteIndex: number;
  /** Seed of the image's detector-noise stream. */
  noiseSeed: number;
}

function checkCountAndSeed(n: number, seed: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigError(`--n must be a whole number of images >= 1, got ${n}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ConfigError(`--seed must be a whole number from 0 to 4294967295, got ${seed}`);
  }
}

function checkArgs(n: number, size: number, seed: number): void {
  checkCountAndSeed(n, seed);
  if (!PHANTOM_SIZES.includes(size)) {
    throw new ConfigError(`--size must be one of ${PHANTOM_SIZES.join(', ')} (pixels per side), got ${size}`);
  }
}

function pad(k: number, width: number): string {
  return String(k).padStart(width, '0');
}

/**
 * Plans n images (rows, anatomy and views) without rendering pixels. Rendering is `renderItem`; the split
 * lets `writePhantom` stream images to disk one at a time.
 */
export function planPhantom(opts: { n: number; seed: number; config?: PhantomConfig }): PhantomItem[] {
  const { n, seed } = opts;
  checkCountAndSeed(n, seed);
  const cfg = opts.config ?? resolvePhantomConfig({}, 'phantom defaults');
  const rates = groupDiseaseRates(cfg);
  const weights = cfg.sites.map((s) => s.weight);
  const root = new Rng(seed);
  const imgWidth = Math.max(6, String(n).length);
  const items: PhantomItem[] = [];
  for (let p = 0; items.length < n; p++) {
    const prng = root.derive(`patient/${p}`);
    const demo = prng.derive('demographics');
    const sex: Sex = demo.bernoulli(cfg.femaleRate) ? 'female' : 'male';
    const age = cfg.ageRange[0] + demo.int(cfg.ageRange[1] - cfg.ageRange[0] + 1);
    const siteIndex = demo.categorical(weights);
    const disease = demo.bernoulli(sex === 'female' ? rates.female : rates.male);
    const wanted = cfg.imagesPerPatient[0] + demo.int(cfg.imagesPerPatient[1] - cfg.imagesPerPatient[0] + 1);
    const count = Math.min(wanted, n - items.length);
    const anatomy = sampleAnatomy(prng.derive('anatomy'), {
      sex,
      age,
      disease,
      lesions: { count: cfg.lesionCount, radius: cfg.lesionRadius, contrast: cfg.lesionContrast },
    });
    const patientId = `P${pad(p + 1, Math.max(5, String(n).length))}`;
    for (let k = 0; k < count; k++) {
      const idx = items.length + 1;
      items.push({
        row: {
          path: `images/ph_${pad(idx, imgWidth)}.png`,
          label: disease ? 1 : 0,
          label_name: disease ? 'disease' : 'healthy',
          sex,
          age,
          site: cfg.sites[siteIndex]!.name,
          patient_id: patientId,
        },
        anatomy,
        view: sampleView(prng.derive(`view/${k}`)),
        siteIndex,
        noiseSeed: prng.derive(`noise/${k}`).seed,
      });
    }
  }
  return items;
}

/** Renders one planned image at `size`. */
export function renderItem(item: PhantomItem, size: number, config: PhantomConfig): Uint8Array {
  const site = config.sites[item.siteIndex]!;
  return renderImage(item.anatomy, item.view, { noise: site.noise, gamma: site.gamma }, size, new Rng(item.noiseSeed));
}

/** Generates the whole dataset in memory (pure: no files). */
export function generatePhantom(opts: { n: number; size: number; seed: number; config?: PhantomConfig }): PhantomData {
  checkArgs(opts.n, opts.size, opts.seed);
  const config = opts.config ?? resolvePhantomConfig({}, 'phantom defaults');
  const items = planPhantom({ n: opts.n, seed: opts.seed, config });
  return {
    config,
    seed: opts.seed,
    size: opts.size,
    rows: items.map((it) => it.row),
    pixels: items.map((it) => renderItem(it, opts.size, config)),
  };
}

/**
 * The phantom image as an 8-bit greyscale PNG, through the project's one encoder (`encodePng`: pngjs with
 * fixed options, so equal pixels give equal bytes). Each byte p becomes p / 255, which `encodePng` rounds
 * back to exactly p; the files are byte-identical to those of the phantom's former own pngjs call
 * (test/datasets/phantom/png-bytes.test.ts).
 */
export function encodeGreyPng(pixels: Uint8Array, size: number): Buffer {
  const v = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) v[i] = pixels[i]! / 255;
  return encodePng(v, size, size, 1, 8);
}

/** The manifest text: header plus one line per row, `\n` line endings, trailing newline. */
export function manifestCsv(rows: readonly PhantomRow[]): string {
  const lines = rows.map((r) => [r.path, r.label, r.label_name, r.sex, r.age, r.site, r.patient_id].join(','));
  return `${MANIFEST_HEADER}\n${lines.join('\n')}\n`;
}

/**
 * Writes `out/images/*.png`, `out/manifest.csv` and `out/phantom.json`. The folder is built beside `out`
 * and renamed into place only when complete, so a failure leaves nothing behind; an existing `out` is
 * refused (ConfigError naming --out).
 */
export async function writePhantom(opts: {
  out: string;
  n: number;
  size: number;
  seed: number;
  config?: PhantomConfig;
}): Promise<{ out: string; n: number; rows: PhantomRow[] }> {
  checkArgs(opts.n, opts.size, opts.seed);
  const config = opts.config ?? resolvePhantomConfig({}, 'phantom defaults');
  const items = planPhantom({ n: opts.n, seed: opts.seed, config });
  const rows = items.map((it) => it.row);
  await writeDirAtomic(opts.out, (tmp) => {
    mkdirSync(join(tmp, 'images'));
    for (const item of items) {
      writeFileSync(join(tmp, item.row.path), encodeGreyPng(renderItem(item, opts.size, config), opts.size));
    }
    writeFileSync(join(tmp, 'manifest.csv'), manifestCsv(rows));
    const meta = { generator: 'medsynth-phantom', version: PHANTOM_VERSION, seed: opts.seed, n: opts.n, size: opts.size, config };
    writeFileSync(join(tmp, 'phantom.json'), `${JSON.stringify(meta, null, 2)}\n`);
  });
  return { out: opts.out, n: opts.n, rows };
}
