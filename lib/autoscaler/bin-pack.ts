// Resource arithmetic of the autoscaler's decisions: whether a demand shape fits what a
// node has left, taking it, and first-fit-decreasing packing of shapes onto nodes (Ray's
// resource_demand_scheduler packs the same way). Pure functions over plain objects.

/** Resource amounts by name. */
export type Resources = Record<string, number>;

/** Slack for fractional amounts summed in floating point (resources are 1/10000 fixed-point). */
const EPS = 1e-9;

/** Whether shape fits into what `room` has left. */
export function fits(room: Resources, shape: Resources): boolean {
  for (const [k, v] of Object.entries(shape)) if (v > 0 && (room[k] ?? 0) + EPS < v) return false;
  return true;
}

/** Takes shape out of room (room changes). */
export function take(room: Resources, shape: Resources): void {
  for (const [k, v] of Object.entries(shape)) if (v > 0) room[k] = (room[k] ?? 0) - v;
}

/** The sum of shapes. */
export function sum(shapes: readonly Resources[]): Resources {
  const out: Resources = {};
  for (const s of shapes) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** A size to sort by: larger, scarcer demands are packed first (GPUs weigh most). */
function weight(shape: Resources): number {
  let w = 0;
  for (const [k, v] of Object.entries(shape)) w += k === 'GPU' ? v * 1000 : v;
  return w;
}

/** Shapes largest first (a copy). */
export function largestFirst<T extends Resources>(shapes: readonly T[]): T[] {
  return [...shapes].sort((a, b) => weight(b) - weight(a));
}

/**
 * Packs shapes onto rooms, first fit, largest shape first; the rooms change (what is left).
 * Returns the shapes that fit nowhere, and for each room whether anything went on it.
 */
export function pack(
  rooms: Resources[],
  shapes: readonly Resources[],
): { unfit: Resources[]; used: boolean[] } {
  const unfit: Resources[] = [];
  const used = rooms.map(() => false);
  for (const s of largestFirst(shapes)) {
    const i = rooms.findIndex((r) => fits(r, s));
    if (i < 0) unfit.push(s);
    else {
      take(rooms[i] as Resources, s);
      used[i] = true;
    }
  }
  return { unfit, used };
}

/** A stable text of a shape, to count equal shapes ({"CPU":1,"special":1}). */
export function shapeText(shape: Resources): string {
  const keys = Object.keys(shape)
    .filter((k) => shape[k] !== 0)
    .sort();
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, shape[k]])));
}
