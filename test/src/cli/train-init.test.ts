// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth train --init-from RUN` (warm start from public pretraining): the new run starts from exactly
 * the pretraining run's weights, records where they came from in run.json and the model card, and refuses
 * — before writing anything — a DP run warm-started from a model of its own data, a run of another shape,
 * and --init-from with --resume.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import { generatorFactory } from '../../../models/registry.js';
import { initialiseFrom, loadRunGenerator, readRunConfig } from '../../../src/train/run.js';
import { runCli } from '../../helpers/cli.js';

let work: string;
let privateData: string;
let publicData: string;
let pretrained: string;
const TRAIN = ['--model', 'dpgan', '--size', '28', '--condition', 'label,sex', '--batch-size', '32'];
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

beforeAll(async () => {
  await initBackend('wasm');
  work = mkdtempSync(join(tmpdir(), 'medsynth-init-'));
  privateData = join(work, 'private');
  publicData = join(work, 'public');
  expect(runCli(['data', 'phantom', '--out', privateData, '--n', '200', '--size', '28', '--seed', '6']).status).toBe(0);
  expect(runCli(['data', 'phantom', '--out', publicData, '--n', '200', '--size', '28', '--seed', '7']).status).toBe(0);
  pretrained = join(work, 'pretrained');
  const r = runCli(['train', '--data', publicData, '--out', pretrained, '--epochs', '1', ...TRAIN, '--seed', '3', '--no-dp']);
  expect(r.status, r.stderr).toBe(0);
});

describe('warm start from a pretraining run', () => {
  it('copies every weight of the pretraining run, G EMA shadow included, without leaking tensors', () => {
    const { gen: source, cfg, conditions } = loadRunGenerator(pretrained);
    // A fresh generator with another seed: different initial weights, same shapes.
    const target = generatorFactory('dpgan')!.create(cfg.generator, conditions.spec, { size: 28, channels: 1 }, 99);
    try {
      const differing = [...target.weights()].filter(([k, v]) => tf.tidy(() => tf.max(tf.abs(tf.sub(v, source.weights().get(k)!))).dataSync()[0]!) > 0);
      expect(differing.length).toBeGreaterThan(0);
      expect([...target.weights().keys()].some((k) => k.startsWith('generator/ema/'))).toBe(true);
      const before = tf.memory().numTensors;
      const rec = initialiseFrom(pretrained, { ...cfg, seed: 99 }, 'not-the-pretraining-data', target);
      expect(tf.memory().numTensors).toBe(before);
      for (const [k, v] of target.weights()) expect(Array.from(v.dataSync()), k).toEqual(Array.from(source.weights().get(k)!.dataSync()));
      expect(rec.fingerprint).toBe(readRunConfig(pretrained).fingerprint);
      expect(rec.privacy).toBe('not private');
      const h = createHash('sha256');
      for (const net of ['discriminator', 'generator']) for (const f of ['model.json', 'model.bin']) h.update(readFileSync(join(pretrained, net, f)));
      expect(rec.weightsSha256).toBe(h.digest('hex'));
    } finally {
      source.dispose();
      target.dispose();
    }
  });

  it('fine-tunes with DP from the pretrained weights and says in the card that the pretraining data is not covered', () => {
    const out = join(work, 'finetuned');
    const r = runCli(['train', '--data', privateData, '--out', out, '--epochs', '1', ...TRAIN, '--seed', '4', '--init-from', pretrained]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--init-from .*its training data must be PUBLIC/);
    const card = readJson(join(out, 'model-card.json'));
    expect(card.initialisation.run).toBe(pretrained);
    expect(card.initialisation.fingerprint).toBe(readRunConfig(pretrained).fingerprint);
    expect(card.initialisation.privacy).toBe('not private');
    expect(card.initialisation.note).toMatch(/treated as PUBLIC/);
    expect(card.privacy.differentialPrivacy).toBe(true);
    expect(card.privacy.doesNotCover.some((s: string) => s.startsWith('the pretraining data of the initial weights') && s.includes(card.initialisation.fingerprint))).toBe(true);
    // run.json keeps the resolved record, so a resume does not re-initialise and the provenance stays.
    expect(readRunConfig(out).initFrom).toEqual(card.training.config.initFrom);
    expect(typeof readRunConfig(out).initFrom).toBe('object');
  });

  it('refuses a DP run warm-started from a model of its own data, writing nothing', () => {
    const out = join(work, 'same-data');
    const r = runCli(['train', '--data', publicData, '--out', out, '--epochs', '1', ...TRAIN, '--init-from', pretrained]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--init-from .*trained on this run's data \(same sha256\).*pretrain on public data/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a pretraining run of another shape, naming the weight, and --init-from with --resume', () => {
    const out = join(work, 'other-size');
    const r = runCli(['train', '--data', privateData, '--out', out, '--epochs', '1', ...TRAIN, '--size', '32', '--init-from', pretrained]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--init-from .*: weight \S+ is \[[\d, ]+\] there but \[[\d, ]+\] here; the pretraining run needs the same --model, --size/);
    expect(existsSync(out)).toBe(false);
    const n = runCli(['train', '--data', privateData, '--out', join(work, 'nothing'), '--epochs', '1', ...TRAIN, '--init-from', join(work, 'nothing-here')]);
    expect(n.status).not.toBe(0);
    expect(n.stderr).toMatch(/--init-from .*nothing-here: not a finished medsynth run/);
    const resume = runCli(['train', '--resume', pretrained, '--init-from', pretrained]);
    expect(resume.status).not.toBe(0);
    expect(resume.stderr).toMatch(/--init-from starts a new run/);
  });

  it('DP fine-tunes only the dTrainable layers: the frozen ones keep the pretrained weights, and the card says which were private', () => {
    const out = join(work, 'peft');
    const cfg = JSON.stringify({ dTrainable: ['discriminator/head', 'discriminator/embed'] });
    const r = runCli(['train', '--data', privateData, '--out', out, '--epochs', '1', ...TRAIN, '--seed', '5', '--init-from', pretrained, '--model-config', cfg]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/frozen by the model's trainable option/);
    const { gen: source } = loadRunGenerator(pretrained);
    const { gen: tuned } = loadRunGenerator(out);
    try {
      const moved = [...tuned.weights()]
        .filter(([k]) => k.startsWith('discriminator/'))
        .filter(([k, v]) => tf.tidy(() => tf.max(tf.abs(tf.sub(v, source.weights().get(k)!))).dataSync()[0]!) > 0)
        .map(([k]) => k)
        .sort();
      expect(moved).toEqual(['discriminator/embed/bias', 'discriminator/embed/kernel', 'discriminator/head/bias', 'discriminator/head/kernel']);
    } finally {
      source.dispose();
      tuned.dispose();
    }
    const p = readJson(join(out, 'model-card.json')).privacy;
    expect(p.privatelyTrained.layers).toEqual(['discriminator/head', 'discriminator/embed']);
    expect(p.privatelyTrained.parameters).toBeLessThan(p.privatelyTrained.ofParameters);
    expect(p.frozen.layers).toContain('discriminator/conv0');
    expect(p.privateModule).toContain('discriminator/conv0'); // frozen layers still see the private images
    // Without --init-from the frozen layers would keep random weights: trained, but with a warning.
    const bare = runCli(['train', '--data', privateData, '--out', join(work, 'peft-bare'), '--epochs', '1', ...TRAIN, '--seed', '5', '--model-config', cfg]);
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.stderr).toMatch(/layers of the private module are frozen by the model's trainable option but there is no --init-from/);
  });
});
