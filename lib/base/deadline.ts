// Waiting for an answer at most so long: what a promise gives within a time, else undefined
// (a peer that does not answer is taken as having nothing to say). Its timer never keeps the
// process alive past the answer.

/** What p gives within ms, else undefined (a rejection of p rejects). */
export async function within<T>(p: Promise<T | undefined>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
