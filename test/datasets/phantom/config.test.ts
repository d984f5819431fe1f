import { describe, expect, it } from 'vitest';
import { ConfigError, UserError } from '../../../src/core/errors.js';
import {
  DEFAULT_SITES,
  PhantomConfigSchema,
  groupDiseaseRates,
  minoritySex,
  resolvePhantomConfig,
} from '../../../datasets/phantom/config.js';

const SRC = 'configs/phantom.json';

function errorOf(partial: unknown): ConfigError {
  try {
    resolvePhantomConfig(partial, SRC);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(UserError);
    return err as ConfigError;
  }
  throw new Error('expected resolvePhantomConfig to throw');
}

describe('resolvePhantomConfig', () => {
  it('fills every field with its documented default', () => {
    const cfg = resolvePhantomConfig({}, SRC);
    expect(cfg).toEqual({
      diseaseRate: 0.1,
      femaleRate: 0.25,
      diseaseRateRatioMinority: 0.5,
      ageRange: [18, 90],
      imagesPerPatient: [1, 3],
      sites: DEFAULT_SITES,
      lesionCount: [1, 3],
      lesionRadius: [0.05, 0.085],
      lesionContrast: 0.35,
    });
    expect(resolvePhantomConfig(undefined, SRC)).toEqual(cfg);
    expect(cfg.sites.map((s) => s.name)).toEqual(['site_a', 'site_b', 'site_c']);
    // Unequal site frequencies and distinct looks by default.
    expect(new Set(cfg.sites.map((s) => s.weight)).size).toBe(3);
    expect(new Set(cfg.sites.map((s) => s.noise)).size).toBe(3);
    expect(new Set(cfg.sites.map((s) => s.gamma)).size).toBe(3);
  });

  it('keeps given fields and defaults the rest; the defaults are fresh copies', () => {
    const cfg = resolvePhantomConfig({ diseaseRate: 0.2, ageRange: [30, 40] }, SRC);
    expect(cfg.diseaseRate).toBe(0.2);
    expect(cfg.ageRange).toEqual([30, 40]);
    expect(cfg.femaleRate).toBe(0.25);
    cfg.sites[0]!.noise = 0.4;
    expect(resolvePhantomConfig({}, SRC).sites[0]!.noise).toBe(DEFAULT_SITES[0]!.noise);
  });

  it('the schema parses directly too', () => {
    expect(PhantomConfigSchema.parse({}).diseaseRate).toBe(0.1);
    expect(PhantomConfigSchema.safeParse({ diseaseRate: -1 }).success).toBe(false);
  });

  it.each([
    [{ diseaseRate: 1.5 }, 'diseaseRate'],
    [{ femaleRate: 'many' }, 'femaleRate'],
    [{ ageRange: [90, 18] }, 'ageRange'],
    [{ ageRange: [18.5, 90] }, 'ageRange[0]'],
    [{ imagesPerPatient: [0, 3] }, 'imagesPerPatient[0]'],
    [{ lesionCount: [3, 1] }, 'lesionCount'],
    [{ lesionContrast: 0 }, 'lesionContrast'],
    [{ sites: [] }, 'sites'],
    [{ sites: [{ name: 'a', weight: 0, noise: 0.01, gamma: 1 }] }, 'sites[0].weight'],
    [{ sites: [{ name: 'a,b', weight: 1, noise: 0.01, gamma: 1 }] }, 'sites[0].name'],
    [
      {
        sites: [
          { name: 'a', weight: 1, noise: 0.01, gamma: 1 },
          { name: 'a', weight: 1, noise: 0.02, gamma: 1 },
        ],
      },
      'sites[1].name',
    ],
    [{ sites: [{ name: 'a', weight: 1, noise: 0.01, gamma: 1, blur: 2 }] }, 'sites[0].blur'],
    [{ diseaseRte: 0.1 }, 'diseaseRte'],
  ])('rejects %j naming the source and the field %s on one line', (partial, field) => {
    const err = errorOf(partial);
    expect(err.message.startsWith(`${SRC}: `)).toBe(true);
    expect(err.message).toContain(`field ${field}:`);
    expect(err.message).not.toContain('\n');
  });

  it('lists the known fields when a field name is unknown', () => {
    expect(errorOf({ diseaseRte: 0.1 }).message).toContain('diseaseRate');
  });

  it('rejects a non-object config', () => {
    expect(errorOf([1, 2]).message).toContain(SRC);
    expect(errorOf('x').message).toContain('must be an object');
  });

  it('rejects a disease ratio that would need a group rate above 1', () => {
    const err = errorOf({ diseaseRate: 0.9, femaleRate: 0.5, diseaseRateRatioMinority: 0.1 });
    expect(err.message).toContain('diseaseRateRatioMinority');
    expect(err.message).toContain('> 1');
  });
});

describe('groupDiseaseRates', () => {
  it('keeps the overall rate and the requested ratio', () => {
    for (const [d, f, r] of [
      [0.1, 0.25, 0.5],
      [0.2, 0.4, 2],
      [0.05, 0.7, 0.3],
      [0.3, 0.5, 1],
    ] as const) {
      const g = groupDiseaseRates({ diseaseRate: d, femaleRate: f, diseaseRateRatioMinority: r });
      expect(f * g.female + (1 - f) * g.male).toBeCloseTo(d, 12);
      expect(g.minor / g.major).toBeCloseTo(r, 12);
    }
  });

  it('treats the smaller sex as the minority', () => {
    expect(minoritySex({ femaleRate: 0.25 })).toBe('female');
    expect(minoritySex({ femaleRate: 0.7 })).toBe('male');
    const g = groupDiseaseRates({ diseaseRate: 0.1, femaleRate: 0.7, diseaseRateRatioMinority: 0.5 });
    expect(g.male).toBeCloseTo(g.female / 2, 12);
    // Defaults: p_male = 0.1 / (0.75 + 0.125), p_female = half of that.
    const d = groupDiseaseRates({ diseaseRate: 0.1, femaleRate: 0.25, diseaseRateRatioMinority: 0.5 });
    expect(d.male).toBeCloseTo(0.1 / 0.875, 12);
    expect(d.female).toBeCloseTo(0.05 / 0.875, 12);
  });
});
