import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { resolvePhantomConfig } from '../../../datasets/phantom/config.js';
import { density, lungMask, renderImage, sampleAnatomy, type PatientAnatomy, type ViewJitter } from '../../../datasets/phantom/draw.js';
import {
  MANIFEST_HEADER,
  PHANTOM_VERSION,
  generatePhantom,
  planPhantom,
  writePhantom,
  type PhantomRow,
} from '../../../datasets/phantom/index.js';

const root = mkdtempSync(join(tmpdir(), 'phantom-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DEFAULTS = resolvePhantomConfig({}, 'test');
const NO_JITTER: ViewJitter = { dx: 0, dy: 0, rot: 0, scale: 1, exposure: 0, gain: 1 };
const CLEAN = { noise: 0, gamma: 1 };
const LESIONS = { count: DEFAULTS.lesionCount, radius: DEFAULTS.lesionRadius, contrast: DEFAULTS.lesionContrast };

function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    if (name.endsWith('.png') || name.endsWith('.csv') || name.endsWith('.json')) files.set(name, readFileSync(p));
  }
  return files;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

describe('writePhantom', () => {
  it('writes images, manifest and phantom.json; same seed gives the same bytes, another seed differs', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    const c = join(root, 'c');
    const res = await writePhantom({ out: a, n: 12, size: 32, seed: 3 });
    await writePhantom({ out: b, n: 12, size: 32, seed: 3 });
    await writePhantom({ out: c, n: 12, size: 32, seed: 4 });
    expect(res.n).toBe(12);
    expect(res.rows).toHaveLength(12);

    const ta = readTree(a);
    const tb = readTree(b);
    expect(ta.size).toBe(12 + 2);
    expect([...ta.keys()].sort()).toEqual([...tb.keys()].sort());
    for (const [name, bytes] of ta) expect(bytes.equals(tb.get(name)!), name).toBe(true);

    const tc = readTree(c);
    const differing = [...ta.keys()].filter((name) => name.endsWith('.png') && !ta.get(name)!.equals(tc.get(name) ?? Buffer.alloc(0)));
    expect(differing.length).toBeGreaterThan(6);

    const manifest = ta.get('manifest.csv')!.toString('utf8');
    const lines = manifest.trimEnd().split('\n');
    expect(lines[0]).toBe('path,label,label_name,sex,age,site,patient_id');
    expect(lines[0]).toBe(MANIFEST_HEADER);
    expect(lines).toHaveLength(13);
    expect(lines[1]).toMatch(/^images\/ph_000001\.png,[01],(healthy|disease),(female|male),\d+,site_[abc],P00001$/);
    lines.slice(1).forEach((line, i) => {
      const [path, label, labelName, sex, age, site, pid] = line.split(',');
      const row = res.rows[i]!;
      expect({ path, label: Number(label), label_name: labelName, sex, age: Number(age), site, patient_id: pid }).toEqual(row);
      expect(existsSync(join(a, row.path))).toBe(true);
    });

    const meta = JSON.parse(ta.get('phantom.json')!.toString('utf8'));
    expect(meta).toEqual({ generator: 'medsynth-phantom', version: PHANTOM_VERSION, seed: 3, n: 12, size: 32, config: DEFAULTS });
  });

  it('PNGs are 8-bit greyscale at the requested size and hold generatePhantom’s pixels', async () => {
    const out = join(root, 'png');
    const { rows } = await writePhantom({ out, n: 3, size: 28, seed: 11 });
    const mem = generatePhantom({ n: 3, size: 28, seed: 11 });
    expect(mem.rows).toEqual(rows);
    rows.forEach((row, i) => {
      const bytes = readFileSync(join(out, row.path));
      expect(bytes[24]).toBe(8); // IHDR bit depth
      expect(bytes[25]).toBe(0); // IHDR colour type: greyscale
      const png = PNG.sync.read(bytes);
      expect([png.width, png.height]).toEqual([28, 28]);
      const grey = new Uint8Array(28 * 28);
      for (let k = 0; k < grey.length; k++) grey[k] = png.data[k * 4]!;
      expect(Buffer.from(grey).equals(Buffer.from(mem.pixels[i]!))).toBe(true);
    });
  });

  it('refuses bad --n, --size and --seed and an existing --out, writing nothing', async () => {
    const out = join(root, 'never');
    await expect(writePhantom({ out, n: 5, size: 30, seed: 1 })).rejects.toThrow(ConfigError);
    await expect(writePhantom({ out, n: 5, size: 30, seed: 1 })).rejects.toThrow(/--size .*28, 32, 64, 128.*got 30/);
    await expect(writePhantom({ out, n: 0, size: 32, seed: 1 })).rejects.toThrow(/--n /);
    await expect(writePhantom({ out, n: 2.5, size: 32, seed: 1 })).rejects.toThrow(/--n /);
    await expect(writePhantom({ out, n: 2, size: 32, seed: -1 })).rejects.toThrow(/--seed /);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('never'))).toEqual([]);

    const taken = join(root, 'taken');
    await writePhantom({ out: taken, n: 1, size: 28, seed: 1 });
    writeFileSync(join(taken, 'mine.txt'), 'keep');
    await expect(writePhantom({ out: taken, n: 1, size: 28, seed: 2 })).rejects.toThrow(/--out .*already exists/);
    expect(readFileSync(join(taken, 'mine.txt'), 'utf8')).toBe('keep');
  });
});

