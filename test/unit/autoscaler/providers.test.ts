// The ssh provider's command lines (a fake runner records them: the token only on stdin),
// and the command provider driving real shell scripts that keep a fake "cloud" in a file:
// placeholders filled in as quoted words, ids read back, failures as NodeProviderError.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  type CommandProviderConfig,
  checkClusterConfig,
  type SshProviderConfig,
} from '../../../lib/autoscaler/config.js';
import type { NodeLaunch } from '../../../lib/autoscaler/provider.js';
import { CommandProvider, fillCommand } from '../../../lib/autoscaler/providers/command.js';
import type { RunOptions } from '../../../lib/autoscaler/providers/run.js';
import { shellQuote } from '../../../lib/autoscaler/providers/run.js';
import { SshProvider } from '../../../lib/autoscaler/providers/ssh.js';
import { NodeProviderError } from '../../../lib/base/errors.js';

const TOKEN = 'f'.repeat(64);
const head = { address: '10.0.0.5:6380', token: TOKEN, tokenFile: '/tmp/sunray-1000/token-x' };
const launch: NodeLaunch = {
  nodeType: 'special',
  name: 'demo-0a1b2c3d',
  resources: { CPU: 2, GPU: 1, special: 1 },
  labels: { 'sunray.io/node-type': 'special', 'sunray.io/instance': 'demo-0a1b2c3d' },
};

describe('ssh provider', () => {
  const cfg = checkClusterConfig({
    nodeTypes: { special: { resources: { CPU: 2 }, maxWorkers: 2 } },
    provider: { type: 'ssh', hosts: ['h1', 'alice@h2'], user: 'bob', sshArgs: ['-i', 'key'] },
  }).provider as SshProviderConfig;

  test('starts sunray over ssh with the token on stdin only; stops it there', async () => {
    const calls: Array<{ file: string; args: string[]; opts: RunOptions }> = [];
    const run = async (file: string, args: string[], opts: RunOptions) => {
      calls.push({ file, args, opts });
      return { code: 0, stdout: '', stderr: '' };
    };
    const p = new SshProvider(cfg, head, run);
    const a = await p.create(launch);
    const b = await p.create(launch);
    expect([a.id, b.id]).toEqual(['h1', 'alice@h2']);
    await expect(p.create(launch)).rejects.toThrow(/every ssh host runs a node already/);
    expect(calls[0]?.file).toBe('ssh');
    expect(calls[0]?.args).toEqual([
      '-o',
      'BatchMode=yes',
      '-i',
      'key',
      '--',
      'bob@h1',
      'npx sunray start --address 10.0.0.5:6380 --num-cpus 2 --num-gpus 1 --resources \'{"special":1}\' ' +
        `--labels '{"sunray.io/node-type":"special","sunray.io/instance":"demo-0a1b2c3d"}' --token-file -`,
    ]);
    expect(calls[1]?.args[5]).toBe('alice@h2');
    for (const c of calls) expect(c.args.join(' ')).not.toContain(TOKEN);
    expect(calls[0]?.opts.stdin).toBe(`${TOKEN}\n`);
    expect(await p.list()).toEqual(['h1', 'alice@h2']);
    expect(await p.address(b)).toBe('h2');
    await p.terminate(a);
    expect(calls.at(-1)?.args.slice(-2)).toEqual(['bob@h1', 'npx sunray stop']);
    expect(await p.list()).toEqual(['alice@h2']);
  });

  test('a failing ssh frees the host and says why', async () => {
    const run = async () => ({
      code: 255,
      stdout: '',
      stderr: 'ssh: connect to host h1 port 22: Connection refused\n',
    });
    const p = new SshProvider(cfg, head, run);
    const err = await p.create(launch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeProviderError);
    expect((err as Error).message).toMatch(
      /ssh h1 sunray start failed \(exit 255\): ssh: connect to host h1/,
    );
    expect(await p.list()).toEqual([]);
  });
});

describe('command provider', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sunray-cmd-provider-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cloud = join(dir, 'cloud.txt');
  writeFileSync(cloud, '');
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  // create: records id, name, type, the args and what came on stdin; prints the new id.
  const create = script(
    'create.sh',
    `n=$(($(wc -l < ${cloud}) + 1))\ntok=$(cat)\necho "vm-$n $1 $2 $3 tok=$tok startArgs=$4" >> ${cloud}\necho "creating..."\necho "vm-$n"`,
  );
  const terminate = script(
    'terminate.sh',
    `grep -v "^$1 " ${cloud} > ${cloud}.new || true\nmv ${cloud}.new ${cloud}`,
  );
  const list = script('list.sh', `cat ${cloud}`);
  const address = script('address.sh', `grep -q "^$1 " ${cloud} && echo 10.1.0.$(echo $1 | tr -dc 0-9)`);
  const cfg: CommandProviderConfig = {
    type: 'command',
    create: `${create} {name} {nodeType} {resources} "{startArgs}"`,
    terminate: `${terminate} {id}`,
    list: `${list} {clusterName}`,
    address: `${address} {id}`,
    timeoutSeconds: 10,
  };

  test('create, list, address and terminate drive the scripts; the token only on stdin', async () => {
    const p = new CommandProvider(cfg, head, 'demo');
    const a = await p.create(launch);
    const b = await p.create({ ...launch, name: "it's-b" });
    expect(a).toEqual({ id: 'vm-1', name: 'demo-0a1b2c3d', nodeType: 'special' });
    expect(b.id).toBe('vm-2');
    const lines = readFileSync(cloud, 'utf8').trim().split('\n');
    expect(lines[0]).toContain(`vm-1 demo-0a1b2c3d special {"CPU":2,"GPU":1,"special":1} tok=${TOKEN}`);
    expect(lines[0]).toContain('startArgs=--address 10.0.0.5:6380 --num-cpus 2 --num-gpus 1');
    expect(lines[1]).toContain("vm-2 it's-b special");
    expect(await p.list()).toEqual(['vm-1', 'vm-2']);
    expect(await p.address(b)).toBe('10.1.0.2');
    await p.terminate(a);
    expect(await p.list()).toEqual(['vm-2']);
    await p.terminate(b);
    expect(await p.list()).toEqual([]);
  });

  test('a failing command is a NodeProviderError with its stderr; a timeout kills it', async () => {
    const fails = script('fails.sh', 'echo "quota exceeded for special" >&2\nexit 3');
    const p = new CommandProvider({ ...cfg, create: `${fails} {name}` }, head, 'demo');
    const err = await p.create(launch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeProviderError);
    expect((err as Error).message).toMatch(/create command .* failed \(exit 3\): quota exceeded for special/);
    const slow = new CommandProvider({ ...cfg, list: 'sleep 30', timeoutSeconds: 1 }, head, 'demo');
    const t0 = Date.now();
    await expect(slow.list()).rejects.toThrow(/killed after 1000 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    const bad = new CommandProvider({ ...cfg, create: 'echo "(none)"' }, head, 'demo');
    await expect(bad.create(launch)).rejects.toThrow(/not a node id/);
  });

  test('placeholders become single shell words; unknown braces stay', () => {
    expect(fillCommand('run {name} {x} $HOME', { name: "a b'c" })).toBe(`run 'a b'\\''c' {x} $HOME`);
    expect(shellQuote('plain-1.2')).toBe('plain-1.2');
    expect(shellQuote('{"a":1}')).toBe(`'{"a":1}'`);
  });
});
