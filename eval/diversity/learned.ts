/**
 * "Learned at all" figures (issue #18): did a conditional generator learn the data, rather than one
 * average image or a handful of memorised ones? Each figure has a real-vs-real reference measured the
 * same way (a held-out real sample of the same size), so a value is read against what real data gives.
 *
 * Input contract: images NHWC float32 in [0, 1], row-major, `len` = height · width · channels values
 * per image; nearest-neighbour indices and k-means counts come from the callers' blocked routines
 * (eval/privacy/nearest.ts, eval/diversity/modes.ts). Everything here is plain arithmetic in float64.
 *
 * Distinct nearest records, for M query images q_j and a real train set {x_i} (nn = argmin_i ||q_j - x_i||_2):
 *   distinct = |{ nn(q_j) : j = 1..M }|,   share = distinct / M                 maximize; in (0, 1]
 * A generator that emits one image (or copies a few) has distinct ~ 1 (or a few); a held-out real sample
 * of the same size gives the reference. The share depends on M and on the train-set size: compare only
 * at equal M against the same train set (as in the issue's "303 samples, 7 distinct nearest images").
 *
 * Mode coverage ratio, for counts c_1..c_K of synthetic rows and r_1..r_K of reference rows (an equal-size
 * real held-out sample) in K k-means bins fitted on the real train set (Richardson & Weiss, NeurIPS 2018,
 * Sec. 3, the bins of NDB):
 *   coverage(c) = #{ j : c_j >= 1 } / K,   ratio = coverage(c) / coverage(r)     maximize; ~1 for real data
 *
 * Mean-image distance, for the mean images m_S (synthetic) and m_R (real) of one class or cell, D values each:
 *   m = 1/n sum_i x_i,   RMS(m_S, m_R) = sqrt( 1/D sum_d (m_S[d] - m_R[d])^2 )    minimize; in [0, 1]
 * A class mean built from cells is weighted: m = sum_g w_g m_g / sum_g w_g (e.g. w_g = real train counts),
 * so a synthetic set balanced over groups is compared with the real class at the real group mix.
 *
 * Mean colour of an NHWC mean image with C channels and P = D / C pixels:
 *   colour[c] = 1/P sum_p m[p C + c],   maxAbsDiff(a, b) = max_c |a[c] - b[c]|      minimize
 * (the mean of the mean image is the mean over all images and pixels, so this is the class's mean colour).
 */

/** Count of distinct values among nearest-record indices, and that as a share of the queries. */
export function distinctNearest(nearest: ArrayLike<number>): { n: number; distinct: number; share: number } {
  const n = nearest.length;
  if (n === 0) throw new Error('internal error: distinctNearest needs at least one query');
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(nearest[i]!);
  return { n, distinct: seen.size, share: seen.size / n };
}

/** Share of bins holding at least one row. */
export function modeCoverage(counts: readonly number[]): number {
  if (counts.length === 0) throw new Error('internal error: modeCoverage needs at least one bin');
  return counts.filter((c) => c >= 1).length / counts.length;
}

/** Coverage of the synthetic counts, of the reference counts, and their ratio (null when the reference covers nothing). */
export function modeCoverageRatio(
  synthetic: readonly number[],
  reference: readonly number[],
): { synthetic: number; reference: number; ratio: number | null } {
  if (synthetic.length !== reference.length) {
    throw new Error(`internal error: modeCoverageRatio over ${synthetic.length} and ${reference.length} bins`);
  }
  const s = modeCoverage(synthetic);
  const r = modeCoverage(reference);
  return { synthetic: s, reference: r, ratio: r > 0 ? s / r : null };
}

/**
 * Mean image of each of `groups` groups: images with group[i] = g (a group index, or -1 to leave the
 * image out). `means[g]` is null for an empty group.
 */
export function groupMeanImages(
  images: Float32Array,
  len: number,
  group: ArrayLike<number>,
  groups: number,
): { means: (Float64Array | null)[]; counts: number[] } {
  if (images.length !== group.length * len) {
    throw new Error(`internal error: groupMeanImages: ${images.length} values for ${group.length} images of ${len}`);
  }
  const sums = Array.from({ length: groups }, () => new Float64Array(len));
  const counts = new Array<number>(groups).fill(0);
  for (let i = 0; i < group.length; i++) {
    const g = group[i]!;
    if (g < 0) continue;
    if (g >= groups) throw new Error(`internal error: groupMeanImages: group ${g} of ${groups}`);
    counts[g]!++;
    const s = sums[g]!;
    for (let d = 0; d < len; d++) s[d]! += images[i * len + d]!;
  }
  return {
    means: sums.map((s, g) => (counts[g] ? s.map((v) => v / counts[g]!) : null)),
    counts,
  };
}

/** sum_g w_g m_g / sum_g w_g over the non-null means with w_g > 0; null when none is left. */
export function weightedMeanImage(means: readonly (Float64Array | null)[], weights: readonly number[]): Float64Array | null {
  let out: Float64Array | null = null;
  let total = 0;
  for (let g = 0; g < means.length; g++) {
    const m = means[g];
    const w = weights[g] ?? 0;
    if (!m || !(w > 0)) continue;
    out ??= new Float64Array(m.length);
    for (let d = 0; d < m.length; d++) out[d]! += w * m[d]!;
    total += w;
  }
  return out ? out.map((v) => v / total) : null;
}

/** Root mean square of the element-wise difference of two equal-length images. */
export function rmsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`internal error: rmsDifference of lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let d = 0; d < a.length; d++) s += (a[d]! - b[d]!) ** 2;
  return Math.sqrt(s / a.length);
}

/** Per-channel mean of an NHWC image (or mean image) with `channels` channels. */
export function meanColour(image: ArrayLike<number>, channels: number): number[] {
  if (image.length === 0 || image.length % channels !== 0) {
    throw new Error(`internal error: meanColour: ${image.length} values are not whole pixels of ${channels} channels`);
  }
  const out = new Array<number>(channels).fill(0);
  for (let d = 0; d < image.length; d++) out[d % channels]! += image[d]!;
  const pixels = image.length / channels;
  return out.map((v) => v / pixels);
}

/** max_c |a[c] - b[c]|. */
export function maxAbsDifference(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`internal error: maxAbsDifference of lengths ${a.length} and ${b.length}`);
  return Math.max(...a.map((v, c) => Math.abs(v - b[c]!)));
}

/** Mean, minimum and maximum of the non-null values (over training seeds, classifier seeds, ...); null if none. */
export function spread(values: readonly (number | null)[]): { mean: number; min: number; max: number; n: number } | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (!v.length) return null;
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v), n: v.length };
}
