// The `sunray` command's flags as a user meets them in a shell: --help on every
// verb, --version, misspelled flags named with exit code 2, short tokens refused;
// and the parser's decisions as unit tests.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { numberFlag, parseFlags, UsageError, usage, type VerbSpec } from '../../lib/cli/args.js';
import { repoRoot, runNode } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

describe('sunray from a shell', () => {
  // A private session directory: were a refusal ever to let a node start, it would not touch the user's.
  let dir: string;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-cli-flags-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir;
  });
  afterAll(async () => {
    await runNode(CLI, ['stop', '--grace-period-ms', '2000']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  test('--help on every verb prints its flags and exits 0', async () => {
    const expected: Record<string, string[]> = {
      start: [
        '--head',
        '--address HOST:PORT',
        '--token TOKEN',
        '--object-spilling-dir DIR',
        '--object-spilling-limit BYTES',
        '--help',
      ],
      stop: ['--grace-period-ms MS', '--help'],
      status: ['--address HOST:PORT', '--json', '--help'],
      memory: ['--pid PID', '--json', '--timeout MS', '--help'],
    };
    for (const [verb, flags] of Object.entries(expected)) {
      for (const help of ['--help', '-h']) {
        const r = await runNode(CLI, [verb, help]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`usage: sunray ${verb} [flags]`);
        for (const f of flags) expect(r.stdout).toContain(f);
      }
    }
  });

  test('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await runNode(CLI, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`sunray ${pkg.version}\n`);
  });

  test('a misspelled flag fails with exit code 2 and a message that names it', async () => {
    const r = await runNode(CLI, ['start', '--hed']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sunray start: unknown flag --hed (did you mean --head?)');
    expect(r.stderr).toContain('usage: sunray start');
    const s = await runNode(CLI, ['status', '--jsn']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('unknown flag --jsn (did you mean --json?)');
    const m = await runNode(CLI, ['stop', 'now']);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain("unexpected argument 'now'");
    const v = await runNode(CLI, ['start', '--port']);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('--port needs a value');
    const n = await runNode(CLI, ['start', '--num-cpus', 'many']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain("--num-cpus must be a non-negative number, got 'many'");
    const u = await runNode(CLI, ['launch']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("unknown command 'launch'");
  });

  test('a token under 16 characters is refused, and says why', async () => {
    const r = await runNode(CLI, ['start', '--head', '--port', '0', '--token', 'a']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--token: a cluster token of 1 character\(s\) is too short to resist guessing/);
    expect(existsSync(join(dir, 'token'))).toBe(false); // no head was started
    const s = await runNode(CLI, ['status', '--address', '127.0.0.1:1', '--token', 'short-token']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/at least 16 random characters/);
  });

  test('bad --labels are refused before a node starts, naming the label', async () => {
    const r = await runNode(CLI, ['start', '--head', '--port', '0', '--labels', 'zone=a']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--labels must be JSON like '{"zone": "eu-1"}', got zone=a`);
    const s = await runNode(CLI, ['start', '--head', '--port', '0', '--labels', '{"sunray.io/x": "y"}']);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("--labels: the label 'sunray.io/x' is sunray's own");
    expect(existsSync(join(dir, 'token'))).toBe(false); // no head was started
  });

  test('bad dashboard flags are refused before a node starts', async () => {
    const r = await runNode(CLI, ['start', '--head', '--port', '0', '--dashboard-port', '70000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--dashboard-port must be a port number 0-65535, got 70000');
    const s = await runNode(CLI, ['start', '--head', '--port', '0', '--dashboard-host', '0.0.0.0']);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain('--dashboard-host needs --dashboard-port');
    expect(existsSync(join(dir, 'token'))).toBe(false);
  });
});

describe('the flag parser', () => {
  const spec: VerbSpec = {
    name: 'demo',
    summary: 'a demo verb',
    flags: {
      head: { type: 'boolean', help: 'a switch' },
      'num-cpus': { type: 'string', value: 'N', help: 'a number' },
    },
  };

  test('reads switches, --name VALUE and --name=VALUE', () => {
    expect(parseFlags(spec, ['--head', '--num-cpus', '2'])).toMatchObject({ head: true, 'num-cpus': '2' });
    expect(parseFlags(spec, ['--num-cpus=3'])).toMatchObject({ 'num-cpus': '3' });
    expect(parseFlags(spec, ['-h']).help).toBe(true);
  });

  test('refuses what it does not know with a UsageError that names it', () => {
    expect(() => parseFlags(spec, ['--num-cpu', '2'])).toThrow(UsageError);
    expect(() => parseFlags(spec, ['--num-cpu', '2'])).toThrow(
      'unknown flag --num-cpu (did you mean --num-cpus?)',
    );
    expect(() => parseFlags(spec, ['--zzz'])).toThrow(/^unknown flag --zzz$/);
    expect(() => parseFlags(spec, ['--head=yes'])).toThrow('--head is a switch and takes no value');
    expect(() => parseFlags(spec, ['--num-cpus', '--head'])).toThrow(
      /--num-cpus needs a value, not another flag/,
    );
  });

  test('numbers must be numbers >= 0', () => {
    expect(numberFlag({ n: '2.5' }, 'n')).toBe(2.5);
    expect(numberFlag({}, 'n')).toBeUndefined();
    for (const bad of ['-1', 'x', '', ' ']) expect(() => numberFlag({ n: bad }, 'n')).toThrow(UsageError);
  });

  test('usage lists every flag with its value name', () => {
    const text = usage(spec);
    expect(text).toContain('--num-cpus N');
    expect(text).toContain('--head ');
    expect(text).toContain('--help');
  });
});
