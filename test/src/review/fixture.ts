/** A toy `medsynth sample`-style folder for the review tests: manifest.csv + small grey PNGs, two classes × two sexes. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toCsv } from '../../../datasets/csv.js';
import { encodePng } from '../../../datasets/image/encode.js';

export function makeSamples(perCell = 3, size = 32): string {
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-review-'));
  mkdirSync(join(dir, 'images'));
  const rows: (string | number)[][] = [];
  let n = 0;
  for (const [label, name] of [[0, 'healthy'], [1, 'disease']] as const) {
    for (const sex of ['female', 'male']) {
      for (let i = 0; i < perCell; i++) {
        n++;
        const px = new Float32Array(size * size);
        for (let k = 0; k < px.length; k++) px[k] = (((k % size) + Math.floor(k / size) * (1 + label)) % 17) / 16 * (0.4 + 0.15 * (n % 4));
        const path = `images/syn_${String(n).padStart(6, '0')}.png`;
        writeFileSync(join(dir, path), encodePng(px, size, size, 1, 8));
        rows.push([path, label, name, sex, 1, 'cvae-test', 1]);
      }
    }
  }
  writeFileSync(join(dir, 'manifest.csv'), toCsv(['path', 'label', 'label_name', 'sex', 'synthetic', 'model_id', 'seed'], rows));
  writeFileSync(join(dir, 'secret.txt'), 'not an image of this folder\n');
  return dir;
}
