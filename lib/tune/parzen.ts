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

/** A mixture of Gaussians truncated to [low, high]. */
export class NumericParzen {
  private readonly mus: number[];
  private readonly sigmas: number[];
  private readonly weights: number[];
  private readonly logNorm: number[];

  /** obs: observed values (in [low, high]) with their weights; the prior kernel is added here. */
  constructor(
    obs: readonly number[],
    obsWeights: readonly number[],
    readonly low: number,
    readonly high: number,
    priorWeight: number,
  ) {
    const range = high - low;
    const mus = [...obs, (low + high) / 2];
    const weights = [...obsWeights, priorWeight];
    const n = mus.length;
    const order = mus.map((_, i) => i).sort((a, b) => mus[a]! - mus[b]!);
    const sigmas = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const prev = k === 0 ? low : mus[order[k - 1]!]!;
      const next = k === n - 1 ? high : mus[order[k + 1]!]!;
      sigmas[i] = Math.max(mus[i]! - prev, next - mus[i]!);
    }
    sigmas[n - 1] = range; // the prior is as wide as the range
    const minSigma = range / Math.min(100, 1 + n);
    for (let i = 0; i < n; i++) sigmas[i] = Math.min(Math.max(sigmas[i]!, minSigma), range);
    const total = weights.reduce((a, b) => a + b, 0);
    this.mus = mus;
    this.sigmas = sigmas;
    this.weights = weights.map((w) => w / total);
    this.logNorm = mus.map((mu, i) => {
      const s = sigmas[i]!;
      const mass = normalCdf((high - mu) / s) - normalCdf((low - mu) / s);
      return Math.log(Math.max(mass, 1e-12));
    });
  }

  /** A draw: a kernel chosen by weight, then a value from its Gaussian within [low, high]. */
  sample(rng: Rng): number {
    let u = rng.next();
    let i = 0;
    while (i < this.weights.length - 1 && u >= this.weights[i]!) u -= this.weights[i++]!;
    const mu = this.mus[i]!;
    const s = this.sigmas[i]!;
    for (let tries = 0; tries < 100; tries++) {
      const x = mu + s * rng.normal();
      if (x >= this.low && x <= this.high) return x;
    }
    return Math.min(Math.max(mu, this.low), this.high);
  }

  /** The log density at x. */
  logPdf(x: number): number {
    let max = -Infinity;
    const terms = this.mus.map((mu, i) => {
      const s = this.sigmas[i]!;
      const z = (x - mu) / s;
      const t = Math.log(this.weights[i]!) - 0.5 * z * z - Math.log(s) - LOG_SQRT_2PI - this.logNorm[i]!;
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
    const probs = new Array<number>(k).fill(0);
    const total = obsWeights.reduce((a, b) => a + b, 0) + priorWeight;
    // The prior: uniform.
    for (let c = 0; c < k; c++) probs[c]! += priorWeight / total / k;
    // Each observation: priorWeight/k on every category and 1 on its own, normalized.
    const rowSum = priorWeight + 1;
    obs.forEach((c, j) => {
      const w = obsWeights[j]! / total;
      for (let d = 0; d < k; d++) probs[d]! += (w * (priorWeight / k + (d === c ? 1 : 0))) / rowSum;
    });
    this.probs = probs;
  }

  sample(rng: Rng): number {
    let u = rng.next();
    for (let c = 0; c < this.probs.length - 1; c++) {
      if (u < this.probs[c]!) return c;
      u -= this.probs[c]!;
    }
    return this.probs.length - 1;
  }

  logPdf(c: number): number {
    return Math.log(this.probs[c]!);
  }
}
