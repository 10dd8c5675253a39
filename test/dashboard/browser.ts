// A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core
// (no browser download: `.ci/run` installs the `chromium` package). Where it is missing
// the tests skip, unless SUNRAY_REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure.
// Screenshots go to test-results/dashboard/ (git-ignored), the run's artifacts.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { repoRoot } from '../helpers.js';

/** Where Chromium is ($SUNRAY_CHROMIUM, else Debian's), or undefined when it is not installed. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.SUNRAY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** Whether a missing browser fails the run (CI) rather than skipping the tests. */
export const browserRequired = process.env.SUNRAY_REQUIRE_BROWSER === '1';

/** Whether to skip the browser tests here (no Chromium, and not required). */
export const skipBrowser = chromiumPath() === undefined && !browserRequired;

/** Launches headless Chromium (throws when it is required and missing). */
export async function launch(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new Error(
      "no Chromium: install Debian's chromium package (apt-get install chromium) or set SUNRAY_CHROMIUM",
    );
  }
  return chromium.launch({
    executablePath,
    headless: true,
    // Chromium refuses to start its sandbox as root (containers, CI run as root here), and
    // container /dev/shm is often too small for its shared memory: these two flags are for
    // that, and the page under test is our own.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
}

/** The directory of this run's screenshots. */
export const SHOTS = join(repoRoot, 'test-results', 'dashboard');

/** Saves a screenshot of the page as test-results/dashboard/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Logs in through the login page's form; resolves once the page's first view shows data. */
export async function login(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  await page.waitForSelector('#overview-nodes tbody tr');
}

/** The text of each row of a table (its cells joined by tabs). */
export async function rowsOf(page: Page, tableId: string): Promise<string[]> {
  return page.$$eval(`#${tableId} tbody tr`, (trs) =>
    // innerText: the cell as shown (the tests' tsconfig has no DOM types, hence the cast).
    trs.map((tr) =>
      [...tr.querySelectorAll('td')]
        .map((td) => (td as unknown as { innerText: string }).innerText)
        .join('\t'),
    ),
  );
}

/** The title attributes (whole ids) in a table's rows. */
export async function idsIn(page: Page, tableId: string): Promise<string[]> {
  return page.$$eval(`#${tableId} tbody [title]`, (els) => els.map((e) => e.getAttribute('title') ?? ''));
}
