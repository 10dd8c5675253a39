#!/usr/bin/env node
// The `sunray` command. Each verb lives in its own module; add one by adding a
// line to VERBS.
import { SunrayError } from '../core/errors.js';

interface Verb {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const VERBS: Record<string, Verb> = {
  start: {
    summary: 'start a head node (--head) or a node joining one (--address, --token)',
    load: () => import('./start.js'),
  },
  stop: { summary: 'stop the nodes started on this machine', load: () => import('./stop.js') },
  status: {
    summary: 'nodes, resources used/total, pending and infeasible demand',
    load: () => import('./status.js'),
  },
  memory: {
    summary: 'objects of the running drivers on this machine, by owner, and why each is alive',
    load: () => import('./memory.js').then((m) => ({ run: m.memoryCommand })),
  },
};

function usage(): string {
  const lines = Object.entries(VERBS).map(([name, v]) => `  sunray ${name.padEnd(8)} ${v.summary}`);
  return `usage:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(usage());
    return verb ? 0 : 2;
  }
  const v = VERBS[verb];
  if (!v) {
    process.stderr.write(`sunray: unknown command '${verb}'\n${usage()}`);
    return 2;
  }
  try {
    return await (await v.load()).run(rest);
  } catch (err) {
    const msg = err instanceof SunrayError ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`sunray ${verb}: ${msg}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
