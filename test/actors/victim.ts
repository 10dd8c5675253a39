// An actor whose process the tests kill in the middle of a call: the first
// hang(marker) writes the actor's pid to the marker file and hangs; once the
// marker exists, hang() returns 'done' at once (so a retried call finishes).
import * as sunray from 'sunray';

export const Victim = sunray.remote(
  class Victim {
    async hang(marker: string) {
      const fs = await import('node:fs');
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, String(process.pid));
        await new Promise((r) => setTimeout(r, 60_000));
      }
      return 'done';
    }
  },
);

export type VictimHandle = ReturnType<typeof Victim.remote>;
