// The dashboard in a real browser (headless Chromium, test/dashboard/browser.ts) on a live
// cluster: a head serving it (`sunray start --dashboard-port`, here the testing Cluster's
// dashboardPort), a second node and this driver, running tasks, an actor, a failing task
// and a stored object. Nothing shows without the token; after login every view (nodes,
// actors, workers, tasks, objects, jobs, the timeline) shows the right rows, a failed
// task's error shows, the timeline draws the runs; the page loads in under a second.
// Screenshots of each view go to test-results/dashboard/.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as sunray from 'sunray';
import { Cluster, type NodeHandle } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';
import { idsIn, launch, login, rowsOf, shot, skipBrowser } from './browser.js';

class Ledger {
  total = 0;
  add(n: number) {
    this.total += n;
    return this.total;
  }
}

describe.skipIf(skipBrowser)('the dashboard on a cluster, in a browser', () => {
  let cluster: Cluster;
  let head: NodeHandle;
  let second: NodeHandle;
  let url = '';
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ledger: sunray.ActorHandle<Ledger>;
  let kept: sunray.ObjectRef<Uint8Array>;
  let busy = true;
  let load: Promise<void> = Promise.resolve();
  const on = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: false } }) as const;

  const cwd = process.cwd();
  const appDir = mkdtempSync(join(tmpdir(), 'shop-'));

  beforeAll(async () => {
    // The driver's directory shows in its tasks' stacks: a neutral one for the screenshots.
    process.chdir(appDir);
    cluster = new Cluster();
    head = await cluster.addNode({ numCpus: 1, dashboardPort: 0 });
    second = await cluster.addNode({ numCpus: 1 });
    await sunray.init({ address: cluster.address, token: cluster.token, objectStoreMemory: 64 << 20 });
    url = `http://${head.dashboardAddress}/`;
    const square = sunray.remote(function square(x: number) {
      return x * x;
    });
    const validate = sunray.remote(async function validate(order: { id: number; qty: number }) {
      await null;
      if (order.qty <= 0)
        throw new RangeError(`order ${order.id}: quantity must be positive, got ${order.qty}`);
      return order.qty;
    });
    ledger = sunray.remote(Ledger).options(on(second.nodeId)).remote();
    await sunray.get([head, second].map((n) => square.options(on(n.nodeId)).remote(3)));
    await sunray.get(ledger.add.remote(5));
    await expect(sunray.get(validate.remote({ id: 17, qty: -2 }))).rejects.toThrow(
      /quantity must be positive/,
    );
    kept = sunray.put(new Uint8Array(2 << 20));
    // A steady trickle of work, so that the live chart has tasks per second to draw.
    load = (async () => {
      while (busy) {
        await sunray.get(
          Array.from({ length: 20 }, (_, i) => square.options({ schedulingStrategy: 'SPREAD' }).remote(i)),
        );
        await sunray.get(ledger.add.remote(1));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    busy = false;
    await load.catch(() => {});
    await browser?.close();
    await sunray.shutdown();
    await cluster?.shutdown();
    process.chdir(cwd);
    rmSync(appDir, { recursive: true, force: true });
  });

  test('nothing without the token: the login page only, the API says 401, a wrong token is refused', async () => {
    expect(head.dashboardAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const api = await fetch(`${url}api/cluster`);
    expect(api.status).toBe(401);
    expect(await api.text()).not.toContain(head.nodeId);
    await page.goto(url);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.content()).not.toContain(head.nodeId.slice(0, 8));
    await shot(page, 'login');
    await page.fill('#token', 'not-the-cluster-token-at-all');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.message')).toContain('That is not the token.');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect((await page.context().cookies()).filter((c) => c.name.startsWith('sunray_session'))).toEqual([]);
  });

  test('with the cluster token: the overview of every node, loaded in under a second, live numbers', async () => {
    await login(page, url, cluster.token);
    const cookie = (await page.context().cookies()).find((c) => c.name.startsWith('sunray_session'));
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });

    // A fresh load of the page, as a user opening it: the first view shows its data in < 1 s.
    const fresh = await context.newPage();
    const t0 = performance.now();
    await fresh.goto(url);
    await fresh.waitForSelector('#overview-nodes tbody tr');
    const loadMs = performance.now() - t0;
    const timing = await fresh.evaluate(() => {
      // In the page (the tests' tsconfig has Node's types, not the DOM's).
      const [nav] = performance.getEntriesByType('navigation' as never) as unknown as Array<{
        domContentLoadedEventEnd: number;
        loadEventEnd: number;
      }>;
      if (!nav) return undefined;
      return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
    });
    console.log(`dashboard: first view with data in ${loadMs.toFixed(0)} ms (${JSON.stringify(timing)})`);
    expect(loadMs).toBeLessThan(1000);
    await fresh.close();

    const ids = await idsIn(page, 'overview-nodes');
    expect(ids).toEqual(expect.arrayContaining([head.nodeId, second.nodeId]));
    expect(await page.textContent('#card-nodes')).toContain('3 / 3'); // two nodes and this driver's
    // Tasks per second, from the nodes' running totals, above zero while the work runs.
    await expect
      .poll(async () => Number((await page.textContent('#chart-tasks-now'))?.trim() ?? 0), {
        timeout: 15_000,
      })
      .toBeGreaterThan(0);
    await page.waitForTimeout(8000); // some seconds of chart
    await shot(page, 'overview');
  });

  test('nodes, actors and workers: the right rows', async () => {
    await page.click('#nav-nodes');
    await page.waitForSelector('#nodes-table tbody tr');
    expect(await idsIn(page, 'nodes-table')).toEqual(expect.arrayContaining([head.nodeId, second.nodeId]));
    const nodeRows = await rowsOf(page, 'nodes-table');
    expect(nodeRows.find((r) => r.startsWith(head.nodeId.slice(0, 12)))).toMatch(/head\tALIVE/);
    await shot(page, 'nodes');

    await page.click('#nav-actors');
    await page.waitForSelector('#actors-table tbody tr');
    const actors = await rowsOf(page, 'actors-table');
    const row = actors.find((r) => r.startsWith(ledger.actorId.slice(0, 12)));
    expect(row).toMatch(/Ledger\tALIVE/);
    expect(row).toContain(second.nodeId.slice(0, 8));
    expect(await rowsOf(page, 'actor-classes')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Ledger\t/)]),
    );
    await shot(page, 'actors');

    await page.click('#nav-workers');
    await page.waitForSelector('#workers-table tbody tr');
    const workers = await rowsOf(page, 'workers-table');
    expect(workers.find((r) => r.includes(`\t${process.pid}\t`))).toMatch(/DRIVER/);
    expect(workers.some((r) => r.includes('ACTOR') && r.includes(second.nodeId.slice(0, 8)))).toBe(true);
    await shot(page, 'workers');
  });

  test("tasks: the right names, filters by state and name, a failed task's error", async () => {
    await page.click('#nav-tasks');
    await page.waitForSelector('#tasks-table tbody tr.clickable');
    const names = (await rowsOf(page, 'tasks-table')).map((r) => r.split('\t')[1]);
    expect(names).toEqual(expect.arrayContaining(['square', 'Ledger.add']));
    expect(await page.textContent('#task-counts')).toMatch(/FAILED\s*1/);

    await page.fill('#task-name', 'squ');
    await until(async () => (await rowsOf(page, 'tasks-table')).every((r) => r.split('\t')[1] === 'square'));
    await page.fill('#task-name', '');
    await page.selectOption('#task-state', 'FAILED');
    await until(async () => {
      const rows = await rowsOf(page, 'tasks-table');
      return rows.length === 1 && rows[0]?.split('\t')[1] === 'validate';
    });
    await page.click('#tasks-table tbody tr.clickable');
    await page.waitForSelector('#task-detail .error-type');
    expect(await page.textContent('#task-detail .error-type')).toBe('RangeError');
    expect(await page.textContent('#task-detail .error-message')).toBe(
      'order 17: quantity must be positive, got -2',
    );
    expect(await page.textContent('#task-detail .error-stack')).toContain('at validate');
    await shot(page, 'task-error');
  });

  test("objects and memory: the stored object, each node's store", async () => {
    await page.click('#nav-objects');
    await page.waitForSelector('#objects-table tbody tr');
    await until(
      async () => (await idsIn(page, 'objects-table')).includes(kept.hex),
      10_000,
      'the put object',
    );
    const row = (await rowsOf(page, 'objects-table')).find((r) => r.includes('2.0 MiB'));
    expect(row).toMatch(/LOCAL_REFERENCE/);
    expect(row).toContain(`\t${process.pid}\t`);
    expect((await rowsOf(page, 'stores-table')).length).toBe(3);
    await shot(page, 'objects');
  });

  test('timeline: a lane per worker, a slice per run, and the trace to download', async () => {
    await page.click('#nav-timeline');
    await page.waitForSelector('#timeline-svg rect.slice');
    const names = await page.$$eval('#timeline-svg rect.slice', (rs) =>
      rs.map((r) => r.getAttribute('data-name')),
    );
    expect(names).toEqual(expect.arrayContaining(['square', 'Ledger.add']));
    expect(await page.$$eval('#timeline-svg .lane-label', (ls) => ls.length)).toBeGreaterThanOrEqual(2);
    await shot(page, 'timeline');
    const file = await page.request.get(`${url}api/timeline.json`);
    expect(file.headers()['content-disposition']).toContain('timeline.json');
    const trace = (await file.json()) as Array<{ ph: string; name: string }>;
    expect(trace.filter((e) => e.ph === 'X').map((e) => e.name)).toContain('validate');
  });

  test("jobs: this driver's job, running", async () => {
    const { jobId } = sunray.getRuntimeContext();
    await page.click('#nav-jobs');
    await page.waitForSelector('#jobs-table tbody tr');
    const row = (await rowsOf(page, 'jobs-table')).find((r) => r.startsWith(`${jobId}\t`));
    expect(row).toMatch(/\tRUNNING\tDRIVER\t/);
    expect(row).toContain(`\t${process.pid}\t`);
    await shot(page, 'jobs');
  });

  test('logging out ends the session', async () => {
    await page.click('header button[type=submit]');
    await page.waitForURL(`${url}login`);
    const after = await page.request.get(`${url}api/cluster`);
    expect(after.status()).toBe(401);
  });
});
