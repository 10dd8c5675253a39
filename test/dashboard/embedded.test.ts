// The dashboard of a driver's embedded node (init({ dashboard })), in a real browser: its
// own random token (dashboardToken(), and a 0600 file of the session directory), the login,
// this node, its tasks and its workers' logs on the page; a bad option fails init();
// shutdown() closes it and removes the file.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';
import { launch, login, rowsOf, shot, skipBrowser } from './browser.js';

const session = mkdtempSync(join(tmpdir(), 'sunray-dashboard-session-'));
const prev = process.env.SUNRAY_SESSION_DIR;
beforeAll(() => {
  process.env.SUNRAY_SESSION_DIR = session;
});
afterAll(async () => {
  await sunray.shutdown();
  if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
  else process.env.SUNRAY_SESSION_DIR = prev;
  rmSync(session, { recursive: true, force: true });
});

describe('init({ dashboard })', () => {
  test('a dashboard option that is not true or { port, host } fails init()', async () => {
    await expect(sunray.init({ dashboard: 'yes' as unknown as boolean })).rejects.toThrow(
      /dashboard is true or \{ port, host \}/,
    );
    expect(sunray.isInitialized()).toBe(false);
    expect(sunray.dashboardUrl()).toBeUndefined();
  });

  test.skipIf(skipBrowser)(
    'its own token, in a 0600 file too; this node and its tasks on the page; shutdown ends it',
    async () => {
      await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20, dashboard: { port: 0 } });
      const url = sunray.dashboardUrl() ?? '';
      const token = sunray.dashboardToken() ?? '';
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(url).toBe(`http://${sunray.dashboardAddress()}/`);
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      const file = join(session, `dashboard-${process.pid}.json`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url, token, pid: process.pid });

      const double = sunray.remote(function double(x: number) {
        return 2 * x;
      });
      expect(await sunray.get(double.remote(21))).toBe(42);
      const say = sunray.remote((line: string) => {
        console.log(line);
        return process.pid;
      });
      const pid = await sunray.get(say.remote('doubled 21'));
      const { nodeId } = sunray.getRuntimeContext();

      expect((await fetch(`${url}api/cluster`)).status).toBe(401);
      const browser = await launch();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
        await login(page, url, token);
        const nodes = await rowsOf(page, 'overview-nodes');
        expect(nodes).toHaveLength(1);
        expect(nodes[0]).toMatch(new RegExp(`^${nodeId.slice(0, 8)}\\tlocal\\thead\\tALIVE`));
        await page.click('#nav-tasks');
        await until(async () =>
          (await rowsOf(page, 'tasks-table')).some((r) => r.split('\t')[1] === 'double'),
        );
        await shot(page, 'embedded-tasks');
        // Its workers' logs: read on this node, found by this node's id only.
        const files = (await (await page.request.get(`${url}api/logs`)).json()).rows;
        expect(files).toEqual(
          expect.arrayContaining([{ nodeId, pid, stream: 'out', size: expect.any(Number), alive: true }]),
        );
        const log = `${url}api/logs/file?node=${nodeId}&pid=${pid}`;
        expect((await (await page.request.get(log)).json()).text).toContain('doubled 21\n');
        const other = `${url}api/logs/file?node=${'f'.repeat(32)}&pid=${pid}`;
        expect((await page.request.get(other)).status()).toBe(404);
      } finally {
        await browser.close();
      }

      await sunray.shutdown();
      expect(sunray.dashboardUrl()).toBeUndefined();
      expect(sunray.dashboardToken()).toBeUndefined();
      expect(existsSync(file)).toBe(false);
      await expect(fetch(`${url}login`)).rejects.toThrow();
    },
  );
});
