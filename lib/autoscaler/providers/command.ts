// The `command` provider: four shell commands of the user's (create, terminate, list,
// address) drive any cloud CLI, Docker or kubectl without code of ours per cloud. Each
// runs in /bin/sh with placeholders replaced by single-quoted values (docs/cluster.md
// lists them): {name} {nodeType} {clusterName} {headAddress} {tokenFile} {resources}
// {labels} {numCpus} {numGpus} {startArgs} for create, {id} for terminate and address,
// {clusterName} everywhere. The token is on create's stdin and in the 0600 file
// {tokenFile}; never in a command line.
import { NodeProviderError } from '../../base/errors.js';
import type { CommandProviderConfig } from '../config.js';
import type { HeadAccess, Instance, NodeLaunch, NodeProvider } from '../provider.js';
import { type Runner, runChecked, runCommand, shellQuote, startArgs } from './run.js';

/** An id printed by create or list: one word a shell need not quote much. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,252}$/;

/** Replaces the known {placeholders} of a command with the values, each quoted as one shell word. */
export function fillCommand(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name)
      ? name === 'startArgs'
        ? (values[name] as string)
        : shellQuote(values[name] as string)
      : whole,
  );
}

/** Nodes made and removed by the user's commands. */
export class CommandProvider implements NodeProvider {
  readonly kind = 'command';

  constructor(
    private readonly cfg: CommandProviderConfig,
    private readonly head: HeadAccess,
    private readonly clusterName: string,
    private readonly run: Runner = runCommand,
  ) {}

  private async sh(
    what: string,
    template: string,
    values: Record<string, string>,
    stdin?: string,
  ): Promise<string> {
    const cmd = fillCommand(template, { clusterName: this.clusterName, ...values });
    return runChecked(this.run, `the ${what} command (${cmd})`, '/bin/sh', ['-c', cmd], {
      timeoutMs: this.cfg.timeoutSeconds * 1000,
      ...(stdin !== undefined ? { stdin } : {}),
    });
  }

  async create(launch: NodeLaunch): Promise<Instance> {
    const { CPU, GPU } = launch.resources;
    const out = await this.sh(
      'create',
      this.cfg.create,
      {
        name: launch.name,
        nodeType: launch.nodeType,
        headAddress: this.head.address,
        tokenFile: this.head.tokenFile,
        resources: JSON.stringify(launch.resources),
        labels: JSON.stringify(launch.labels),
        numCpus: String(CPU ?? 0),
        numGpus: String(GPU ?? 0),
        startArgs: startArgs(this.head.address, launch).map(shellQuote).join(' '),
      },
      `${this.head.token}\n`,
    );
    // The id is the last line it printed (docker run -d prints the container's id); none: the name.
    const lines = out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const id =
      lines.length > 0 ? ((lines[lines.length - 1] as string).split(/\s+/)[0] as string) : launch.name;
    if (!ID.test(id))
      throw new NodeProviderError(`the create command printed ${JSON.stringify(id)}, not a node id`);
    return { id, name: launch.name, nodeType: launch.nodeType };
  }

  async terminate(instance: Instance): Promise<void> {
    await this.sh('terminate', this.cfg.terminate, { id: instance.id, name: instance.name });
  }

  async list(): Promise<string[]> {
    const out = await this.sh('list', this.cfg.list, {});
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((id) => ID.test(id));
  }

  async address(instance: Instance): Promise<string> {
    const out = (await this.sh('address', this.cfg.address, { id: instance.id, name: instance.name })).trim();
    return out.split('\n')[0]?.trim() ?? '';
  }
}
