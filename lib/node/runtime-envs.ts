// The runtime envs of one node (Ray's runtime env agent): before the first worker of an env
// starts here, its working directory is fetched (from this process, or the head's package
// store) and unpacked, and its npm packages installed, each once per node, into a private
// cache the node removes at shutdown:
//   <session>/runtime-env-<node>-<random>/
//     node_modules/sunray         a link to this sunray, so code in the env can import it
//     wd/<hash>/                  a working directory (env without packages)
//     npm/<deps key>/node_modules the packages of one set of npmDependencies
//     npm/<deps key>/wd/<hash>/   a working directory of an env with those packages
// Node resolves bare imports by walking up from the importing file, so code in a working
// directory finds the env's packages and sunray with no loader hook. Installs run one at a
// time per node; an env asked for again while it is set up waits for the same setup.
import { lstatSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, parse, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeEnvSetupError } from '../base/errors.js';
import { makeFreshDir, privateSessionDir } from '../base/private-dir.js';
import { debug } from '../base/warnings.js';
import { unpackArchive } from '../protocol/package-archive.js';
import { npmDependenciesKey, parseRuntimeEnvText } from '../protocol/runtime-env.js';
import { INSTALLED_MARKER, npmInstall } from './npm-install.js';

/** sunray's package directory (lib/node/.. or dist/node/..: the one with package.json). */
const SUNRAY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** An env set up on this node: how its workers start. */
export interface PreparedEnv {
  /** Its text (protocol/runtime-env.ts). */
  text: string;
  /** The directory its workers start in: its unpacked working directory (undefined: the node's). */
  cwd: string | undefined;
  /** Where shipped functions' `import()` and `require` resolve from: the working directory's copy (undefined: as without an env). */
  home: string | undefined;
  /**
   * The directory whose node_modules holds its npmDependencies, when it has no working
   * directory: shipped functions resolve as without an env, and bare imports not found
   * there from these packages (worker/package-fallback.ts).
   */
  packages: string | undefined;
  /** The working directory's path on the machine it was packed on (code naming files there is mapped to cwd). */
  source: string | undefined;
  /** Variables set in its workers' environment. */
  envVars: Record<string, string>;
}

type Setup = { state: 'pending' } | { state: 'ready'; env: PreparedEnv } | { state: 'failed'; error: Error };

/** Sets up runtime envs on this node, once each; answers whether one is ready. */
export class RuntimeEnvs {
  private readonly setups = new Map<string, Setup>();
  /** Setups under way, by env text: a second ask shares the first's. */
  private readonly running = new Map<string, Promise<PreparedEnv>>();
  /** Archives this process packed or was given (the driver's own; the job server's). */
  private readonly packages = new Map<string, Buffer>();
  /** Installs by deps key: each runs once; all run one after another (npmQueue). */
  private readonly installs = new Map<string, Promise<string>>();
  private npmQueue: Promise<unknown> = Promise.resolve();
  private root: string | undefined;
  private closed = false;

  constructor(
    private readonly nodeId: string,
    /** An archive from the cluster's package store (undefined: not there, or no cluster). */
    private readonly fetchPackage: (hash: string) => Promise<Buffer | undefined>,
    /** An env finished its setup (ready or failed): work waiting for it may go on. */
    private readonly changed: () => void,
  ) {}

  /** An archive this process has (packed here, or uploaded to this node's job server). */
  addPackage(hash: string, gz: Buffer): void {
    this.packages.set(hash, gz);
  }

  /** Whether this process has the archive of hash (addPackage). */
  hasPackage(hash: string): boolean {
    return this.packages.has(hash);
  }

  /**
   * Whether env `text` is ready here: 'pending' starts its setup (changed() is called when it
   * ends). A failure is answered once, as the Error, and forgotten (the next ask tries again).
   */
  state(text: string): 'ready' | 'pending' | Error {
    const s = this.setups.get(text);
    if (s?.state === 'ready') return 'ready';
    if (s?.state === 'failed') {
      this.setups.delete(text);
      return s.error;
    }
    if (!s) void this.prepare(text).catch(() => {});
    return 'pending';
  }

  /** The env `text`, set up (state() said 'ready'). */
  prepared(text: string): PreparedEnv | undefined {
    const s = this.setups.get(text);
    return s?.state === 'ready' ? s.env : undefined;
  }

