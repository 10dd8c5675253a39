// Things to close before the process exits (pools, child processes, stores, sunray), and
// things to close as soon as the rows that need them have run (a second node, whose CPU the
// later rows must not see).

interface Cleanup {
  what: string;
  fn: () => unknown;
}

const fns: Cleanup[] = [];
const afterRows: Array<Cleanup & { rows: readonly string[] }> = [];

export function onCleanup(what: string, fn: () => unknown): void {
  fns.push({ what, fn });
}

/**
 * Closes `what` once none of `rows` is left to run in this run (see runRowsDone): e.g. the two
 * cluster rows' second node, which would otherwise lend its CPU to every later row.
 */
export function onRowsDone(rows: readonly string[], what: string, fn: () => unknown): void {
  afterRows.push({ rows, what, fn });
}

/** Runs the onRowsDone cleanups none of whose rows is in `left`; returns the ones that failed. */
export function runRowsDone(left: ReadonlySet<string>, msEach = 30_000): Promise<string[]> {
  const due: Cleanup[] = [];
  for (let i = afterRows.length - 1; i >= 0; i--) {
    const c = afterRows[i]!;
    if (c.rows.some((r) => left.has(r))) continue;
    afterRows.splice(i, 1);
    due.push(c);
  }
  return runBounded(due, msEach);
}

/** Runs every cleanup (last registered first), each bounded in time; returns the ones that failed. */
export function runCleanups(msEach = 10_000): Promise<string[]> {
  afterRows.length = 0;
  return runBounded(fns.splice(0).reverse(), msEach);
}

async function runBounded(list: Cleanup[], msEach: number): Promise<string[]> {
  const failed: string[] = [];
  for (const { what, fn } of list) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new Error('timed out')), msEach);
          timer.unref();
        }),
      ]);
    } catch (e) {
      failed.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return failed;
}
