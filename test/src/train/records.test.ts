// @module-tag slow (trains four runs through the CLI in-process; see vitest.config.ts)
/**
 * The run folder's records (#21): runs written by the CLI (in-process, on the TypeScript sources) — a plain
 * cVAE, a DP-SGD cVAE, a `--model auto` DP-MERF audit run with input canaries, and a warm start — and every
 * file they hold round-tripped through its schema (src/train/records.ts): parsing drops nothing and changes
 * nothing. Then `openRun` reads the same records, the card's ε per epoch is the ledger's (metrics.jsonl) and
 * its accountant history gives the claimed ε again, and older or broken folders fail with one line that
 * names the file and what is missing.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { DatasetError } from '../../../src/core/errors.js';
import { accountant } from '../../../src/privacy/accountants/index.js';
import { openRun } from '../../../src/train/open.js';
import { ConditionsSchema, MetricsLineSchema, ModelCardSchema, parseSplitsCsv, RunRecordSchema } from '../../../src/train/records.js';

let work: string;
let data: string;
const runs: Record<'plain' | 'dp' | 'auto' | 'init', string> = { plain: '', dp: '', auto: '', init: '' };
const BASE = ['--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '5'];

async function cli(args: string[]): Promise<void> {
  process.exitCode = undefined;
  await main(['node', 'medsynth', ...args]);
  expect(process.exitCode ?? 0, args.join(' ')).toBe(0);
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-records-'));
  data = join(work, 'phantom');
  await cli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']);
  for (const k of Object.keys(runs) as (keyof typeof runs)[]) runs[k] = join(work, k);
  await cli(['train', '--data', data, '--out', runs.plain, '--model', 'cvae', '--epochs', '1', ...BASE]);
  await cli(['train', '--data', data, '--out', runs.dp, '--model', 'cvae', '--epochs', '2', ...BASE, '--dp', '--target-epsilon', '8']);
  await cli([
    'train', '--data', data, '--out', runs.auto, '--model', 'auto', '--epochs', '1', ...BASE, '--dp', '--target-epsilon', '4',
    '--model-config', '{"frequencies":128,"perCell":8,"stepsPerEpoch":5}', '--audit-canaries', '20', '--canary-kind', 'input',
  ]);
  await cli(['train', '--data', data, '--out', runs.init, '--model', 'cvae', '--epochs', '1', ...BASE, '--init-from', runs.plain]);
}, 240_000);

describe('every record of a run folder round-trips through its schema', () => {
  it.each(['plain', 'dp', 'auto', 'init'] as const)('%s run', (kind) => {
    const dir = runs[kind];
    for (const [file, schema] of [['run.json', RunRecordSchema], ['model-card.json', ModelCardSchema], ['conditions.json', ConditionsSchema]] as const) {
      const raw = readJson(join(dir, file));
      // toStrictEqual: a field the schema does not know would be dropped by the parse and fail here.
      expect(schema.parse(raw), `${kind}/${file}`).toStrictEqual(raw);
    }
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(MetricsLineSchema.parse(JSON.parse(l))).toStrictEqual(JSON.parse(l));
    const splits = parseSplitsCsv(readFileSync(join(dir, 'splits.csv'), 'utf8'), 'splits.csv');
    expect(splits.size).toBe(240);
    expect(new Set(splits.values())).toEqual(new Set(['train', 'holdout', 'test']));
  });

  it('holds what each kind of run records', () => {
    const rec = (k: keyof typeof runs) => RunRecordSchema.parse(readJson(join(runs[k], 'run.json')));
    const cond = (k: keyof typeof runs) => ConditionsSchema.parse(readJson(join(runs[k], 'conditions.json')));
    const card = (k: keyof typeof runs) => ModelCardSchema.parse(readJson(join(runs[k], 'model-card.json')));
    expect(rec('plain').dp).toBeUndefined();
    expect(cond('plain').train.length).toBeGreaterThan(0);
    expect(cond('dp').countsWithheld).toMatch(/differential privacy/);
    expect(cond('dp').train).toEqual([]);
    expect(rec('dp').dp).toMatchObject({ unit: 'patient', calibrated: true, targetEpsilon: 8, accountant: 'rdp' });
    expect(rec('auto').model).toBe('dpmerf');
    expect(rec('auto').dp).toMatchObject({ accountant: 'prv', plannedSteps: 1, sampleRate: 1 }); // one release: PRV, exact
    expect(rec('auto').selection?.evidence).toBe('eval/results/private-generators.md');
    expect(rec('auto').auditCanaries).toEqual({ canaries: 20, kind: 'input' });
    expect(card('auto').auditRun).toMatchObject({ kind: 'input', canaries: 20, notForRelease: true });
    expect(cond('auto').countsSource).toMatch(/noisy counts/);
    expect(rec('init').initFrom?.run).toBe(runs.plain);
    expect(card('init').initialisation?.fingerprint).toBe(rec('plain').fingerprint);
    expect(card('plain').privacy.differentialPrivacy).toBe(false);
  });
});

describe('one ledger: the card carries ε per epoch and the accountant history', () => {
  it.each(['dp', 'auto'] as const)('%s run: the card\'s ε per epoch is metrics.jsonl\'s, and its history gives the claimed ε', (kind) => {
    const run = openRun(runs[kind]);
    const pv = run.card.privacy;
    if (!pv.differentialPrivacy) throw new Error('expected a DP card');
    const fromMetrics = run.metrics().map((m) => ({ epoch: m.epoch, step: m.step, epsilon: m.epsilon }));
    expect(pv.epsilonPerEpoch).toEqual(fromMetrics);
    expect(pv.epsilonPerEpoch!.length).toBe(kind === 'dp' ? 2 : 1);
    // The last epoch's ε is the claim (DP-SGD: after all steps; one-shot: the one release, whatever fitting follows).
    expect(pv.epsilonPerEpoch!.at(-1)!.epsilon).toBe(pv.epsilon);
    expect(pv.history).toEqual([{ noiseMultiplier: pv.noiseMultiplier, sampleRate: pv.sampleRate, steps: pv.steps }]);
    expect(accountant(pv.accountant).epsilon(pv.history!, pv.delta).epsilon).toBeCloseTo(pv.epsilon, 9);
    if (kind === 'auto') expect(pv.steps).toBe(1);
    else expect(pv.epsilonPerEpoch![0]!.epsilon).toBeLessThan(pv.epsilon);
  });
});

describe('openRun', () => {
  it('returns the validated records, the splits of the data, the generator and the model id', () => {
    const run = openRun(runs.dp);
    expect(run.record).toStrictEqual(readJson(join(runs.dp, 'run.json')));
    expect(run.card).toStrictEqual(readJson(join(runs.dp, 'model-card.json')));
    expect(run.conditions).toStrictEqual(readJson(join(runs.dp, 'conditions.json')));
    expect(run.modelId).toMatch(/^cvae-[0-9a-f]{12}$/);
    const ds = run.loadData();
    const split = run.splitOf(ds);
    expect(split.filter((s) => s === 'train')).toHaveLength(run.card.splits.sizes.train!);
    expect(split.filter((s) => s === 'holdout')).toHaveLength(run.card.splits.sizes.holdout!);
    const gen = run.loadGenerator();
    try {
      expect(gen.kind).toBe('cvae');
      expect(gen.imageSize).toBe(28);
    } finally {
      gen.dispose();
    }
  });

  it('refuses other data by its sha256, naming the option', () => {
    const other = join(work, 'other');
    cpSync(data, other, { recursive: true });
    const manifest = join(other, 'manifest.csv');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').trim().split('\n').slice(0, -5).join('\n') + '\n');
    expect(() => openRun(runs.plain, { option: '--model' }).loadData({ path: other })).toThrow(/^--data .*other: not the data run .* was trained on \(sha256 differs from run\.json\)/);
  });

  /** The folder `runs.plain` copied, then changed by `edit`. */
  function olderFolder(name: string, edit: (dir: string) => void): string {
    const dir = join(work, name);
    cpSync(runs.plain, dir, { recursive: true });
    edit(dir);
    return dir;
  }
  const oneLineError = (f: () => unknown, pattern: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).not.toContain('\n');
    expect((err as Error).message).toMatch(pattern);
  };

  it('names exactly what an older or incomplete folder is missing', () => {
    const noConditions = olderFolder('no-conditions', (d) => rmSync(join(d, 'conditions.json')));
    oneLineError(() => openRun(noConditions, { option: '--model' }), /^--model .*no-conditions: no conditions\.json \(the condition vocabulary/);
    const noSplitSeed = olderFolder('no-split-seed', (d) => {
      const r = readJson(join(d, 'run.json')) as Record<string, unknown>;
      delete r.splitSeed;
      writeFileSync(join(d, 'run.json'), JSON.stringify(r));
    });
    oneLineError(() => openRun(noSplitSeed), /no-split-seed\/run\.json: no "splitSeed"; /);
    const unfinished = olderFolder('unfinished', (d) => rmSync(join(d, 'model-card.json')));
    oneLineError(() => openRun(unfinished, { option: '--model' }), /^--model .*unfinished: the run has not finished \(no model-card\.json\); continue it with medsynth train --resume/);
    const noSplits = olderFolder('no-splits', (d) => rmSync(join(d, 'splits.csv')));
    oneLineError(() => openRun(noSplits).splits(), /no-splits: no splits\.csv/);
    const badCard = olderFolder('bad-card', (d) => {
      const c = readJson(join(d, 'model-card.json')) as { privacy: Record<string, unknown> };
      c.privacy.differentialPrivacy = 'yes';
      writeFileSync(join(d, 'model-card.json'), JSON.stringify(c));
    });
    oneLineError(() => openRun(badCard), /bad-card\/model-card\.json: privacy\.differentialPrivacy: /);
  });

  it('reads a DP card from before ε per epoch and the history were recorded: ε per epoch from metrics.jsonl', () => {
    const dir = join(work, 'dp-older');
    cpSync(runs.dp, dir, { recursive: true });
    const c = readJson(join(dir, 'model-card.json')) as { privacy: Record<string, unknown> };
    const expected = openRun(runs.dp).epsilonPerEpoch();
    delete c.privacy.epsilonPerEpoch;
    delete c.privacy.history;
    writeFileSync(join(dir, 'model-card.json'), JSON.stringify(c));
    expect(openRun(dir).epsilonPerEpoch()).toEqual(expected);
  });
});