  /** Sets env `text` up (once: later calls share the setup) and gives it. */
  prepare(text: string): Promise<PreparedEnv> {
    const s = this.setups.get(text);
    if (s?.state === 'ready') return Promise.resolve(s.env);
    const running = this.running.get(text);
    if (running) return running;
    this.setups.set(text, { state: 'pending' });
    const p = this.setUp(text).then(
      (env) => {
        this.running.delete(text);
        if (!this.closed) this.setups.set(text, { state: 'ready', env });
        this.changed();
        return env;
      },
      (err: Error) => {
        this.running.delete(text);
        const error =
          err instanceof RuntimeEnvSetupError
            ? err
            : new RuntimeEnvSetupError(
                `the runtime env could not be set up on node ${this.nodeId.slice(0, 8)}: ${err.message}`,
              );
        if (!this.closed) this.setups.set(text, { state: 'failed', error });
        this.changed();
        throw error;
      },
    );
    this.running.set(text, p);
    return p;
  }

  private async setUp(text: string): Promise<PreparedEnv> {
    const env = parseRuntimeEnvText(text);
    const root = this.cacheRoot();
    let base = root;
    let home: string | undefined;
    let packages: string | undefined;
    if (env.npmDependencies) {
      base = await this.install(env.npmDependencies);
      packages = base;
    }
    let cwd: string | undefined;
    if (env.workingDir) {
      const { hash } = env.workingDir;
      const gz = this.packages.get(hash) ?? (await this.fetchPackage(hash));
      if (!gz) {
        throw new RuntimeEnvSetupError(
          `the working directory ${hash.slice(0, 12)} of a runtime env is not in the cluster's package store: ` +
            'runtimeEnv.workingDir is uploaded by the driver that names it (init() or .options() in the driver), ' +
            'and lives as long as the head that stored it',
        );
      }
      const parent = join(base, 'wd');
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      cwd = unpackArchive(gz, hash, parent);
      home = cwd;
      packages = undefined; // the copy lies under them: Node's own lookup finds them
    }
    debug('runtime env ready on this node: cwd %s, home %s', cwd ?? '-', home ?? '-');
    return { text, cwd, home, packages, source: env.workingDir?.source, envVars: env.envVars ?? {} };
  }

  /** The directory whose node_modules holds deps: installed once, one install at a time. */
  private install(deps: Record<string, string>): Promise<string> {
    const key = npmDependenciesKey(deps);
    let p = this.installs.get(key);
    if (!p) {
      const dir = join(this.cacheRoot(), 'npm', key);
      const run = async () => {
        if (exists(join(dir, INSTALLED_MARKER))) return dir;
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        debug('npm install %j into %s', deps, dir);
        await npmInstall(dir, deps, this.nodeId);
        return dir;
      };
      p = this.npmQueue.then(run, run);
      this.npmQueue = p.catch(() => {});
      // A failed install is tried again by the next env that needs it.
      p.catch(() => this.installs.delete(key));
      this.installs.set(key, p);
    }
    return p;
  }

  /** The node's cache directory, made on first use (private, in the session directory). */
  private cacheRoot(): string {
    if (this.root) return this.root;
    if (this.closed) throw new RuntimeEnvSetupError('the node is shutting down');
    const root = makeFreshDir(privateSessionDir(), `runtime-env-${this.nodeId.slice(0, 8)}`);
    checkAncestorModules(root);
    mkdirSync(join(root, 'node_modules'), { mode: 0o700 });
    symlinkSync(SUNRAY_ROOT, join(root, 'node_modules', 'sunray'), 'dir');
    this.root = root;
    return root;
  }

  /** The node stops: its cache goes (workers have stopped by now). */
  close(): void {
    this.closed = true;
    if (this.root) rmSync(this.root, { recursive: true, force: true });
    this.root = undefined;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Imports that an env's packages do not satisfy walk on up, past the cache, to node_modules
 * of the levels above it (/tmp/node_modules): code another user planted there would run in
 * the env's workers. Refused unless such a directory is root's or ours and not writable by others.
 */
function checkAncestorModules(root: string): void {
  const uid = process.getuid?.() ?? -1;
  let dir = dirname(root);
  for (;;) {
    const nm = join(dir, 'node_modules');
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(nm);
    } catch {
      st = undefined;
    }
    if (st && ((st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0 || st.isSymbolicLink())) {
      throw new RuntimeEnvSetupError(
        `${nm} belongs to another user or others may write in it: packages planted there would be found by ` +
          'code in runtime envs. Remove it, or set SUNRAY_SESSION_DIR to a directory whose parents have no such node_modules',
      );
    }
    if (dir === parse(dir).root || !dir.includes(sep)) return;
    dir = dirname(dir);
  }
}
