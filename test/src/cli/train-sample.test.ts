// @module-tag slow (runs the built CLI; see vitest.config.ts)
/**
 * `medsynth train` and `medsynth sample` as a user runs them: the run folder and model card, an
 * interrupted run (SIGINT) resumed to the same bytes as an uninterrupted one, samples that are the same
 * bytes for the same seed, and one-line errors for bad conditions.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { encodePng } from '../../../datasets/image/encode.js';
import { BIN, runCli } from '../../helpers/cli.js';
import { REPO_ROOT } from '../../helpers/fixtures.js';

let work: string;
let data: string;
const TRAIN = ['--size', '28', '--condition', 'label,sex', '--batch-size', '32', '--seed', '5'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medsynth-train-'));
  data = join(work, 'phantom');
  expect(runCli(['data', 'phantom', '--out', data, '--n', '240', '--size', '28', '--seed', '2']).status).toBe(0);
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function dirHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()) {
    h.update(f.slice(dir.length)).update(readFileSync(f));
  }
  return h.digest('hex');
}

describe('medsynth train', () => {
  it('writes a run folder with weights, metrics, splits and a model card', () => {
    const out = join(work, 'run-a');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '3', ...TRAIN, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('{"event":"epoch"'))).toHaveLength(3);
    for (const f of ['run.json', 'splits.csv', 'conditions.json', 'metrics.jsonl', 'model-card.json', 'encoder/model.json', 'encoder/model.bin', 'decoder/model.json', 'decoder/model.bin', 'checkpoint/state.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const card = JSON.parse(readFileSync(join(out, 'model-card.json'), 'utf8'));
    expect(card.generator.type).toBe('cvae');
    expect(card.conditioning.attributes.map((a: { name: string }) => a.name)).toEqual(['sex']);
    expect(card.dataset.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(card.training.seed).toBe(5);
    expect(card.splits.sizes.train).toBeGreaterThan(100);
    expect(card.environment.backend.name).toBe('wasm');
    expect(Number.isFinite(card.training.finalLosses.loss)).toBe(true);
    // The model files are tfjs weight manifests.
    const manifest = JSON.parse(readFileSync(join(out, 'decoder/model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths).toEqual(['model.bin']);
    // Privacy: no patient identifier in anything the run wrote as text.
    const ids = new Set(readFileSync(join(data, 'manifest.csv'), 'utf8').split('\n').slice(1).map((l) => l.split(',').pop()).filter(Boolean));
    for (const f of ['run.json', 'conditions.json', 'metrics.jsonl', 'model-card.json', 'splits.csv']) {
      const text = readFileSync(join(out, f), 'utf8');
      for (const id of ids) expect(text.includes(`${id},`) || text.includes(`"${id}"`), `${id} in ${f}`).toBe(false);
    }
  });

  it('resumes an interrupted run (SIGINT) to the same weights as an uninterrupted one', async () => {
    // 6 epochs: after 'epoch 1:' the signal has five more epochs (seconds, even on a busy machine) to arrive.
    const straight = join(work, 'run-straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '6', ...TRAIN]).status).toBe(0);

    const cut = join(work, 'run-cut');
    const child = spawn(process.execPath, [BIN, 'train', '--data', data, '--out', cut, '--epochs', '6', ...TRAIN], { cwd: REPO_ROOT });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!signalled && stderr.includes('epoch 1:')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code, stderr).toBe(130); // 128 + SIGINT: a script can tell the stop from a finished run
    expect(stderr).toMatch(/stopped at step \d+; continue with: medsynth train --resume/);
    expect(existsSync(join(cut, 'model-card.json'))).toBe(false);
    expect(existsSync(join(cut, 'checkpoint/state.json'))).toBe(true);

    const r = runCli(['train', '--resume', cut]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['encoder/model.bin', 'decoder/model.bin']) expect(sha(join(cut, f)), f).toBe(sha(join(straight, f)));
  });

  const hasScript = existsSync('/usr/bin/script');
  if (!hasScript) console.warn("skipping the progress-bar test: util-linux 'script' (a pseudo-terminal) is not installed");
  it.skipIf(!hasScript)('shows a progress bar with losses, images/s and ETA on a terminal, plain lines otherwise', () => {
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    const out = join(work, 'run-tty');
    const cmd = [process.execPath, BIN, 'train', '--data', data, '--out', out, '--epochs', '1', ...TRAIN].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd: REPO_ROOT, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/epoch 1\/1 \[#+-*\] step \d+\/\d+ +loss [\d.]+ +rec [\d.]+ +kl [\d.]+ .* img\/s +ETA \d+s/);
    const plain = runCli(['train', '--data', data, '--out', join(work, 'run-plain'), '--epochs', '1', ...TRAIN]);
    expect(plain.stderr).not.toMatch(/\[#/);
    expect(plain.stderr).toMatch(/epoch 1: loss [\d.]+/);
  });

  it('stops on a NaN loss with a one-line message and no model card', () => {
    const out = join(work, 'run-nan');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '2', '--lr', '1e30', ...TRAIN]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: training diverged at epoch \d+, step \d+: \w+ is (NaN|-?Infinity); .*lower --lr/);
    expect(existsSync(join(out, 'model-card.json'))).toBe(false);
  });

  it('refuses an unknown conditioning attribute and an existing run folder, writing nothing', () => {
    const out = join(work, 'run-bad');
    const r = runCli(['train', '--data', data, '--out', out, '--condition', 'label,height', '--size', '28']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--condition height: .* has no attribute 'height' \(available: label, sex, age, site\)/);
    expect(existsSync(out)).toBe(false);
    const again = runCli(['train', '--data', data, '--out', join(work, 'run-a'), '--size', '28']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already exists; .* --resume/);
  });
});

describe('medsynth sample', () => {
  it('writes the requested images and manifest; same seed, same bytes', () => {
    const run = join(work, 'run-a');
    const a = join(work, 'samples-a');
    const b = join(work, 'samples-b');
    const r = runCli(['sample', '--model', run, '--n', '10', '--label', 'disease', '--where', 'sex=female', '--seed', '3', '--out', a, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).perClass).toEqual({ disease: 10 });
    expect(runCli(['sample', '--model', run, '--n', '10', '--label', 'disease', '--where', 'sex=female', '--seed', '3', '--out', b]).status).toBe(0);
    expect(dirHash(a)).toBe(dirHash(b));
    const rows = readFileSync(join(a, 'manifest.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('path,label,label_name,sex,synthetic,model_id,seed');
    expect(rows).toHaveLength(11);
    for (const row of rows.slice(1)) expect(row).toMatch(/^images\/syn_\d{6}\.png,1,disease,female,1,cvae-[0-9a-f]{12},3$/);
    // Open conditions come from the training distribution: both classes appear in a large draw.
    const c = join(work, 'samples-c');
    const rc = runCli(['sample', '--model', run, '--n', '200', '--seed', '4', '--out', c, '--json']);
    expect(Object.keys(JSON.parse(rc.stdout).perClass).sort()).toEqual(['disease', 'healthy']);
  });

  it('writes 16-bit PNGs when the training images were 16-bit', () => {
    const dir = join(work, 'sixteen');
    mkdirSync(join(dir, 'img'), { recursive: true });
    const rows = ['path,label'];
    for (let i = 0; i < 40; i++) {
      const px = Float32Array.from({ length: 28 * 28 }, (_, k) => ((k + i * 7) % 97) / 97);
      writeFileSync(join(dir, 'img', `${i}.png`), encodePng(px, 28, 28, 1, 16));
      rows.push(`img/${i}.png,${i % 2}`);
    }
    writeFileSync(join(dir, 'manifest.csv'), rows.join('\n') + '\n');
    const run = join(work, 'run-16');
    expect(runCli(['train', '--data', dir, '--out', run, '--epochs', '1', '--size', '28']).status).toBe(0);
    const out = join(work, 'samples-16');
    expect(runCli(['sample', '--model', run, '--n', '3', '--out', out]).status).toBe(0);
    const png = readFileSync(join(out, 'images/syn_000001.png'));
    expect(png[24]).toBe(16); // IHDR bit depth
  });

  it('reconstructs real test images beside the originals when asked', () => {
    const out = join(work, 'recon.png');
    const r = runCli(['reconstruct', '--model', join(work, 'run-a'), '--n', '8', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const png = readFileSync(out);
    expect(png.readUInt32BE(16)).toBe(8 * 28); // width: 8 images
    expect(png.readUInt32BE(20)).toBe(2 * 28); // height: one real row, one reconstruction row
  });

  it('names the valid values when a condition is unknown, and writes nothing', () => {
    const run = join(work, 'run-a');
    const out = join(work, 'samples-bad');
    const r1 = runCli(['sample', '--model', run, '--label', 'flu', '--out', out]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/--label flu: not a class of this model; use one of healthy, disease/);
    const r2 = runCli(['sample', '--model', run, '--where', 'sex=other', '--out', out]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/--where sex=other: unknown value; use one of female, male/);
    expect(existsSync(out)).toBe(false);
  });
});