describe('generatePhantom', () => {
  it('produces exactly n images, cutting the last patient short', () => {
    const cfg = resolvePhantomConfig({ imagesPerPatient: [3, 3] }, 'test');
    const data = generatePhantom({ n: 7, size: 28, seed: 5, config: cfg });
    expect(data.rows).toHaveLength(7);
    expect(data.pixels).toHaveLength(7);
    expect(data.pixels.every((p) => p.length === 28 * 28)).toBe(true);
    expect(data.rows.map((r) => r.patient_id)).toEqual(['P00001', 'P00001', 'P00001', 'P00002', 'P00002', 'P00002', 'P00003']);
    expect(data.size).toBe(28);
    expect(data.seed).toBe(5);
    expect(data.config).toBe(cfg);
  });

  it('throws ConfigError for sizes other than 28, 32, 64, 128', () => {
    for (const size of [16, 33, 256]) expect(() => generatePhantom({ n: 1, size, seed: 0 })).toThrow(/--size/);
    for (const size of [28, 32, 64, 128]) expect(generatePhantom({ n: 1, size, seed: 0 }).pixels[0]).toHaveLength(size * size);
  });

  it('uses the whole grey range sensibly: dark air, bright tissue, no saturation of the frame', () => {
    const data = generatePhantom({ n: 20, size: 64, seed: 8 });
    for (const px of data.pixels) {
      const corner = mean([px[0]!, px[63]!]); // top corners: air beside the neck
      const centreRow = px.subarray(32 * 64, 33 * 64);
      expect(corner).toBeLessThan(60);
      expect(Math.max(...centreRow)).toBeGreaterThan(100);
      expect(mean(px)).toBeGreaterThan(40);
      expect(mean(px)).toBeLessThan(200);
    }
  });
});

