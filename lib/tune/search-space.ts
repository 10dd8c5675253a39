// The search space: what a trial's config may be. Each function here (gridSearch, choice,
// uniform, ...) makes a Domain, a value to be resolved per trial; anything else in a search space
// is a constant. Domains carry the type of the value they resolve to, so that `Resolved<S>` is the
// config type a trainable receives and a trainable expecting something else fails to compile.
import { InvalidArgumentError } from '../index.js';
import type { Rng } from './rng.js';

declare const resolvesTo: unique symbol;

/** Marks domains across copies of this module (a worker and the driver may load it twice). */
const DOMAIN_BRAND = Symbol.for('sunray.tune.domain');

/** The JSON form of a domain, as saved with an experiment (sampleFrom keeps its source, for reading only). */
export type DomainJSON = { $tune: string } & Record<string, unknown>;

/** A parameter to be resolved for each trial: sampled, or taken from a grid. T is the value's type. */
export abstract class Domain<T = unknown> {
  /** The type of the values this domain resolves to (types only). */
  declare readonly [resolvesTo]?: T;
  /** What kind of domain: 'float', 'integer', 'normal', 'choice', 'grid' or 'function'. */
  abstract readonly kind: 'float' | 'integer' | 'normal' | 'choice' | 'grid' | 'function';
  /** Draws a value (for 'grid', one of the values at random; grid expansion does not use this). */
  abstract sample(rng: Rng): T;
  /** The JSON form saved in tuner.json. */
  abstract toJSON(): DomainJSON;
  constructor() {
    Object.defineProperty(this, DOMAIN_BRAND, { value: true });
  }
}

/** Whether x is a search space domain (from any copy of sunray/tune). */
export function isDomain(x: unknown): x is Domain {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[DOMAIN_BRAND] === true;
}

function finite(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`${what} must be a finite number, got ${String(n)}`);
  }
  return n;
}

function bounds(low: number, high: number, fn: string, inclusive = false): void {
  finite(low, `${fn}(): lower`);
  finite(high, `${fn}(): upper`);
  if (inclusive ? low > high : low >= high) {
    throw new InvalidArgumentError(
      `${fn}(${low}, ${high}): lower must be ${inclusive ? 'at most' : 'below'} upper`,
    );
  }
}

function positiveQ(q: number, fn: string): number {
  if (finite(q, `${fn}(): q`) <= 0) throw new InvalidArgumentError(`${fn}(): q must be above 0, got ${q}`);
  return q;
}

/** Rounds to a multiple of q, without the float noise of x/q*q (0.30000000000000004). */
function quantize(x: number, q: number): number {
  const v = Math.round(x / q) * q;
  const digits = Math.max(0, -Math.floor(Math.log10(q)) + 1);
  return digits > 0 && digits < 16 ? Number(v.toFixed(digits)) : v;
}

/** A float: uniform or log-uniform between lower and upper, optionally rounded to a multiple of q. */
export class Float extends Domain<number> {
  readonly kind = 'float' as const;
  constructor(
    /** The lowest value. */
    readonly lower: number,
    /** The highest value (excluded). */
    readonly upper: number,
    /** Sampled log-uniformly (in `base`) rather than uniformly. */
    readonly log: boolean,
    /** Values are rounded to a multiple of q (undefined: not rounded). */
    readonly q: number | undefined,
    /** The logarithm's base, when `log`. */
    readonly base: number,
  ) {
    super();
  }
  sample(rng: Rng): number {
    let v = this.log
      ? this.base **
        rng.uniform(Math.log(this.lower) / Math.log(this.base), Math.log(this.upper) / Math.log(this.base))
      : rng.uniform(this.lower, this.upper);
    if (this.q !== undefined) v = quantize(v, this.q);
    return v;
  }
  toJSON(): DomainJSON {
    return {
      $tune: 'float',
      lower: this.lower,
      upper: this.upper,
      log: this.log,
      q: this.q,
      base: this.base,
    };
  }
}

/** An integer between lower and upper (upper excluded unless `inclusive`), uniform or log-uniform. */
export class Integer extends Domain<number> {
  readonly kind = 'integer' as const;
  constructor(
    /** The lowest value. */
    readonly lower: number,
    /** The highest value (excluded unless `inclusive`). */
    readonly upper: number,
    /** Sampled log-uniformly (in `base`) rather than uniformly. */
    readonly log: boolean,
    /** Values are multiples of q (1: any integer). */
    readonly q: number,
    /** upper may be drawn too. */
    readonly inclusive: boolean,
    /** The logarithm's base, when `log`. */
    readonly base: number,
  ) {
    super();
  }
  /** The largest value this domain gives. */
  get max(): number {
    return this.inclusive ? this.upper : this.upper - 1;
  }
  sample(rng: Rng): number {
    const lo = this.lower;
    const hi = this.inclusive ? this.upper + 1 : this.upper;
    let v = this.log
      ? Math.floor(
          this.base ** rng.uniform(Math.log(lo) / Math.log(this.base), Math.log(hi) / Math.log(this.base)),
        )
      : Math.floor(rng.uniform(lo, hi));
    if (this.q !== 1) v = Math.round(v / this.q) * this.q;
    return Math.min(Math.max(v, lo), this.max);
  }
  toJSON(): DomainJSON {
    return {
      $tune: 'integer',
      lower: this.lower,
      upper: this.upper,
      log: this.log,
      q: this.q,
      inclusive: this.inclusive,
      base: this.base,
    };
  }
}

