// A worker's link to its node manager: submissions, blocked/unblocked notes
// and requests go out on the shared completion ring; replies come back on the
// worker's inbox (dispatched by worker-main.ts). Actor calls go straight to
// their actor when a direct channel is open (direct/actor-links.ts).
import { Writer } from '../base/codec.js';
import { errorClasses, SunrayError } from '../base/errors.js';
import { deserialize, serialize } from '../base/serialization.js';
import type { ChannelWriter } from '../protocol/channel.js';
import { type FunctionDef, TaskKind, type TaskSpec, writeDef, writeSpec } from '../protocol/spec.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { UserMetricUpdate } from '../protocol/user-metrics.js';
import { Msg } from '../protocol/worker-messages.js';
import type { Backend, NodeRequests } from './backend.js';
import type { ActorLinks } from './direct/actor-links.js';

export class WorkerBackend implements Backend {
  readonly isDriver = false;
  private readonly defined = new Set<string>();
  private nextRequest = 1;
  private readonly requests = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Direct channels to actors on this node (set by worker-main.ts). */
  direct: ActorLinks | undefined;
  /** Ownership ops sent so far: a direct answer after one goes by the node manager (executor.ts). */
  refOpsSent = 0;

  constructor(
    readonly nodeId: string,
    readonly workerId: string,
    private readonly index: number,
    private readonly out: ChannelWriter,
  ) {}

  submit(spec: TaskSpec, def: FunctionDef): void {
    if (def.fnId !== '' && !this.defined.has(def.fnId)) {
      this.defined.add(def.fnId);
      const d = new Writer(256).u8(Msg.DefineUp).u32(this.index);
      writeDef(d, def);
      this.out.send(Buffer.from(d.finish()));
    }
    if (spec.kind === TaskKind.ActorCall && this.direct?.trySend(spec)) return;
    this.route(spec);
  }

  /** Sends a task to the node manager; retriesLeft for a direct call retried after its actor died. */
  route(spec: TaskSpec, retriesLeft?: number): void {
    this.out.sendWith((w) => {
      if (retriesLeft === undefined) w.u8(Msg.Submit).u32(this.index);
      else w.u8(Msg.SubmitRetry).u32(this.index).u32(retriesLeft);
      writeSpec(w, spec);
    });
  }

  cancelDirect(taskKey: string, recursive: boolean): boolean {
    return this.direct?.cancel(taskKey, recursive) ?? false;
  }

  streamConsumedDirect(taskKey: string, taken: number): boolean {
    return this.direct?.streamConsumed(taskKey, taken) ?? false;
  }

  refOp(op: Buffer): void {
    this.refOpsSent++;
    this.out.sendWith((w) => w.u8(Msg.RefOps).u32(this.index).raw(op));
  }

  directCallsRan(body: Buffer): void {
    this.out.sendWith((w) => w.u8(Msg.DirectCallsRan).u32(this.index).raw(body));
  }

  userMetrics(updates: UserMetricUpdate[]): void {
    this.out.sendWith((w) => w.u8(Msg.UserMetrics).u32(this.index).str(JSON.stringify(updates)));
  }

  taskEvents(events: TaskRecord[]): void {
    this.out.sendWith((w) => w.u8(Msg.TaskEvents).u32(this.index).str(JSON.stringify(events)));
  }

  blocked(): void {
    this.out.send(Buffer.from(new Writer(8).u8(Msg.Blocked).u32(this.index).finish()));
    this.out.flush();
  }

  unblocked(): void {
    this.out.send(Buffer.from(new Writer(8).u8(Msg.Unblocked).u32(this.index).finish()));
  }

  request<K extends keyof NodeRequests>(
    kind: K,
    ...args: Parameters<NodeRequests[K]>
  ): Promise<ReturnType<NodeRequests[K]>> {
    const id = this.nextRequest++;
    const body = serialize(args);
    const w = new Writer(64 + body.length).u8(Msg.Request).u32(this.index).u32(id).str(kind).bytes(body);
    this.out.send(Buffer.from(w.finish()));
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** A reply from the node manager (Msg.Reply). */
  onReply(id: number, payload: Buffer): void {
    const p = this.requests.get(id);
    if (!p) return;
    this.requests.delete(id);
    const reply = deserialize(payload) as {
      ok: boolean;
      value?: unknown;
      error?: { name?: string };
      message?: string;
    };
    if (reply.ok) p.resolve(reply.value);
    else {
      const Cls = errorClasses[reply.error?.name ?? ''] ?? SunrayError;
      p.reject(new Cls(reply.message ?? 'the node manager refused the request'));
    }
  }
}