describe('the commands read a run through openRun', () => {
  const rejects = async (args: string[], pattern: RegExp) => {
    process.exitCode = undefined;
    await expect(main(['node', 'medsynth', ...args])).rejects.toThrow(pattern);
  };

  it('sample and reconstruct: the run\'s model id, conditions and bit depth; the recorded test split', async () => {
    const out = join(work, 'samples-dp');
    await cli(['sample', '--model', runs.dp, '--n', '8', '--seed', '3', '--out', out]);
    const s = readJson(join(out, 'samples.json')) as { modelId: string; openConditions: { uniform?: string[] } };
    expect(s.modelId).toBe(openRun(runs.dp).modelId);
    const json = join(work, 'recon.json');
    await cli(['reconstruct', '--model', runs.plain, '--n', '4', '--out', join(work, 'recon.png'), '--json', json]);
    expect((readJson(json) as { n: number }).n).toBe(4);
  });

  it('audit: --data defaults to run.json "data", sets come from splits.csv; moved data is named in one line', async () => {
    const json = join(work, 'audit.json');
    await cli(['audit', '--model', runs.dp, '--attacks', 'control', '--bootstrap', '20', '--quiet', '--json', json]);
    const run = openRun(runs.dp);
    const a = readJson(json) as { modelId: string; data: { fingerprint: string }; sizes: { trainSplit: number; holdoutSplit: number; testSplit: number } };
    expect(a.data.fingerprint).toBe(`sha256:${run.record.fingerprint}`);
    expect(a.modelId).toBe(run.modelId);
    expect([a.sizes.trainSplit, a.sizes.holdoutSplit, a.sizes.testSplit]).toEqual([run.card.splits.sizes.train, run.card.splits.sizes.holdout, run.card.splits.sizes.test]);
    const moved = join(work, 'dp-moved');
    cpSync(runs.dp, moved, { recursive: true });
    const r = readJson(join(moved, 'run.json')) as Record<string, unknown>;
    writeFileSync(join(moved, 'run.json'), JSON.stringify({ ...r, data: join(work, 'gone') }));
    await rejects(['audit', '--model', moved, '--attacks', 'control', '--quiet', '--json', join(work, 'never.json')], /^--model .*dp-moved: the run's data \(run\.json "data": .*gone\) is not at .*; pass it with --data PATH$/);
  });

  it('balance: the run\'s own data is counted over the recorded train split', async () => {
    const json = join(work, 'balance.json');
    await cli(['balance', '--data', data, '--model', runs.plain, '--target', 'equalize-groups', '--dry-run', '--json', json]);
    expect((readJson(json) as { realImages: number }).realImages).toBe(openRun(runs.plain).card.splits.sizes.train);
  });

  it.each(['dp', 'auto'] as const)('report (%s run): ε per epoch is the card\'s, not a second ledger\'s', async (kind) => {
    const out = join(work, `report-${kind}`);
    await cli(['report', '--run', runs[kind], '--out', out]);
    const rep = readJson(join(out, 'report.json')) as { curves: { epoch: number; epsilon?: number }[] };
    const card = openRun(runs[kind]).card.privacy;
    if (!card.differentialPrivacy) throw new Error('expected a DP card');
    expect(rep.curves.map((c) => ({ epoch: c.epoch, epsilon: c.epsilon }))).toEqual(card.epsilonPerEpoch!.map((e) => ({ epoch: e.epoch, epsilon: e.epsilon })));
  });

  it('evaluate --run: the run\'s data, split, bins and groups; --split-seed beside it is refused', async () => {
    const samples = join(work, 'samples-plain');
    await cli(['sample', '--model', runs.plain, '--n', '40', '--out', samples]);
    const json = join(work, 'evaluation.json');
    await cli(['evaluate', '--run', runs.plain, '--synthetic', samples, '--features', 'pixel-pca', '--classifier-steps', '5', '--classifier-seeds', '1', '--no-cache', '--json', json]);
    const ev = readJson(json) as { splits: { seed: number; sizes: Record<string, number> }; groupBy: string[]; datasets: { real: { fingerprint: string } }; image: { size: number; sizeFrom: string } };
    const run = openRun(runs.plain);
    expect(ev.splits).toEqual(run.card.splits);
    expect(ev.groupBy).toEqual(['sex']);
    expect(ev.image).toMatchObject({ size: 28, sizeFrom: `the generator's run (${run.dir}/run.json)` });
    expect(ev.datasets.real.fingerprint).toBe(run.record.fingerprint);
    await rejects(['evaluate', '--run', runs.plain, '--synthetic', samples, '--split-seed', '7', '--json', json], /^--split-seed: --run .* supplies the run's split \(splits\.csv\); drop --split-seed/);
  }, 120_000);
});
