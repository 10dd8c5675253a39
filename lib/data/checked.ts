// Checked access for sunray/data's internal lists and maps: the executor and the block code index
// arrays they have just sized or bounds-checked, so a missing element is a bug in sunray/data,
// reported as one instead of surfacing later as an undefined deep in a task.

/** The element at index i of a list sized by the caller; throws if it is absent (a bug here). */
export function at<T>(list: ArrayLike<T>, i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`sunray/data internal error: no element ${i} of ${list.length}`);
  return v;
}

/** A value the caller knows is present (a map entry it set, a queue it checked); throws if not. */
export function must<T>(v: T | undefined | null, what = 'value'): T {
  if (v === undefined || v === null) throw new Error(`sunray/data internal error: missing ${what}`);
  return v;
}