/** A normally distributed float, optionally rounded to a multiple of q. */
export class Normal extends Domain<number> {
  readonly kind = 'normal' as const;
  constructor(
    /** The distribution's mean. */
    readonly mean: number,
    /** Its standard deviation. */
    readonly sd: number,
    /** Values are rounded to a multiple of q (undefined: not rounded). */
    readonly q: number | undefined,
  ) {
    super();
  }
  sample(rng: Rng): number {
    const v = this.mean + this.sd * rng.normal();
    return this.q === undefined ? v : quantize(v, this.q);
  }
  toJSON(): DomainJSON {
    return { $tune: 'normal', mean: this.mean, sd: this.sd, q: this.q };
  }
}

/** One of a list of values, drawn uniformly. */
export class Categorical<T> extends Domain<T> {
  readonly kind = 'choice' as const;
  constructor(
    /** The values to choose from, each equally likely. */
    readonly categories: readonly T[],
  ) {
    super();
  }
  sample(rng: Rng): T {
    return rng.pick(this.categories);
  }
  toJSON(): DomainJSON {
    return { $tune: 'choice', categories: this.categories as unknown[] };
  }
}

/** Every one of a list of values: the experiment runs one trial per value (times the other grids). */
export class GridSearch<T> extends Domain<T> {
  readonly kind = 'grid' as const;
  constructor(
    /** The values, one trial each. */
    readonly values: readonly T[],
  ) {
    super();
  }
  sample(rng: Rng): T {
    return rng.pick(this.values);
  }
  toJSON(): DomainJSON {
    return { $tune: 'grid', values: this.values as unknown[] };
  }
}

/**
 * What a sampleFrom function receives: the trial's config, its other values already resolved.
 * C is the config's type as the function reads it (`(spec: SampleSpec<{ w: number }>) => ...`).
 */
export interface SampleSpec<C = Record<string, unknown>> {
  /** The config being resolved (grid values and sampled values are in place). */
  config: C;
}

/** A value computed by a function of the rest of the config (resolved after every other domain). */
export class SampleFrom<T> extends Domain<T> {
  readonly kind = 'function' as const;
  constructor(
    /** The function: given the rest of the config, the value. */
    readonly fn: (spec: SampleSpec) => T,
  ) {
    super();
  }
  sample(): T {
    throw new InvalidArgumentError('sampleFrom() values are resolved with the rest of the config');
  }
  toJSON(): DomainJSON {
    return { $tune: 'function', source: Function.prototype.toString.call(this.fn) };
  }
}

/**
 * Runs one trial per value (Ray's grid_search): several gridSearch entries multiply, and
 * `numSamples` repeats the whole grid.
 */
export function gridSearch<const T>(values: readonly T[]): GridSearch<T> {
  if (!Array.isArray(values) || values.length === 0) {
    throw new InvalidArgumentError('gridSearch() takes a non-empty array of values');
  }
  return new GridSearch<T>([...values]);
}

/** One of the values, drawn uniformly for each trial. */
export function choice<const T>(categories: readonly T[]): Categorical<T> {
  if (!Array.isArray(categories) || categories.length === 0) {
    throw new InvalidArgumentError('choice() takes a non-empty array of values');
  }
  return new Categorical<T>([...categories]);
}

/** A float drawn uniformly from [lower, upper). */
export function uniform(lower: number, upper: number): Float {
  bounds(lower, upper, 'uniform');
  return new Float(lower, upper, false, undefined, 10);
}

/** A float drawn uniformly from [lower, upper], rounded to a multiple of q. */
export function quniform(lower: number, upper: number, q: number): Float {
  bounds(lower, upper, 'quniform');
  return new Float(lower, upper, false, positiveQ(q, 'quniform'), 10);
}

function logBounds(lower: number, upper: number, fn: string, base: number): void {
  bounds(lower, upper, fn);
  if (lower <= 0)
    throw new InvalidArgumentError(`${fn}(): lower must be above 0 on a log scale, got ${lower}`);
  if (finite(base, `${fn}(): base`) <= 1) throw new InvalidArgumentError(`${fn}(): base must be above 1`);
}

/** A float whose logarithm is uniform between log(lower) and log(upper). */
export function loguniform(lower: number, upper: number, base = 10): Float {
  logBounds(lower, upper, 'loguniform', base);
  return new Float(lower, upper, true, undefined, base);
}

/** loguniform, rounded to a multiple of q. */
export function qloguniform(lower: number, upper: number, q: number, base = 10): Float {
  logBounds(lower, upper, 'qloguniform', base);
  return new Float(lower, upper, true, positiveQ(q, 'qloguniform'), base);
}

