// Summaries of repeated runs.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(
  runs: readonly number[],
  unit: string,
  higherIsBetter: boolean,
): { median: number; min: number; max: number; runs: number[]; unit: string; higherIsBetter: boolean } {
  return {
    median: median(runs),
    min: Math.min(...runs),
    max: Math.max(...runs),
    runs: [...runs],
    unit,
    higherIsBetter,
  };
}

/** Ratio such that >1 always means "a is better than b". */
export function betterRatio(a: number, b: number, higherIsBetter: boolean): number {
  return higherIsBetter ? a / b : b / a;
}
