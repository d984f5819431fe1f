/** Largest absolute difference between two arrays, and the largest magnitude of the reference. */
export function maxDiff(got: ArrayLike<number>, ref: ArrayLike<number>): { diff: number; scale: number } {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let diff = 0;
  let scale = 0;
  for (let j = 0; j < ref.length; j++) {
    diff = Math.max(diff, Math.abs(got[j]! - ref[j]!));
    scale = Math.max(scale, Math.abs(ref[j]!));
  }
  return { diff, scale };
}
