// Turning a search space into concrete configs: where its domains are (paths into nested
// objects), the grid's combinations, and one config per (grid point, random draw). Shared by
// BasicVariantGenerator (grid and random search) and TPESearch (which picks values itself).
import { InvalidArgumentError } from '../index.js';
import type { Rng } from './rng.js';
import { type Domain, GridSearch, isDomain, isPlainObject, type SampleFrom } from './search-space.js';

/** A key path into a config: object keys and array indices. */
export type Path = readonly (string | number)[];

/** A domain of a search space and where it sits. */
export interface Leaf {
  path: Path;
  /** The path as Ray flattens it: keys joined by '/'. */
  key: string;
  domain: Domain;
}

/** The domains of a search space, in the order they appear (depth first). */
export function leavesOf(space: unknown): Leaf[] {
  const out: Leaf[] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (isDomain(v)) out.push({ path, key: path.join('/'), domain: v });
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i], [...path, i]);
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  if (!isPlainObject(space)) {
    throw new InvalidArgumentError(
      `the search space (config / paramSpace) must be a plain object, got ${space === null ? 'null' : typeof space}`,
    );
  }
  walk(space, []);
  return out;
}

/** A copy of the space's plain objects and arrays (domains and other values shared), to fill in. */
export function cloneSpace<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneSpace) as T;
  if (isPlainObject(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = cloneSpace(x);
    return o as T;
  }
  return v;
}

/** Sets the value at path inside obj (the containers exist: obj is a clone of the space). */
export function setPath(obj: unknown, path: Path, value: unknown): void {
  const last = path[path.length - 1];
  if (last === undefined) return;
  let cur = obj as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, unknown>;
  cur[last] = value;
}

/** The value at path inside obj, or undefined. */
export function getPath(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** How many points the space's grid has (1 without gridSearch). */
export function gridSize(leaves: readonly Leaf[]): number {
  let n = 1;
  for (const l of leaves) if (l.domain instanceof GridSearch) n *= l.domain.values.length;
  return n;
}

/**
 * The grid point with this index: a value for each gridSearch leaf. The first grid leaf varies
 * fastest, as in Ray.
 */
export function gridPoint(leaves: readonly Leaf[], index: number): Map<Leaf, unknown> {
  const point = new Map<Leaf, unknown>();
  let rest = index;
  for (const l of leaves) {
    if (!(l.domain instanceof GridSearch)) continue;
    const n = l.domain.values.length;
    point.set(l, l.domain.values[rest % n]);
    rest = Math.floor(rest / n);
  }
  return point;
}

/**
 * A config from the space: values given in `fixed` (by leaf) first, then every other sampled
 * domain drawn from rng in order, then sampleFrom functions in order (they see the rest).
 */
export function resolveConfig(
  space: unknown,
  leaves: readonly Leaf[],
  fixed: ReadonlyMap<Leaf, unknown>,
  rng: Rng,
): Record<string, unknown> {
  const config = cloneSpace(space) as Record<string, unknown>;
  const functions: Leaf[] = [];
  for (const l of leaves) {
    if (fixed.has(l)) setPath(config, l.path, fixed.get(l));
    else if (l.domain.kind === 'function') functions.push(l);
    else setPath(config, l.path, l.domain.sample(rng));
  }
  for (const l of functions) {
    let v: unknown;
    try {
      v = (l.domain as SampleFrom<unknown>).fn({ config });
    } catch (err) {
      throw new InvalidArgumentError(
        `sampleFrom() at '${l.key}' threw: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    setPath(config, l.path, v);
  }
  return config;
}

/** A short readable form of a config's resolved values, for trial directory names (Ray's experiment tag). */
export function formatVars(config: unknown, leaves: readonly Leaf[]): string {
  const parts: string[] = [];
  for (const l of leaves) {
    const name = String(l.path[l.path.length - 1]);
    let v = getPath(config, l.path);
    if (typeof v === 'number' && !Number.isInteger(v)) v = Number(v.toPrecision(4));
    let s = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    if (s.length > 20) s = `${s.slice(0, 20)}`;
    parts.push(`${name}=${s}`);
  }
  return parts.join(',');
}

/** Flattens a config to '/'-joined keys (Ray's flattened config in progress.csv and tables). */
export function flatten(
  obj: unknown,
  prefix = '',
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  if (isPlainObject(obj)) {
    const entries = Object.entries(obj);
    if (entries.length === 0 && prefix) out[prefix] = obj;
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}/${k}` : k, out);
  } else if (prefix) out[prefix] = obj;
  return out;
}