describe('demographics and patients', () => {
  const items = planPhantom({ n: 12000, seed: 2024 });
  const rows = items.map((it) => it.row);

  it('matches the configured imbalance', () => {
    const female = rows.filter((r) => r.sex === 'female');
    const male = rows.filter((r) => r.sex === 'male');
    const rate = (rs: PhantomRow[]) => rs.filter((r) => r.label === 1).length / rs.length;
    expect(female.length / rows.length).toBeGreaterThan(0.22);
    expect(female.length / rows.length).toBeLessThan(0.28);
    expect(rate(rows)).toBeGreaterThan(0.085);
    expect(rate(rows)).toBeLessThan(0.115);
    const ratio = rate(female) / rate(male);
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.75);
    const siteShare = (s: string) => rows.filter((r) => r.site === s).length / rows.length;
    expect(siteShare('site_a')).toBeGreaterThan(0.46);
    expect(siteShare('site_a')).toBeLessThan(0.54);
    expect(siteShare('site_b')).toBeGreaterThan(0.26);
    expect(siteShare('site_b')).toBeLessThan(0.34);
    expect(siteShare('site_c')).toBeGreaterThan(0.17);
    expect(siteShare('site_c')).toBeLessThan(0.23);
    expect(rows.every((r) => Number.isInteger(r.age) && r.age >= 18 && r.age <= 90)).toBe(true);
    expect(Math.min(...rows.map((r) => r.age))).toBe(18);
    expect(Math.max(...rows.map((r) => r.age))).toBe(90);
  });

  it('follows a changed config', () => {
    const cfg = resolvePhantomConfig(
      { diseaseRate: 0.3, femaleRate: 0.6, diseaseRateRatioMinority: 1, ageRange: [40, 41], sites: [{ name: 'only', weight: 1, noise: 0, gamma: 1 }] },
      'test',
    );
    const rs = planPhantom({ n: 4000, seed: 9, config: cfg }).map((it) => it.row);
    const female = rs.filter((r) => r.sex === 'female').length / rs.length;
    expect(female).toBeGreaterThan(0.55);
    expect(female).toBeLessThan(0.65);
    const d = rs.filter((r) => r.label === 1).length / rs.length;
    expect(d).toBeGreaterThan(0.26);
    expect(d).toBeLessThan(0.34);
    expect(new Set(rs.map((r) => r.age))).toEqual(new Set([40, 41]));
    expect(new Set(rs.map((r) => r.site))).toEqual(new Set(['only']));
  });

  it('groups 1–3 consecutive images per patient with constant sex, age, site and label', () => {
    const byPatient = new Map<string, PhantomRow[]>();
    for (const r of rows) byPatient.set(r.patient_id, [...(byPatient.get(r.patient_id) ?? []), r]);
    const counts = new Set<number>();
    let prevNum = 0;
    for (const [pid, rs] of byPatient) {
      expect(pid).toMatch(/^P\d{5}$/);
      const num = Number(pid.slice(1));
      expect(num).toBe(prevNum + 1);
      prevNum = num;
      counts.add(rs.length);
      expect(rs.length).toBeGreaterThanOrEqual(1);
      expect(rs.length).toBeLessThanOrEqual(3);
      for (const r of rs) {
        expect([r.sex, r.age, r.site, r.label, r.label_name]).toEqual([rs[0]!.sex, rs[0]!.age, rs[0]!.site, rs[0]!.label, rs[0]!.label_name]);
      }
    }
    expect(counts).toEqual(new Set([1, 2, 3]));
    // Rows of one patient are consecutive: once an id is left behind it never comes back.
    const finished = new Set<string>();
    rows.forEach((r, i) => {
      expect(finished.has(r.patient_id)).toBe(false);
      if (i > 0 && r.patient_id !== rows[i - 1]!.patient_id) finished.add(rows[i - 1]!.patient_id);
    });
    expect(rows.every((r) => (r.label === 1) === (r.label_name === 'disease'))).toBe(true);
    expect(new Set(rows.map((r) => r.path)).size).toBe(rows.length);
  });

  it('a patient’s views differ slightly (pose, exposure, noise) but show the same anatomy', () => {
    const data = generatePhantom({ n: 40, size: 64, seed: 31 });
    const i = data.rows.findIndex((r, k) => k + 1 < data.rows.length && data.rows[k + 1]!.patient_id === r.patient_id);
    expect(i).toBeGreaterThanOrEqual(0);
    const j = data.rows.findIndex((r) => r.patient_id !== data.rows[i]!.patient_id);
    const diff = (a: Uint8Array, b: Uint8Array) => mean(Array.from(a, (v, k) => Math.abs(v - b[k]!)));
    const same = diff(data.pixels[i]!, data.pixels[i + 1]!);
    const other = diff(data.pixels[i]!, data.pixels[j]!);
    expect(same).toBeGreaterThan(0);
    expect(same).toBeLessThan(other);
  });
});

