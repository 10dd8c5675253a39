// memorySummary()'s call sites (init({ recordCallSites: true }), shown by `sunray memory`)
// name the user's own line, wherever the user's code lives: sunray's own frames are told
// apart by their real path, so a driver under a folder named lib/ or dist/ still shows.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sunray-callsites-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const driver = (sunrayUrl: string) => `
import * as sunray from ${JSON.stringify(sunrayUrl)};
await sunray.init({ numCpus: 1, recordCallSites: true });
const made = sunray.put({ made: 'here' });
const rows = sunray.memorySummary().filter((r) => r.id === made.hex);
console.log(JSON.stringify(rows.map((r) => r.callSite)));
await sunray.shutdown();
`;

describe('call sites', () => {
  for (const folder of ['lib', 'dist']) {
    test(`a driver under a ${folder}/ folder shows its own frame`, async () => {
      const file = join(dir, 'app', folder, 'main.mjs');
      mkdirSync(join(dir, 'app', folder), { recursive: true });
      writeFileSync(file, driver(pathToFileURL(join(repoRoot, 'dist', 'index.js')).href));
      const r = await runNode(file, [], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const sites = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as string[];
      expect(sites).toHaveLength(1);
      // The put is on line 4 of the script.
      expect(sites[0]).toContain(`${pathToFileURL(file).href}:4:`);
    });
  }
});
