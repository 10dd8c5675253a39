// Makes docs/images/timeline-trace.png: runs a few tasks and actor calls on a local
// two-node cluster, writes their trace with sunray.timeline(file), loads it into the trace
// viewer Chromium ships (DevTools' Performance panel, devtools://devtools/bundled/
// trace_app.html: Debian's Chromium 150 has no chrome://tracing) through its "Load trace"
// file chooser, and takes a screenshot. Needs a build (npm run compile:ts) and Chromium
// ($SUNRAY_CHROMIUM, else /usr/bin/chromium).
// Usage: node scripts/timeline-screenshot.mjs [out.png] [--trace trace.json (shoot this one, run nothing)]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';

// Where DevTools' Performance panel draws things, in CSS pixels of a 1400 px wide page with
// its sidebar hidden: the first track's header, a collapsed header's height, a group's
// header to its first track, an expanded worker's track (header and a row of slices).
const FIRST_Y = 129;
const COLLAPSED = 21;
const TO_CHILD = 17;
const EXPANDED = 38;
const WIDTH = 1400;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const given = args.indexOf('--trace') >= 0 ? args.splice(args.indexOf('--trace'), 2)[1] : undefined;
const out = args[0] ?? join(root, 'docs', 'images', 'timeline-trace.png');
const dir = mkdtempSync(join(tmpdir(), 'sunray-timeline-'));
try {
  const trace = given ?? join(dir, 'trace.json');
  if (!given) await run(trace);
  await shoot(trace, out);
  console.log(`wrote ${out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The run: preprocess -> train on both nodes, their results summed by an actor on the second. */
async function run(trace) {
  const cluster = new Cluster();
  try {
    await cluster.addNode({ numCpus: 2 });
    const second = await cluster.addNode({ numCpus: 1 });
    await sunray.init({ address: cluster.address, token: cluster.token });
    const preprocess = sunray.remote(function preprocess(i) {
      const end = Date.now() + 25;
      while (Date.now() < end);
      return i;
    });
    const train = sunray.remote(function train(x) {
      const end = Date.now() + 60;
      while (Date.now() < end);
      return x * 2;
    });
    class ParameterServer {
      w = 0;
      update(d) {
        const end = Date.now() + 15;
        while (Date.now() < end);
        this.w += d;
        return this.w;
      }
    }
    const ps = sunray
      .remote(ParameterServer)
      .options({ schedulingStrategy: { nodeId: second.nodeId, soft: false } })
      .remote();
    const trained = Array.from({ length: 6 }, (_, i) => train.remote(preprocess.remote(i)));
    for (const t of trained) await sunray.get(ps.update.remote(t));
    // Task events reach the head's table within a second or two.
    const runs = 6 * 3 + 1;
    for (let i = 0; ; i++) {
      const events = await sunray.timeline(trace);
      if (events.filter((e) => e.ph === 'X').length >= runs) break;
      if (i === 50) throw new Error('the trace did not get every run');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await sunray.shutdown();
    await cluster.shutdown();
  }
}

/** Loads the trace into DevTools' trace viewer, shows every worker's slices, selects a run. */
async function shoot(trace, png) {
  // Its groups: a node (the trace's pid) each, a track per worker (tid) that ran something
  // inside. DevTools orders the tracks by their number of runs, most first (a stable sort),
  // and a node's group goes where its first track would.
  const runs = JSON.parse(readFileSync(trace, 'utf8')).filter((e) => e.ph === 'X');
  const perTrack = new Map();
  for (const e of runs)
    perTrack.set(`${e.pid}:${e.tid}`, { pid: e.pid, n: (perTrack.get(`${e.pid}:${e.tid}`)?.n ?? 0) + 1 });
  const ordered = [...perTrack.values()].sort((a, b) => b.n - a.n);
  const pids = [...new Set(ordered.map((t) => t.pid))];
  const tracks = pids.map((pid) => ordered.filter((t) => t.pid === pid).length);
  const t0 = Math.min(...runs.map((e) => e.ts));
  const t1 = Math.max(...runs.map((e) => e.ts + e.dur));
  const browser = await chromium.launch({
    executablePath: process.env.SUNRAY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH, height: 700 } });
    await page.goto('devtools://devtools/bundled/trace_app.html');
    // It opens with a "debugging connection was closed" card (it debugs no page): close it.
    await page.getByRole('button', { name: 'Close' }).last().click();
    await page.getByRole('tab', { name: 'Performance' }).click();
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.getByRole('button', { name: 'Load trace…' }).click(),
    ]);
    await chooser.setFiles(trace);
    await page.waitForTimeout(2000);
    // A card of keyboard shortcuts opens over the first trace loaded.
    const card = page.locator('devtools-shortcut-dialog').getByRole('button', { name: 'Close' });
    await card.click({ timeout: 3000 }).catch(() => {});
    await page.getByRole('button', { name: 'Hide sidebar' }).click();
    await page.waitForTimeout(300);
    // Expand each node's group, then each worker's track, from the bottom up (what is
    // above a header does not move when it opens).
    for (let i = pids.length - 1; i >= 0; i--) await toggle(page, 10, FIRST_Y + COLLAPSED * i);
    const headers = [];
    let y = FIRST_Y;
    for (const n of tracks) {
      for (let k = 0; k < n; k++) headers.push(y + TO_CHILD + COLLAPSED * k);
      y += TO_CHILD + COLLAPSED * n;
    }
    for (const h of headers.reverse()) await toggle(page, 20, h);
    // Select the first node's longest train run (its name, duration and args show below).
    const first = runs.filter((e) => e.pid === pids[0]);
    const trains = first.filter((e) => e.name === 'train');
    const pick = (trains.length > 0 ? trains : first).reduce((a, b) => (b.dur > a.dur ? b : a));
    const x = ((pick.ts + pick.dur / 2 - t0) / (t1 - t0)) * WIDTH;
    const details = page.getByText('Trace event', { exact: true });
    for (let k = 0; k < (tracks[0] ?? 0) && !(await details.isVisible()); k++) {
      await toggle(page, x, FIRST_Y + TO_CHILD + EXPANDED * k + TO_CHILD);
    }
    if (!(await details.isVisible())) throw new Error("could not select a run: DevTools' layout changed?");
    await page.mouse.move(WIDTH / 2, 480);
    await page.waitForTimeout(300);
    await page.screenshot({ path: png });
  } finally {
    await browser.close();
  }
}

/** A click (a header opens or closes, a slice is selected), and time to draw. */
async function toggle(page, x, y) {
  await page.mouse.click(x, y);
  await page.waitForTimeout(200);
}
