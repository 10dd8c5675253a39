// Grid and random search (Ray's BasicVariantGenerator, the default searcher): every grid
// point, numSamples times, each with its random domains drawn afresh. Trial n's config is a
// function of (the space, the seed, n) alone, so a restored experiment resumes the same sequence.
import { InvalidArgumentError } from '../index.js';
import type { Config } from './result.js';
import { deriveSeed, Rng } from './rng.js';
import { isPlainObject } from './search-space.js';
import { type Described, FINISHED, type RecordedTrial, Searcher, type SearchProperties } from './searcher.js';
import { gridPoint, gridSize, type Leaf, leavesOf, resolveConfig } from './variants.js';

/** Options of BasicVariantGenerator. */
export interface BasicVariantGeneratorOptions {
  /** Configs to run first (each may leave domains out: they are resolved as usual). */
  pointsToEvaluate?: Config[];
  /** Trials running at once at most (0: no limit). */
  maxConcurrent?: number;
  /** Seed of the random draws: the same seed gives the same configs (default: drawn, then saved). */
  randomState?: number;
}

/** Grid search and random search over a search space, as Ray's default searcher. */
export class BasicVariantGenerator extends Searcher {
  override get handlesNumSamples(): boolean {
    return true;
  }
  private space: Record<string, unknown> | undefined;
  private leaves: Leaf[] = [];
  private numSamples = 1;
  private gridCount = 1;
  private next = 0;
  private readonly points: Config[];
  private readonly maxConcurrent: number;
  /** The seed configs are drawn from (saved in tuner.json so restore draws the same ones). */
  readonly randomState: number;
  private readonly live = new Set<string>();

  constructor(opts: BasicVariantGeneratorOptions = {}) {
    super();
    this.points = opts.pointsToEvaluate ?? [];
    if (!Array.isArray(this.points) || !this.points.every(isPlainObject)) {
      throw new InvalidArgumentError(
        'BasicVariantGenerator: pointsToEvaluate must be an array of config objects',
      );
    }
    this.maxConcurrent = opts.maxConcurrent ?? 0;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 0) {
      throw new InvalidArgumentError(
        `BasicVariantGenerator: maxConcurrent must be an integer >= 0, got ${opts.maxConcurrent}`,
      );
    }
    this.randomState = (opts.randomState ?? new Rng().int(2 ** 32)) >>> 0;
  }

  override setSearchProperties(props: SearchProperties): boolean {
    super.setSearchProperties(props);
    this.space = props.config;
    this.leaves = leavesOf(props.config);
    this.numSamples = props.numSamples;
    this.gridCount = gridSize(this.leaves);
    return true;
  }

  /** How many trials this searcher makes: the points to evaluate, then the grid times numSamples. */
  get totalSamples(): number {
    return this.points.length + this.gridCount * this.numSamples;
  }

  /** The config of trial number n (0-based), as suggest gives it. */
  configAt(n: number): Config {
    if (!this.space) throw new InvalidArgumentError('BasicVariantGenerator: no search space set');
    const rng = new Rng(deriveSeed(this.randomState, n));
    const point = this.points[n];
    if (point !== undefined) {
      const fixed = new Map<Leaf, unknown>();
      for (const l of this.leaves) {
        const v = getIn(point, l.path);
        if (v.found) fixed.set(l, v.value);
      }
      return mergeConstants(resolveConfig(this.space, this.leaves, fixed, rng), point);
    }
    const k = n - this.points.length;
    return resolveConfig(this.space, this.leaves, gridPoint(this.leaves, k % this.gridCount), rng);
  }

  suggest(trialId: string): Config | undefined | typeof FINISHED {
    if (!this.space)
      throw new InvalidArgumentError('BasicVariantGenerator: suggest() before setSearchProperties()');
    if (this.next >= this.totalSamples) return FINISHED;
    if (this.maxConcurrent > 0 && this.live.size >= this.maxConcurrent) return undefined;
    const config = this.configAt(this.next++);
    this.live.add(trialId);
    return config;
  }

  override onTrialComplete(trialId: string): void {
    this.live.delete(trialId);
  }

  override restoreFromTrials(trials: readonly RecordedTrial[]): void {
    this.next = trials.length;
    for (const t of trials) {
      if (t.status === 'TERMINATED' || t.status === 'ERROR') this.live.delete(t.trialId);
      else this.live.add(t.trialId);
    }
  }

  override describe(): Described {
    return {
      kind: 'BasicVariantGenerator',
      options: {
        pointsToEvaluate: this.points,
        maxConcurrent: this.maxConcurrent,
        randomState: this.randomState,
      },
    };
  }
}

function getIn(obj: unknown, path: readonly (string | number)[]): { found: boolean; value?: unknown } {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in cur)) return { found: false };
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return { found: true, value: cur };
}

/** Keys a point gives that the space lacks are kept too (Ray merges the point into the config). */
function mergeConstants(config: Config, point: Config): Config {
  for (const [k, v] of Object.entries(point)) {
    if (!(k in config)) config[k] = v;
    else if (isPlainObject(v) && isPlainObject(config[k])) mergeConstants(config[k] as Config, v);
  }
  return config;
}
