// `sunray serve run|deploy|status|shutdown`: Ray Serve's CLI. `run module:app` deploys an
// application and blocks (Ctrl-C shuts serve down), in a local node of its own or on the
// cluster given with --address; `deploy config.yaml` deploys a config file's applications on
// a running cluster (`sunray start`) and returns; `status` and `shutdown` act on the serve
// instance of that cluster. Each sub-command parses its flags strictly and has --help.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import * as sunray from '../index.js';
import { blockUntilGone, runApp, shutdown, status } from '../serve/api.js';
import { importApp, readConfig, splitImportPath, withOverrides } from '../serve/config-file.js';
import { UsageError, type VerbSpec } from './args.js';

/** The flags of `sunray serve` (its sub-commands have their own: `sunray serve run --help`). */
export const SPEC: VerbSpec = {
  name: 'serve',
  summary: 'HTTP serving on actors: run, deploy, status, shutdown (see `sunray serve <command> --help`).',
  flags: {},
  details:
    'commands:\n' +
    '  sunray serve run MODULE:EXPORT   deploy an application and block until Ctrl-C\n' +
    '  sunray serve deploy CONFIG.yaml  deploy a config file on a running cluster\n' +
    '  sunray serve status              applications, deployments, replicas, proxies\n' +
    '  sunray serve shutdown            delete every application and stop serve',
};

interface Sub {
  usage: string;
  summary: string;
  positional?: string;
  flags: Record<string, { type: 'string' | 'boolean'; help: string; value?: string }>;
}

const ADDRESS = {
  type: 'string' as const,
  value: 'HOST:PORT',
  help: "the cluster (default 'auto': the one `sunray start` runs on this machine)",
};

const SUBS: Record<string, Sub> = {
  run: {
    usage: 'sunray serve run MODULE:EXPORT [flags]',
    summary:
      'Deploys the application MODULE exports as EXPORT (a bound deployment, or a function returning one) ' +
      'and blocks; Ctrl-C deletes it and stops serve. Without --address it runs on a local node of its own.',
    positional: 'MODULE:EXPORT',
    flags: {
      address: { ...ADDRESS, help: 'a cluster to deploy on (default: a local node in this process)' },
      name: { type: 'string', value: 'NAME', help: "the application's name (default 'default')" },
      'route-prefix': { type: 'string', value: 'PATH', help: "where HTTP reaches it (default '/')" },
      host: { type: 'string', value: 'ADDR', help: 'the address proxies listen on (default 127.0.0.1)' },
      port: { type: 'string', value: 'PORT', help: 'the port proxies listen on (default 8000)' },
      'non-blocking': {
        type: 'boolean',
        help: 'return once it runs (needs --address: a local node ends with us)',
      },
    },
  },
  deploy: {
    usage: 'sunray serve deploy CONFIG.yaml [flags]',
    summary:
      "Deploys a config file's applications (importPath, routePrefix, per-deployment options) on a running " +
      'cluster, waits until they run, and returns. Deploying again updates them in place.',
    positional: 'CONFIG.yaml',
    flags: { address: ADDRESS },
  },
  status: {
    usage: 'sunray serve status [flags]',
    summary: 'Prints the applications, their deployments and replicas, and the proxies, as YAML.',
    flags: { address: ADDRESS, json: { type: 'boolean', help: 'print JSON (for scripts)' } },
  },
  shutdown: {
    usage: 'sunray serve shutdown [flags]',
    summary: 'Deletes every application (replicas drain first) and stops the proxies and the controller.',
    flags: { address: ADDRESS },
  },
};

function subUsage(s: Sub): string {
  const lines = [`usage: ${s.usage}`, '', s.summary, '', 'flags:'];
  const shown = Object.entries({ ...s.flags, help: { type: 'boolean', help: 'print these flags and exit' } });
  const cols = shown.map(
    ([n, f]) => `--${n}${f.type === 'string' ? ` ${(f as { value?: string }).value ?? 'VALUE'}` : ''}`,
  );
  const w = Math.max(...cols.map((c) => c.length)) + 2;
  shown.forEach(([, f], i) => {
    lines.push(`  ${(cols[i] ?? '').padEnd(w)}${f.help}`);
  });
  return `${lines.join('\n')}\n`;
}

function parse(
  s: Sub,
  argv: string[],
): { values: Record<string, string | boolean | undefined>; arg?: string } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [n, f] of Object.entries(s.flags)) options[n] = { type: f.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: s.positional !== undefined });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { values };
  if (s.positional !== undefined) {
    if (parsed.positionals.length !== 1) {
      throw new UsageError(
        parsed.positionals.length === 0
          ? `${s.positional} is missing`
          : `one ${s.positional} only, got ${parsed.positionals.join(' ')}`,
      );
    }
    return { values, arg: parsed.positionals[0] };
  }
  return { values };
}

async function connect(address: string | undefined): Promise<void> {
  try {
    await sunray.init({ address: address ?? 'auto' });
  } catch (err) {
    throw new sunray.ClusterConnectionError(
      `cannot reach the cluster${address ? ` at ${address}` : ' on this machine'} (${(err as Error).message}). ` +
        '`sunray serve deploy/status/shutdown` act on a cluster started with `sunray start --head`; ' +
        '`sunray serve run` without --address keeps its applications in its own process.',
    );
  }
}

