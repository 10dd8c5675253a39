// `sunray job submit|status|logs|stop|list`: the job server's client on the command line
// (Ray's `ray job ...`), through sunray/job's JobSubmissionClient. The server: --address
// (`http://HOST:8265`), else the dashboard of the head started on this machine. The token:
// --token-file, else $SUNRAY_CLUSTER_TOKEN, else this machine's session; never a flag with
// the token itself (every user can read a process's command line).

import type { RuntimeEnv } from '../index.js';
import { isJobEnded, type JobDetails, JobSubmissionClient } from '../job/index.js';
import { daemonRunning, daemons, loadHead } from '../session/session-dir.js';
import {
  type FlagSpec,
  type Flags,
  parseFlags,
  stringFlag,
  UsageError,
  usage,
  type VerbSpec,
} from './args.js';

const CLIENT_FLAGS: Record<string, FlagSpec> = {
  address: {
    type: 'string',
    value: 'URL',
    help: "the job server: the head's dashboard, http://HOST:8265 (default: the head started on this machine)",
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    help: "a file holding the cluster token (default: $SUNRAY_CLUSTER_TOKEN, then this machine's session)",
  },
};

/** The flags of `sunray job` (those of every subcommand; each says which it takes). */
export const SPEC: VerbSpec = {
  name: 'job submit|status|logs|stop|list',
  summary:
    "Jobs on a cluster's job server (the head's dashboard port):\n" +
    '  sunray job submit [--working-dir DIR] [--runtime-env-json JSON] [--submission-id ID] [--no-wait] -- node script.mjs\n' +
    '  sunray job status ID | logs ID [--follow] | stop ID | list [--json]',
  flags: {
    ...CLIENT_FLAGS,
    'working-dir': {
      type: 'string',
      value: 'DIR',
      help: "submit: the job's working directory, uploaded (runtimeEnv.workingDir)",
    },
    'runtime-env-json': {
      type: 'string',
      value: 'JSON',
      help: 'submit: its runtime env, e.g. \'{"npmDependencies":{"is-number":"7.0.0"},"envVars":{"A":"1"}}\'',
    },
    'submission-id': {
      type: 'string',
      value: 'ID',
      help: "submit: the job's id (default: made by the server)",
    },
    'no-wait': {
      type: 'boolean',
      help: 'submit: print the id and return, rather than follow its output to its end',
    },
    follow: { type: 'boolean', help: 'logs: follow the output until the job ends' },
    json: { type: 'boolean', help: 'list, status: one JSON document' },
  },
  details:
    'The job API runs code on the cluster: every request carries the cluster token. Exit code of submit ' +
    '(waiting) and status: 0 when the job SUCCEEDED, 1 otherwise.',
};

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(usage(SPEC));
    return sub ? 0 : 2;
  }
  // submit's command follows `--`; the other subcommands take the job id first.
  const dash = rest.indexOf('--');
  const command = dash >= 0 ? rest.slice(dash + 1) : [];
  const own = dash >= 0 ? rest.slice(0, dash) : rest;
  const id =
    sub !== 'submit' && sub !== 'list' && own[0] && !own[0].startsWith('-') ? own.shift() : undefined;
  const f = parseFlags(SPEC, own);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const client = clientOf(f);
  const needId = (): string => {
    if (!id) throw new UsageError(`sunray job ${sub} takes the job's submission id: sunray job ${sub} ID`);
    return id;
  };
  switch (sub) {
    case 'submit':
      return submit(client, f, command);
    case 'status': {
      const info = await client.getJobInfo(needId());
      process.stdout.write(f.json ? `${JSON.stringify(info)}\n` : `${describe(info)}\n`);
      return info.status === 'SUCCEEDED' ? 0 : 1;
    }
    case 'logs': {
      const jobId = needId();
      if (f.follow) for await (const text of client.tailJobLogs(jobId)) process.stdout.write(text);
      else process.stdout.write(await client.getJobLogs(jobId));
      return 0;
    }
    case 'stop': {
      const stopped = await client.stopJob(needId());
      process.stdout.write(
        stopped ? `sunray: job ${id} is stopping\n` : `sunray: job ${id} had ended already\n`,
      );
      return 0;
    }
    case 'list': {
      const jobs = await client.listJobs();
      if (f.json) process.stdout.write(`${JSON.stringify(jobs)}\n`);
      else if (jobs.length === 0) process.stdout.write('no jobs\n');
      else for (const j of jobs) process.stdout.write(`${describe(j)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown subcommand '${sub}' (submit, status, logs, stop, list)`);
  }
}

async function submit(client: JobSubmissionClient, f: Flags, command: string[]): Promise<number> {
  if (command.length === 0) {
    throw new UsageError(
      'sunray job submit needs the command after --: sunray job submit -- node script.mjs',
    );
  }
  let runtimeEnv: RuntimeEnv = {};
  const json = stringFlag(f, 'runtime-env-json');
  if (json !== undefined) {
    try {
      runtimeEnv = JSON.parse(json) as RuntimeEnv;
    } catch (err) {
      throw new UsageError(`--runtime-env-json is not JSON: ${(err as Error).message}`);
    }
  }
  const dir = stringFlag(f, 'working-dir');
  if (dir !== undefined) runtimeEnv = { ...runtimeEnv, workingDir: dir };
  const sid = stringFlag(f, 'submission-id');
  const id = await client.submitJob({
    entrypoint: command,
    runtimeEnv,
    ...(sid !== undefined ? { submissionId: sid } : {}),
  });
  process.stdout.write(`sunray: job ${id} submitted\n`);
  if (f['no-wait']) return 0;
  for await (const text of client.tailJobLogs(id)) process.stdout.write(text);
  const info = await client.getJobInfo(id);
  process.stdout.write(`${describe(info)}\n`);
  return info.status === 'SUCCEEDED' ? 0 : 1;
}

/** One line of a job: id, status, how it ended, its command. */
function describe(j: JobDetails): string {
  const how = j.message && isJobEnded(j.status) ? ` (${j.message})` : '';
  return `${j.submissionId} ${j.status}${how}: ${j.entrypoint.join(' ')}`;
}

/** The client for the flags: the server and the token (see the file comment). */
function clientOf(f: Flags): JobSubmissionClient {
  let address = stringFlag(f, 'address');
  if (address === undefined) {
    const head = daemons().find((d) => d.head && d.dashboardAddress && daemonRunning(d));
    address = head?.dashboardAddress ? `http://${head.dashboardAddress}` : 'http://127.0.0.1:8265';
  }
  const tokenFile = stringFlag(f, 'token-file');
  if (tokenFile !== undefined) return new JobSubmissionClient(address, { tokenFile });
  const token = process.env.SUNRAY_CLUSTER_TOKEN || loadHead()?.token;
  if (!token) {
    throw new UsageError(
      "no cluster token: give --token-file FILE, or set SUNRAY_CLUSTER_TOKEN, or run on the head's machine",
    );
  }
  return new JobSubmissionClient(address, { token });
}
