// The `ssh` provider: a list of hosts, one node each. create() picks a free host and runs
// `ssh HOST <sunray> start --address HEAD ... --token-file -` with the system ssh client
// (BatchMode: never a password prompt), the token on ssh's stdin, so it is in no command
// line on either machine; terminate() runs `<sunray> stop` there. The hosts need sunray
// (`sunrayCommand`, default `npx sunray`) at the same path as the head's project.
import { NodeProviderError } from '../../base/errors.js';
import type { SshProviderConfig } from '../config.js';
import type { HeadAccess, Instance, NodeLaunch, NodeProvider } from '../provider.js';
import { type Runner, runChecked, runCommand, shellQuote, startArgs } from './run.js';

/** Most seconds an ssh command may take. */
const SSH_TIMEOUT_MS = 120_000;

/** Nodes started over ssh on a fixed list of hosts. */
export class SshProvider implements NodeProvider {
  readonly kind = 'ssh';
  /** The hosts in use, by instance id (the host itself). */
  private readonly used = new Set<string>();

  constructor(
    private readonly cfg: SshProviderConfig,
    private readonly head: HeadAccess,
    private readonly run: Runner = runCommand,
  ) {}

  /** ssh's arguments to run `remote` (one shell command line) on host. */
  sshArgs(host: string, remote: string): string[] {
    const dest = this.cfg.user && !host.includes('@') ? `${this.cfg.user}@${host}` : host;
    return ['-o', 'BatchMode=yes', ...this.cfg.sshArgs, '--', dest, remote];
  }

  /** The remote command line that starts a node of this launch. */
  startCommand(launch: NodeLaunch): string {
    const args = [...startArgs(this.cfg.headAddress ?? this.head.address, launch), '--token-file', '-'];
    return `${this.cfg.sunrayCommand} start ${args.map(shellQuote).join(' ')}`;
  }

  async create(launch: NodeLaunch): Promise<Instance> {
    const host = this.cfg.hosts.find((h) => !this.used.has(h));
    if (host === undefined)
      throw new NodeProviderError(`every ssh host runs a node already (${this.cfg.hosts.join(', ')})`);
    this.used.add(host);
    try {
      await runChecked(
        this.run,
        `ssh ${host} sunray start`,
        'ssh',
        this.sshArgs(host, this.startCommand(launch)),
        {
          stdin: `${this.head.token}\n`,
          timeoutMs: SSH_TIMEOUT_MS,
        },
      );
    } catch (err) {
      this.used.delete(host);
      throw err;
    }
    return { id: host, name: launch.name, nodeType: launch.nodeType };
  }

  async terminate(instance: Instance): Promise<void> {
    try {
      await runChecked(
        this.run,
        `ssh ${instance.id} sunray stop`,
        'ssh',
        this.sshArgs(instance.id, `${this.cfg.sunrayCommand} stop`),
        {
          timeoutMs: SSH_TIMEOUT_MS,
        },
      );
    } finally {
      this.used.delete(instance.id);
    }
  }

  async list(): Promise<string[]> {
    return [...this.used];
  }

  async address(instance: Instance): Promise<string> {
    const at = instance.id.lastIndexOf('@');
    return at < 0 ? instance.id : instance.id.slice(at + 1);
  }
}