function portFlag(v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be a port number, got '${String(v)}'`);
  return n;
}

function where(host: string, port: number, prefix: string | null): string {
  return prefix === null
    ? '(no HTTP route)'
    : `http://${host.includes(':') ? `[${host}]` : host}:${port}${prefix}`;
}

async function proxyAddress(): Promise<{ host: string; port: number }> {
  const st = await status();
  const p = Object.values(st.proxies).find((x) => x.status === 'HEALTHY') ?? Object.values(st.proxies)[0];
  return p ? { host: p.host, port: p.port } : { host: '127.0.0.1', port: 8000 };
}

/** The positional parse() checked is there (run and deploy declare one). */
function positional(arg: string | undefined): string {
  if (arg === undefined) throw new UsageError('an argument is missing');
  return arg;
}

async function runCmd(values: Record<string, string | boolean | undefined>, target: string): Promise<number> {
  const address = values.address as string | undefined;
  if (values['non-blocking'] && !address)
    throw new UsageError('--non-blocking needs --address: a local node ends with this process');
  const { url, exportName } = splitImportPath(target, process.cwd());
  if (address) await connect(address);
  else await sunray.init();
  const app = await importApp(url, exportName, {});
  const name = (values.name as string | undefined) ?? 'default';
  const routePrefix = (values['route-prefix'] as string | undefined) ?? '/';
  const opts = {
    name,
    routePrefix,
    ...(values.host !== undefined ? { host: values.host as string } : {}),
    ...(values.port !== undefined ? { port: portFlag(values.port) } : {}),
  };
  await runApp(app, opts, { url, exportName, args: {} });
  const { host, port } = await proxyAddress();
  process.stdout.write(
    `sunray serve: application '${name}' is running at ${where(host, port, routePrefix)}\n`,
  );
  if (values['non-blocking']) return 0;
  process.stdout.write('sunray serve: Ctrl-C to stop\n');
  await blockUntilGone(name);
  process.stdout.write(`sunray serve: application '${name}' is gone; stopping\n`);
  await shutdown().catch(() => {});
  await sunray.shutdown();
  return 0;
}

async function deployCmd(
  values: Record<string, string | boolean | undefined>,
  file: string,
): Promise<number> {
  const cfg = readConfig(file);
  // Import and check every application before anything is deployed.
  const apps = [];
  for (const a of cfg.applications) {
    const { url, exportName } = splitImportPath(a.importPath, cfg.baseDir);
    const app = withOverrides(await importApp(url, exportName, a.args), a.deployments);
    apps.push({ a, app, url, exportName });
  }
  await connect(values.address as string | undefined);
  try {
    for (const { a, app, url, exportName } of apps) {
      await runApp(
        app,
        { name: a.name, routePrefix: a.routePrefix, ...cfg.http },
        { url, exportName, args: a.args },
      );
      const { host, port } = await proxyAddress();
      process.stdout.write(`sunray serve: deployed '${a.name}' at ${where(host, port, a.routePrefix)}\n`);
    }
  } finally {
    await sunray.shutdown();
  }
  return 0;
}

async function statusCmd(values: Record<string, string | boolean | undefined>): Promise<number> {
  await connect(values.address as string | undefined);
  try {
    const st = await status();
    process.stdout.write(values.json ? `${JSON.stringify(st)}\n` : stringify(st));
  } finally {
    await sunray.shutdown();
  }
  return 0;
}

async function shutdownCmd(values: Record<string, string | boolean | undefined>): Promise<number> {
  await connect(values.address as string | undefined);
  try {
    const st = await status();
    const n = Object.keys(st.applications).length;
    await shutdown();
    process.stdout.write(
      Object.keys(st.proxies).length === 0 && n === 0
        ? 'sunray serve: serve was not running\n'
        : `sunray serve: deleted ${n} application(s) and stopped serve\n`,
    );
  } finally {
    await sunray.shutdown();
  }
  return 0;
}

/** Runs `sunray serve <command> ...`. */
export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const text = `usage: sunray serve <command> [flags]\n\n${SPEC.summary}\n\n${SPEC.details}\n`;
    (cmd === undefined ? process.stderr : process.stdout).write(text);
    return cmd === undefined ? 2 : 0;
  }
  const s = SUBS[cmd];
  if (!s) {
    process.stderr.write(
      `sunray serve: unknown command '${cmd}' (commands: ${Object.keys(SUBS).join(', ')})\n`,
    );
    return 2;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(s, rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`sunray serve ${cmd}: ${err.message}\n\n${subUsage(s)}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(subUsage(s));
    return 0;
  }
  switch (cmd) {
    case 'run':
      return runCmd(parsed.values, positional(parsed.arg));
    case 'deploy':
      return deployCmd(parsed.values, positional(parsed.arg));
    case 'status':
      return statusCmd(parsed.values);
    default:
      return shutdownCmd(parsed.values);
  }
}
