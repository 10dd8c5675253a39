// Things to close before the process exits (pools, child processes, stores, sunray).

const fns: { what: string; fn: () => unknown }[] = [];

export function onCleanup(what: string, fn: () => unknown): void {
  fns.push({ what, fn });
}

/** Runs every cleanup (last registered first), each bounded in time; returns the ones that failed. */
export async function runCleanups(msEach = 10_000): Promise<string[]> {
  const failed: string[] = [];
  for (const { what, fn } of fns.splice(0).reverse()) {
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