function intBounds(lower: number, upper: number, fn: string, inclusive: boolean): void {
  bounds(lower, upper, fn, inclusive);
  if (!Number.isInteger(lower) || !Number.isInteger(upper)) {
    throw new InvalidArgumentError(`${fn}(${lower}, ${upper}): lower and upper must be integers`);
  }
}

/** An integer drawn uniformly from [lower, upper) (upper excluded, as in Ray). */
export function randint(lower: number, upper: number): Integer {
  intBounds(lower, upper, 'randint', false);
  return new Integer(lower, upper, false, 1, false, 10);
}

/** An integer drawn uniformly from [lower, upper] (upper included, as in Ray), rounded to a multiple of q. */
export function qrandint(lower: number, upper: number, q = 1): Integer {
  intBounds(lower, upper, 'qrandint', true);
  if (!Number.isInteger(positiveQ(q, 'qrandint')))
    throw new InvalidArgumentError('qrandint(): q must be an integer');
  return new Integer(lower, upper, false, q, true, 10);
}

/** An integer from [lower, upper) whose logarithm is uniform. */
export function lograndint(lower: number, upper: number, base = 10): Integer {
  intBounds(lower, upper, 'lograndint', false);
  logBounds(lower, upper, 'lograndint', base);
  return new Integer(lower, upper, true, 1, false, base);
}

/** A float drawn from a normal distribution. */
export function randn(mean = 0, sd = 1): Normal {
  finite(mean, 'randn(): mean');
  if (finite(sd, 'randn(): sd') <= 0)
    throw new InvalidArgumentError(`randn(): sd must be above 0, got ${sd}`);
  return new Normal(mean, sd, undefined);
}

/** randn, rounded to a multiple of q. */
export function qrandn(mean: number, sd: number, q: number): Normal {
  finite(mean, 'qrandn(): mean');
  if (finite(sd, 'qrandn(): sd') <= 0)
    throw new InvalidArgumentError(`qrandn(): sd must be above 0, got ${sd}`);
  return new Normal(mean, sd, positiveQ(q, 'qrandn'));
}

/**
 * A value computed per trial by fn from the rest of the config (`spec.config`), after every other
 * value is resolved: `sampleFrom((spec: SampleSpec<{ width: number }>) => spec.config.width * 2)`
 * (the annotation states the config's type; without it `spec.config`'s values are `unknown`).
 * It runs in the driver.
 */
export function sampleFrom<T, C = Record<string, unknown>>(fn: (spec: SampleSpec<C>) => T): SampleFrom<T> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('sampleFrom() takes a function');
  // The config it gets is the one this space resolves to; C is the caller's statement of its type.
  return new SampleFrom(fn as (spec: SampleSpec) => T);
}

/**
 * The config a trial receives for a search space S: each domain replaced by its value type,
 * nested objects and arrays resolved the same way, constants kept.
 */
export type Resolved<S> = S extends Domain<infer T>
  ? T
  : S extends (...args: never[]) => unknown
    ? S
    : S extends readonly unknown[]
      ? { -readonly [K in keyof S]: Resolved<S[K]> }
      : S extends object
        ? { -readonly [K in keyof S]: Resolved<S[K]> }
        : S;

/** A search space: an object of domains, constants and nested objects. */
export type SearchSpace = Record<string, unknown>;

/** The JSON form of a search space (domains as DomainJSON), and whether it held sampleFrom functions. */
export function spaceToJSON(space: unknown): { json: unknown; hasFunctions: boolean } {
  let hasFunctions = false;
  const walk = (v: unknown): unknown => {
    if (isDomain(v)) {
      if (v.kind === 'function') hasFunctions = true;
      return v.toJSON();
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { json: walk(space), hasFunctions };
}

/** The fields of a domain's JSON form (each kind uses some of them). */
interface SavedDomain {
  lower: number;
  upper: number;
  log: boolean;
  q?: number | null;
  base?: number;
  inclusive?: boolean;
  mean: number;
  sd: number;
  categories: unknown[];
  values: unknown[];
}

/** A search space back from its JSON form; undefined if it held sampleFrom functions (not revived). */
export function spaceFromJSON(json: unknown): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isPlainObject(v)) return v;
    const tag = v.$tune;
    if (typeof tag !== 'string') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    // Written by a domain's toJSON() (the fields its constructor takes).
    const o = v as unknown as SavedDomain;
    switch (tag) {
      case 'float':
        return new Float(o.lower, o.upper, o.log, o.q ?? undefined, o.base ?? 10);
      case 'integer':
        return new Integer(o.lower, o.upper, o.log, o.q ?? 1, o.inclusive ?? false, o.base ?? 10);
      case 'normal':
        return new Normal(o.mean, o.sd, o.q ?? undefined);
      case 'choice':
        return new Categorical(o.categories);
      case 'grid':
        return new GridSearch(o.values);
      default:
        throw new InvalidArgumentError(
          `the saved search space has a ${tag === 'function' ? 'sampleFrom() function' : `'${tag}' value`} that ` +
            'cannot be rebuilt from JSON: pass the search space again (Tuner.restore(path, trainable, { paramSpace }))',
        );
    }
  };
  return walk(json);
}

/** A plain object (literal or null-prototype): walked into by search spaces; class instances are constants. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