describe('appearance', () => {
  const size = 64;
  const anat = (seed: number, sex: 'female' | 'male', age: number, disease = false): PatientAnatomy =>
    sampleAnatomy(new Rng(seed), { sex, age, disease, lesions: LESIONS });
  const render = (a: PatientAnatomy, site = CLEAN, noiseSeed = 1) => renderImage(a, NO_JITTER, site, size, new Rng(noiseSeed));

  it('disease adds visible lesions inside the lung fields only', () => {
    for (let s = 0; s < 10; s++) {
      const sick = anat(100 + s, s % 2 ? 'female' : 'male', 50, true);
      expect(sick.lesions.length).toBeGreaterThanOrEqual(1);
      expect(sick.lesions.length).toBeLessThanOrEqual(3);
      const healthy: PatientAnatomy = { ...sick, lesions: [] };
      const a = render(sick);
      const b = render(healthy);
      let maxDiff = 0;
      for (let py = 0; py < size; py++) {
        for (let px = 0; px < size; px++) {
          const d = a[py * size + px]! - b[py * size + px]!;
          expect(d).toBeGreaterThanOrEqual(0);
          if (d > 0) expect(lungMask(sick, (px + 0.5) / size, (py + 0.5) / size, 0.02)).toBeGreaterThan(0);
          maxDiff = Math.max(maxDiff, d);
        }
      }
      expect(maxDiff).toBeGreaterThan(0.2 * 255);
      for (const l of sick.lesions) expect(lungMask(sick, l.x, l.y, 0.001)).toBe(1);
    }
  });

  it('female patients have narrower shoulders and breast shadows over the lower lungs', () => {
    let wider = 0;
    for (let s = 0; s < 20; s++) {
      const m = anat(200 + s, 'male', 50);
      const f = anat(300 + s, 'female', 50);
      expect(m.breast).toBe(0);
      expect(f.breast).toBeGreaterThan(0);
      if (m.shoulderHalf > f.shoulderHalf) wider++;
      // Breast shadow: the same anatomy with the shadow removed is darker over the lower lung field.
      const flat: PatientAnatomy = { ...f, breast: 0 };
      const y = f.breastY - 0.02;
      const x = 0.5 - (f.apexT + 0.08);
      expect(density(f, x, y, 0.01) - density(flat, x, y, 0.01)).toBeGreaterThan(0.08);
    }
    expect(wider).toBeGreaterThanOrEqual(18);
  });

  it('older patients have fainter bones and lower contrast', () => {
    let brighterSpine = 0;
    let moreContrast = 0;
    for (let s = 0; s < 20; s++) {
      const young = anat(400 + s, 'male', 22);
      const old = anat(400 + s, 'male', 85); // same stream: only the age differs
      const spine = (a: PatientAnatomy) => density(a, 0.5, 0.3, 0.01) - density({ ...a, boneDensity: 0 }, 0.5, 0.3, 0.01);
      if (spine(young) > 1.5 * spine(old)) brighterSpine++;
      const sd = (px: Uint8Array) => {
        const m = mean(px);
        return Math.sqrt(mean(Array.from(px, (v) => (v - m) ** 2)));
      };
      if (sd(render(young)) > sd(render(old))) moreContrast++;
    }
    expect(brighterSpine).toBe(20);
    expect(moreContrast).toBeGreaterThanOrEqual(18);
  });

  it('sites differ in noise level and gamma', () => {
    const a = anat(500, 'male', 50);
    const [sa, sb, sc] = DEFAULTS.sites;
    // Noise level: spread of the difference from the same image rendered without noise.
    const noiseSd = (site: { noise: number; gamma: number }) => {
      const noisy = render(a, site, 7);
      const clean = render(a, { noise: 0, gamma: site.gamma }, 7);
      const d = Array.from(noisy, (v, k) => v - clean[k]!);
      const m = mean(d);
      return Math.sqrt(mean(d.map((v) => (v - m) ** 2)));
    };
    const [na, nb, nc] = [sa!, sb!, sc!].map(noiseSd);
    expect(na).toBeGreaterThan(1);
    expect(nb).toBeGreaterThan(1.5 * na!);
    expect(nc).toBeGreaterThan(nb!);
    // gamma < 1 brightens mid-tones: site_b's image is brighter than the same image at gamma 1.
    expect(mean(render(a, { noise: 0, gamma: sb!.gamma }))).toBeGreaterThan(mean(render(a, CLEAN)) + 10);
    expect(mean(render(a, { noise: 0, gamma: sc!.gamma }))).toBeLessThan(mean(render(a, CLEAN)) - 5);
  });
});
