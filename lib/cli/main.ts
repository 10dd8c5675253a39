#!/usr/bin/env node
// The `sunray` command. Each verb lives in its own module, which declares its
// flags (args.ts) and runs; add one by adding a line to VERBS. Exit codes: 0
// done, 1 failed, 2 a command line that cannot be right (unknown verb or flag,
// missing value), with what was wrong and the verb's usage on stderr.
import { readFileSync } from 'node:fs';
import { SunrayError } from '../base/errors.js';
import { UsageError, usage, type VerbSpec } from './args.js';

interface VerbModule {
  SPEC: VerbSpec;
  run(argv: string[]): Promise<number>;
}

interface Verb {
  summary: string;
  load: () => Promise<VerbModule>;
}

const VERBS: Record<string, Verb> = {
  start: {
    summary: 'start a head node (--head) or a node joining one (--address)',
    load: () => import('./start.js'),
  },
  stop: { summary: 'stop the nodes started on this machine', load: () => import('./stop.js') },
  up: {
    summary: 'start a cluster from its config, with the autoscaler: up cluster.yaml',
    load: () => import('./up.js').then((m) => ({ SPEC: m.UP_SPEC, run: m.up })),
  },
  down: {
    summary: 'stop a cluster started by `sunray up`, its nodes first: down cluster.yaml',
    load: () => import('./up.js').then((m) => ({ SPEC: m.DOWN_SPEC, run: m.down })),
  },
  status: {
    summary: 'nodes, resources used/total, pending and infeasible demand (--json for scripts)',
    load: () => import('./status.js'),
  },
  list: {
    summary: "the cluster's actors, workers, nodes, tasks or objects: list KIND [--filter K=V]",
    load: () => import('./list.js'),
  },
  summary: {
    summary: 'actors or tasks by state, objects by call site: summary actors|tasks|objects',
    load: () => import('./list.js').then((m) => ({ SPEC: m.SUMMARY_SPEC, run: m.summary })),
  },
  get: {
    summary: 'one task or actor, every field (a failed task with its error): get task|actor ID',
    load: () => import('./get.js'),
  },
  logs: {
    summary: "workers' log files: logs [--actor ID | --task ID | --node ID --worker PID] [--follow]",
    load: () => import('./logs.js'),
  },
  timeline: {
    summary: 'the recorded tasks as a Chrome trace for Perfetto: timeline [--output trace.json]',
    load: () => import('./timeline.js'),
  },
  memory: {
    summary: 'objects of the running drivers on this machine, by owner, and why each is alive',
    load: () => import('./memory.js').then((m) => ({ SPEC: m.SPEC, run: m.memoryCommand })),
  },
  serve: {
    summary: 'HTTP serving: serve run|deploy|status|shutdown (sunray/serve)',
    load: () => import('./serve.js'),
  },
  job: {
    summary: "jobs on the head's job server: job submit|status|logs|stop|list (sunray/job)",
    load: () => import('./job.js'),
  },
};

function mainUsage(): string {
  const lines = Object.entries(VERBS).map(([name, v]) => `  sunray ${name.padEnd(8)} ${v.summary}`);
  return (
    `usage: sunray <command> [flags]\n\n${lines.join('\n')}\n\n` +
    '  sunray <command> --help   the flags of a command\n  sunray --version          the version of sunray\n'
  );
}

/** The version in sunray's package.json (two levels above dist/cli/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version' || verb === '-V' || verb === 'version') {
    process.stdout.write(`sunray ${version()}\n`);
    return 0;
  }
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    (verb ? process.stdout : process.stderr).write(mainUsage());
    return verb ? 0 : 2;
  }
  const v = VERBS[verb];
  if (!v) {
    process.stderr.write(`sunray: unknown command '${verb}'\n${mainUsage()}`);
    return 2;
  }
  const mod = await v.load();
  try {
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sunray ${verb}: ${err.message}\n\n${usage(mod.SPEC)}`);
      return 2;
    }
    const msg = err instanceof SunrayError ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`sunray ${verb}: ${msg}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
