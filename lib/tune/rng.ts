// A small seeded random generator (mulberry32) for search algorithms and PBT: the same seed
// gives the same trials on every run and every Node version (Math.random cannot be seeded),
// and its whole state is one number, so a searcher's state can be saved with the experiment.

/** A seeded pseudo-random generator with the draws search algorithms need. */
export class Rng {
  private state: number;
  private spareNormal: number | undefined;

  /** seed: any number (its low 32 bits count); by default one drawn from Math.random. */
  constructor(seed: number = Math.floor(Math.random() * 2 ** 32)) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** A standard normal draw (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T; // int(n) is in [0, n)
  }

  /** The generator's state, to continue the same sequence later with Rng.fromState. */
  getState(): number {
    return this.state;
  }

  /** A generator that continues from a saved state. */
  static fromState(state: number): Rng {
    const r = new Rng(0);
    r.state = state >>> 0;
    return r;
  }
}

/** A seed derived from a base seed and a counter: independent streams that can be recomputed. */
export function deriveSeed(base: number, n: number): number {
  let h = (base ^ Math.imul(n + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
