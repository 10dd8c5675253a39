// Drives a store child process (fixtures/store-child.ts) over stdin/stdout.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const script = resolve(import.meta.dirname, 'fixtures/store-child.ts');

export class StoreChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private buf = '';
  private replies: Array<(r: any) => void> = [];
  private eventWaiters: Array<{ event: string; n: number; resolve: () => void }> = [];
  private counts = new Map<string, number>();
  stderr = '';

  constructor() {
    this.proc = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.proc.on('exit', (code, signal) => r({ code, signal })));
    this.proc.stderr!.on('data', (d) => {
      this.stderr += d;
    });
    this.proc.stdout!.on('data', (d) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const msg = JSON.parse(line);
        if (msg.event) {
          const n = (this.counts.get(msg.event) ?? 0) + 1;
          this.counts.set(msg.event, n);
          this.eventWaiters = this.eventWaiters.filter((w) => {
            if (w.event === msg.event && n >= w.n) {
              w.resolve();
              return false;
            }
            return true;
          });
        } else {
          this.replies.shift()?.(msg);
        }
      }
    });
  }

  /** Resolves once `event` has been seen n times in total. */
  event(event: string, n = 1): Promise<void> {
    if ((this.counts.get(event) ?? 0) >= n) return Promise.resolve();
    return new Promise((resolveEvent) => this.eventWaiters.push({ event, n, resolve: resolveEvent }));
  }

  /** Sends a command; resolves with its reply (throws if the child reports an error). */
  async send(cmd: Record<string, unknown>): Promise<any> {
    await this.event('ready');
    const reply = new Promise<any>((r) => this.replies.push(r));
    this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const msg = await Promise.race([
      reply,
      this.exited.then((e) => {
        throw new Error(`child exited (${e.code ?? e.signal}) during ${cmd.op}: ${this.stderr}`);
      }),
    ]);
    if (!msg.ok) throw Object.assign(new Error(`child ${cmd.op} failed: ${msg.name}: ${msg.message}`), msg);
    return msg;
  }

  async kill9(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}
