// Parzen estimators for TPE: a mixture of truncated Gaussians over a numeric range (one kernel per
// observation plus a wide prior kernel), and a smoothed histogram over categories. Bandwidths
// follow Optuna's univariate default: the larger gap to a neighbouring observation, clipped
// between range/min(100, 1+n) and the range ("magic clip").
import type { Rng } from './rng.js';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erf(x), to about 1.2e-7 (Numerical Recipes' erfc Chebyshev fit): enough for kernel masses. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** The standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

/** Normalized default weights of n observations in trial order (Optuna's ramp: older ones count less past 25). */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const w: number[] = [];
  for (let i = 0; i < ramp; i++) w.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) w.push(1);
  return w;
}

/** One Gaussian kernel of a NumericParzen: centre, bandwidth, normalized weight, log of its mass in range. */
interface Kernel {
  mu: number;
  sigma: number;
  weight: number;
  logNorm: number;
}

/** A mixture of Gaussians truncated to [low, high]. */
export class NumericParzen {
  /** The observations' kernels, then the prior's (last, so it takes what rounding leaves in sample()). */
  private readonly kernels: Kernel[];

  /** obs: observed values (in [low, high]) with their weights; the prior kernel is added here. */
  constructor(
    obs: readonly number[],
    obsWeights: readonly number[],
    readonly low: number,
    readonly high: number,
    priorWeight: number,
  ) {
    const range = high - low;
    const points = obs.map((mu, i) => ({ mu, w: obsWeights[i] ?? 0 }));
    // Each observation's bandwidth: the larger gap to its neighbours (the range's ends at the ends),
    // with the prior (at the centre, i = -1) among the neighbours, as Optuna sorts it in.
    const centre = (low + high) / 2;
    const withPrior = [...points.map((p, i) => ({ mu: p.mu, i })), { mu: centre, i: -1 }].sort(
      (a, b) => a.mu - b.mu,
    );
    const gaps = new Map<number, number>();
    withPrior.forEach(({ mu, i }, k) => {
      const prev = withPrior[k - 1]?.mu ?? low;
      const next = withPrior[k + 1]?.mu ?? high;
      gaps.set(i, Math.max(mu - prev, next - mu));
    });
    const n = obs.length + 1;
    const minSigma = range / Math.min(100, 1 + n);
    const clip = (g: number): number => Math.min(Math.max(g, minSigma), range);
    const total = points.reduce((a, p) => a + p.w, 0) + priorWeight;
    const kernel = (mu: number, sigma: number, w: number): Kernel => {
      const mass = normalCdf((high - mu) / sigma) - normalCdf((low - mu) / sigma);
      return { mu, sigma, weight: w / total, logNorm: Math.log(Math.max(mass, 1e-12)) };
    };
    this.kernels = points.map((p, i) => kernel(p.mu, clip(gaps.get(i) ?? range), p.w));
    // The prior is as wide as the range.
    this.kernels.push(kernel(centre, clip(range), priorWeight));
  }

  /** A draw: a kernel chosen by weight, then a value from its Gaussian within [low, high]. */
  sample(rng: Rng): number {
    let u = rng.next();
    let chosen: Kernel | undefined;
    for (const k of this.kernels) {
      chosen = k;
      if (u < k.weight) break;
      u -= k.weight;
    }
    // There is always the prior's kernel.
    const { mu, sigma } = chosen as Kernel;
    for (let tries = 0; tries < 100; tries++) {
      const x = mu + sigma * rng.normal();
      if (x >= this.low && x <= this.high) return x;
    }
    return Math.min(Math.max(mu, this.low), this.high);
  }

  /** The log density at x. */
  logPdf(x: number): number {
    let max = -Infinity;
    const terms = this.kernels.map((k) => {
      const z = (x - k.mu) / k.sigma;
      const t = Math.log(k.weight) - 0.5 * z * z - Math.log(k.sigma) - LOG_SQRT_2PI - k.logNorm;
      if (t > max) max = t;
      return t;
    });
    if (max === -Infinity) return max;
    let sum = 0;
    for (const t of terms) sum += Math.exp(t - max);
    return max + Math.log(sum);
  }
}

/** A smoothed histogram over k categories: each observation's kernel leans to its own category. */
export class CategoricalParzen {
  private readonly probs: number[];

  constructor(obs: readonly number[], obsWeights: readonly number[], k: number, priorWeight: number) {
    const total = obsWeights.reduce((a, b) => a + b, 0) + priorWeight;
    // The prior: uniform.
    const probs = new Array<number>(k).fill(priorWeight / total / k);
    // Each observation: priorWeight/k on every category and 1 on its own, normalized.
    const rowSum = priorWeight + 1;
    obs.forEach((c, j) => {
      const w = (obsWeights[j] ?? 0) / total;
      for (let d = 0; d < k; d++)
        probs[d] = (probs[d] ?? 0) + (w * (priorWeight / k + (d === c ? 1 : 0))) / rowSum;
    });
    this.probs = probs;
  }

  sample(rng: Rng): number {
    let u = rng.next();
    for (const [c, p] of this.probs.entries()) {
      if (c === this.probs.length - 1 || u < p) return c;
      u -= p;
    }
    return this.probs.length - 1;
  }

  logPdf(c: number): number {
    return Math.log(this.probs[c] ?? 0);
  }
}
