/**
 * Training sets described by index into shared image arrays, so that the ways of eval/utility cost no
 * copy until their classifier is trained, one way at a time.
 */
/** One NHWC image array with a label per image. */
export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

/**
 * A training set gathered by index: row r is image `index[r]` of `sources[source[r]]`. The ways of
 * eval/utility are described this way so that no way is copied until its classifier is trained (one way at
 * a time), and (d) shares the real images instead of holding its own copy of them.
 */
export interface GatheredImages {
  sources: Float32Array[];
  source: Uint8Array;
  index: Int32Array;
  labels: Int32Array;
  n: number;
}

/** Row r of a gathered set, as a view into its source array (`len` floats per image; no copy). */
export function gatheredRow(set: GatheredImages, len: number): (r: number) => Float32Array {
  return (r) => {
    const i = set.index[r]!;
    return set.sources[set.source[r]!]!.subarray(i * len, (i + 1) * len);
  };
}

/** Copies a gathered set into one NHWC array (`len` floats per image); the caller owns the result. */
export function materialise(set: GatheredImages, len: number): LabelledImages {
  const images = new Float32Array(set.n * len);
  const row = gatheredRow(set, len);
  for (let r = 0; r < set.n; r++) images.set(row(r), r * len);
  return { images, labels: set.labels, n: set.n };
}

/** Rows `index` of one image array, as a gathered set (labels per row given). */
export function gatherRows(images: Float32Array, index: ArrayLike<number>, labels: ArrayLike<number>): GatheredImages {
  return { sources: [images], source: new Uint8Array(index.length), index: Int32Array.from(index), labels: Int32Array.from(labels), n: index.length };
}

/** Rows of `a` then rows of `b`, as one gathered set (shares the image arrays; copies nothing). */
export function concatGathered(a: GatheredImages, b: GatheredImages): GatheredImages {
  const sources = [...a.sources];
  const remap = b.sources.map((s) => {
    const at = sources.indexOf(s);
    if (at >= 0) return at;
    sources.push(s);
    return sources.length - 1;
  });
  const source = new Uint8Array(a.n + b.n);
  source.set(a.source);
  for (let r = 0; r < b.n; r++) source[a.n + r] = remap[b.source[r]!]!;
  const index = new Int32Array(a.n + b.n);
  index.set(a.index);
  index.set(b.index, a.n);
  const labels = new Int32Array(a.n + b.n);
  labels.set(a.labels);
  labels.set(b.labels, a.n);
  return { sources, source, index, labels, n: a.n + b.n };
}
