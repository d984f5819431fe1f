/**
 * Saving and loading generator weights in the TensorFlow.js weights format: `model.json` holds a
 * `weightsManifest` (names, shapes, dtypes, and the binary file) beside medsynth's own description of
 * the generator; `weights.bin` holds the float32 values in manifest order (tf.io.encodeWeights). A
 * checkpoint adds the optimiser state the same way (`optimizer.json` + `optimizer.bin`). Files are
 * written atomically.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DatasetError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';

export interface SavedTensors {
  /** JSON that goes beside the manifest (generator type, config, condition spec, ...). */
  meta: Record<string, unknown>;
  tensors: Map<string, tf.Tensor>;
}

/** Writes `<stem>.json` and `<stem>.bin` into `dir`. */
export async function saveTensors(dir: string, stem: string, meta: Record<string, unknown>, tensors: Map<string, tf.Tensor>): Promise<void> {
  const named = [...tensors].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  writeFileAtomic(join(dir, `${stem}.bin`), new Uint8Array(data));
  const manifest = { ...meta, weightsManifest: [{ paths: [`${stem}.bin`], weights: specs }] };
  writeFileAtomic(join(dir, `${stem}.json`), JSON.stringify(manifest, null, 2) + '\n');
}

/** Reads what `saveTensors` wrote. The caller owns the returned tensors. */
export function loadTensors(dir: string, stem: string): SavedTensors {
  const jsonPath = join(dir, `${stem}.json`);
  let manifest: { weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] } & Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new DatasetError(`${jsonPath}: cannot read the saved model (${(err as Error).message.split('\n')[0]}); check the run folder`);
  }
  const group = manifest.weightsManifest?.[0];
  if (!group) throw new DatasetError(`${jsonPath}: no weightsManifest; not a medsynth model file`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, group.paths[0]!));
  } catch {
    throw new DatasetError(`${join(dir, group.paths[0]!)}: weights file missing; the run folder is incomplete`);
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const decoded = tf.io.decodeWeights(buffer, group.weights);
  const { weightsManifest: _ignored, ...meta } = manifest;
  void _ignored;
  return { meta, tensors: new Map(Object.entries(decoded)) };
}
