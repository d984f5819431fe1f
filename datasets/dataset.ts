/**
 * The in-memory dataset every adapter produces and every later stage (splits, training, evaluation,
 * audits) consumes.
 *
 * Layout: `images` is NHWC float32, row-major, values in [0, 1]:
 *   pixel (i, y, x, c) = images[((i * height + y) * width + x) * channels + c]
 * `bitDepth` is the bit depth of the source files (8 or 16); samples are written back at that depth.
 */
export type SplitName = 'train' | 'holdout' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'holdout', 'test'];

/** A categorical attribute (sex, age band, site, ...). Numeric columns arrive here already binned. */
export interface Attribute {
  /** Column name, e.g. `sex`. */
  name: string;
  /** Category names; `codes[i]` indexes into this list. Includes `missing` when a value was empty. */
  values: string[];
  /** One code per image. */
  codes: Int32Array;
  /** Present when the column was numeric and binned: the bin edges used (ascending). */
  binEdges?: number[];
}

export interface ImageDataset {
  /** Short human name (folder or file name). */
  name: string;
  /** What was read, so results can be traced to it. */
  source: DatasetSource;
  n: number;
  height: number;
  width: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Bit depth of the source images. */
  bitDepth: 8 | 16;
  /** NHWC float32 in [0, 1], length n * height * width * channels. */
  images: Float32Array;
  /** Integer class per image, 0 ≤ label < labelNames.length. */
  labels: Int32Array;
  /** Class names, indexed by label. */
  labelNames: string[];
  /** Categorical demographic (and acquisition) attributes. */
  attributes: Attribute[];
  /**
   * The privacy unit when present: all images of one patient share an id. Never written to samples,
   * logs or reports.
   */
  patientIds?: string[];
  /** Stable per-image ids (manifest path or `npz:<split>:<index>`), unique within the dataset. */
  ids: string[];
  /** The split each image was assigned by its source (manifest `split` column or npz array), if any. */
  sourceSplits?: (SplitName | null)[];
}

export interface DatasetSource {
  /** Adapter that produced the dataset: `folder-csv`, `medmnist-npz`, `dicom` or `phantom`. */
  kind: 'folder-csv' | 'medmnist-npz' | 'dicom' | 'phantom';
  /** The file or folder given by the user. */
  path: string;
  /** sha256 (hex) over the manifest bytes and every image file's bytes, in manifest order. */
  fingerprint: string;
  /** Named preprocessing choices applied when loading (resize filter, crop, channel rule, ...). */
  preprocessing: Preprocessing;
  /** Smallest and largest source image width and height, in pixels, before crop and resize. */
  sourceDims: SourceDims;
  /** DICOM only: each tag the adapter read and how many files lacked it (counts, never values). */
  tags?: { keyword: string; tag: string; missing: number }[];
}

export interface SourceDims {
  width: [number, number];
  height: [number, number];
}

/** Widens `dims` to include one more image of `width` × `height`. */
export function widenDims(dims: SourceDims | undefined, width: number, height: number): SourceDims {
  if (!dims) return { width: [width, width], height: [height, height] };
  return {
    width: [Math.min(dims.width[0], width), Math.max(dims.width[1], width)],
    height: [Math.min(dims.height[0], height), Math.max(dims.height[1], height)],
  };
}

export interface Preprocessing {
  /** Output side length in pixels. */
  size: number;
  channels: 1 | 3;
  /** `center-crop` to a square, then resize. */
  crop: 'center-crop';
  /** Filter used: `area` when shrinking, `bilinear` when enlarging, `none` when the size already matches. */
  resize: 'area+bilinear';
  /** RGB → grey rule (ITU-R BT.601 luma) and grey → RGB rule (replicate). */
  colour: 'bt601-luma|replicate';
  /** Alpha is dropped (images are composited over nothing: colour channels are taken as stored). */
  alpha: 'drop';
  /**
   * PNG/JPEG decoder (folder-csv): `sharp` (libvips) or `js` (pngjs; libjpeg-turbo in WebAssembly, and
   * jpeg-js for CMYK JPEGs). PNG pixels agree to float rounding and 8-bit JPEG samples are identical (the
   * same libjpeg-turbo decodes them); the decoder stays part of the named preprocessing because CMYK JPEGs
   * and files sharp declines can still differ. Absent for adapters that decode nothing of the kind.
   */
  decoder?: 'sharp' | 'js';
  /**
   * DICOM grey windowing actually applied, `+`-joined when files differ: `voi-window` (WindowCenter/Width),
   * `voi-lut` (VOI LUT Sequence), or the fallback for files without either, `minmax` or `percentile`.
   */
  window?: string;
  /** DICOM multi-frame files: the first frame only, or every frame as its own image. */
  frames?: 'first' | 'all';
}

/** Number of pixels per image (H · W · C). */
export function imageLength(ds: Pick<ImageDataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

/** A view of image i (no copy). */
export function imageAt(ds: ImageDataset, i: number): Float32Array {
  const len = imageLength(ds);
  return ds.images.subarray(i * len, (i + 1) * len);
}

/** A new dataset holding the images at `indices`, in that order (copies pixels). */
export function subset(ds: ImageDataset, indices: readonly number[]): ImageDataset {
  const len = imageLength(ds);
  const images = new Float32Array(indices.length * len);
  indices.forEach((src, dst) => images.set(ds.images.subarray(src * len, (src + 1) * len), dst * len));
  const pick = <T>(arr: readonly T[]): T[] => indices.map((i) => arr[i]!);
  return {
    ...ds,
    n: indices.length,
    images,
    labels: Int32Array.from(indices, (i) => ds.labels[i]!),
    attributes: ds.attributes.map((a) => ({ ...a, codes: Int32Array.from(indices, (i) => a.codes[i]!) })),
    patientIds: ds.patientIds ? pick(ds.patientIds) : undefined,
    ids: pick(ds.ids),
    sourceSplits: ds.sourceSplits ? pick(ds.sourceSplits) : undefined,
  };
}

/** The attribute called `name`, or undefined. */
export function findAttribute(ds: ImageDataset, name: string): Attribute | undefined {
  return ds.attributes.find((a) => a.name === name);
}
