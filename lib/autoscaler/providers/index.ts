// The node provider a cluster config names: local, ssh or command.
import type { ClusterConfig } from '../config.js';
import type { HeadAccess, NodeProvider } from '../provider.js';
import { CommandProvider } from './command.js';
import { LocalProvider } from './local.js';
import { SshProvider } from './ssh.js';

/** The provider of the config, reaching the head as `head` says. */
export function makeProvider(cfg: ClusterConfig, head: HeadAccess): NodeProvider {
  const p = cfg.provider;
  if (p.type === 'local') return new LocalProvider(head);
  if (p.type === 'ssh') return new SshProvider(p, head);
  return new CommandProvider(p, { ...head, address: p.headAddress ?? head.address }, cfg.clusterName);
}
