// Entry point of a worker process. It maps the node's store, attaches to its
// rings (fds inherited from the node manager), and runs the tasks and actor
// calls it is sent. Inside, `import('sunray')` is the same API, already
// connected to this node.

import { constants } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { warn } from '../base/warnings.js';
import '../api/actor.js'; // registers actor handles with the serializer
import '../util/queue.js'; // and queues (a task's arguments may hold one)
import { native } from '../base/addon.js';
import { type Reader, Writer } from '../base/codec.js';
import { TASK_ID_SIZE, taskKeyOf } from '../base/ids.js';
import {
  ChannelReader,
  ChannelWriter,
  COMPLETION_PARTICIPANTS,
  INBOX_PARTICIPANTS,
  openDoorbell,
  openRing,
} from '../protocol/channel.js';
import { jobIdOf, jobOf, namespaceOf } from '../protocol/job.js';
import { readDef, readSpec } from '../protocol/spec.js';
import type { WorkerConfig } from '../protocol/worker-config.js';
import { Msg, readResult } from '../protocol/worker-messages.js';
import { ObjectStore } from '../store/index.js';
import { reportViewMemory } from '../store/object-store.js';
import { setRuntime } from '../worker/context.js';
import { CoreWorker } from '../worker/core-worker.js';
import { ActorLinks } from '../worker/direct/actor-links.js';
import { CallerPeers } from '../worker/direct/caller-peers.js';
import { Executor } from '../worker/executor.js';
import { setEnvHome } from '../worker/function-loader.js';
import { usePackages } from '../worker/package-fallback.js';
import { tagOutput } from '../worker/stdio-prefix.js';
import { WorkerBackend } from '../worker/worker-backend.js';

const NO_GPUS: number[] = [];
const raw = process.env.SUNRAY_WORKER_CONFIG;
if (!raw) {
  console.error('sunray worker: started without SUNRAY_WORKER_CONFIG; workers are started by sunray.init()');
  process.exit(2);
}
const config = JSON.parse(raw) as WorkerConfig;
// Workers never outlive their node manager, whatever they are running: the kernel
// kills us when it dies (a timer could not fire during a long synchronous task, and
// a batch of queued tasks would run to its end). Checked against the pid the manager
// gave us, not our ppid at start: it may have died before this line ran, and then
// our parent is already the reaper and the signal will never come.
dieWithParent();

// Argument views pin their objects until collected: make V8 collect them promptly here.
reportViewMemory(true);
const store = ObjectStore.attach(config.fds.store);
const completionRing = openRing(config.fds.completion, false, COMPLETION_PARTICIPANTS);
const out = new ChannelWriter(completionRing, openDoorbell(completionRing, config.fds.completionBell), store);
const backend = new WorkerBackend(config.nodeId, config.ownerId, config.index, out);
const core = new CoreWorker(backend, store, Buffer.from(config.ownerId, 'hex'));
core.taskEvents.enabled = config.taskEvents;
// Direct actor calls (direct/): this worker as a caller, and as an actor answering its callers.
const links = new ActorLinks(config.index, config.fds.control, store, out, core, (spec, retriesLeft) =>
  backend.route(spec, retriesLeft),
);
backend.direct = links;
const peers = new CallerPeers(config.fds.control, store);
const executor = new Executor(core, out, config.index, peers, backend);
// While others hold objects this worker owns, it must not be reaped as idle (its death would
// be their owner's death). Sent before the reply of the task that made them held.
core.onHeldByOthers = (held) =>
  out.sendWith((w) =>
    w
      .u8(Msg.HeldByOthers)
      .u32(config.index)
      .u8(held ? 1 : 0),
  );

// What this worker submits outside any call is its node's job (none on a `sunray start` node).
core.defaultJob = config.jobId !== undefined ? jobOf(config.jobId, config.namespace) : '';
// Tasks it submits run in its runtime env unless they name their own; its functions resolve there.
core.defaultEnv = config.runtimeEnv ?? '';
setEnvHome(config.envHome, config.envSource);
if (config.envPackages !== undefined) usePackages(config.envPackages);
setRuntime({
  core,
  backend,
  // The job of the call running now (a `sunray start` node's workers serve every driver).
  get namespace() {
    return namespaceOf(core.currentJob()) ?? config.namespace;
  },
  get jobId() {
    return jobIdOf(core.currentJob()) ?? config.jobId;
  },
  async shutdown() {
    // Inside a worker, shutdown() is a no-op: the node manager owns the worker's life.
  },
  exitActor() {
    // The node marks the actor dead (no restart) and stops this process: asked after the
    // results of the calls that were running, on the same ring, so it sees those first.
    executor.exitActor((actorId) => {
      backend.request('actorExited', actorId).catch(() => {});
    });
  },
});

// Whose each line is: the node writes it to this worker's log files and sends it to the job's driver.
tagOutput(() => ({
  jobId: jobIdOf(core.currentJob()) ?? config.jobId ?? '',
  name: executor.currentTaskName() ?? 'worker',
}));

const inboxRing = openRing(config.fds.inbox, false, INBOX_PARTICIPANTS);
const inbox = new ChannelReader(
  inboxRing,
  openDoorbell(inboxRing, config.fds.inboxBell),
  store,
  (r: Reader, type) => {
    switch (type) {
      case Msg.Define:
        executor.define(readDef(r));
        return;
      case Msg.Execute: {
        const spec = readSpec(r);
        const owner = r.i32();
        const gpus = r.str();
        executor.execute(spec, owner, gpus ? gpus.split(',').map(Number) : []);
        return;
      }
      case Msg.CallDirect: {
        const spec = readSpec(r);
        executor.execute(spec, r.i32(), NO_GPUS, true);
        return;
      }
      case Msg.DirectResult:
        links.onResult(r);
        return;
      case Msg.ChannelAnswer:
        links.onAnswer(r);
        return;
      case Msg.ChannelClosed:
        links.onClosed(r);
        return;
      case Msg.PeerOpen:
        peers.open(r.u32());
        return;
      case Msg.PeerGone:
        peers.gone(r.u32());
        return;
      case Msg.Result: {
        const m = readResult(r);
        core.onTaskReturn(m.objectId, m.status, m.kind, m.payload);
        return;
      }
      case Msg.Reply: {
        const id = r.u32();
        backend.onReply(id, r.bytes());
        return;
      }
      case Msg.RefOps:
        core.onRefOps(Buffer.from(r.raw(r.remaining)));
        return;
      case Msg.OwnerDied:
        core.onOwnerDied(r.raw(r.remaining).toString('hex')); // an owner id, or a dead node's prefix
        return;
      case Msg.MemoryQuery: {
        const id = r.u32();
        const rows = JSON.stringify(core.memorySummary());
        out.sendWith((w) => w.u8(Msg.MemoryReport).u32(id).str(rows));
        return;
      }
      case Msg.Cancel: {
        const taskId = r.raw(TASK_ID_SIZE);
        if (r.remaining === 0) executor.cancelQueued(taskId);
        else executor.cancelDirect(taskKeyOf(taskId), r.i32(), r.u32(), r.str(), r.bool());
        return;
      }
      case Msg.CancelChildren: {
        // A recursive cancel of a call running here: its children first; a forced one kills
        // this process once the node has their cancels (requests go out in order).
        const taskId = Buffer.from(r.raw(TASK_ID_SIZE));
        const force = r.bool();
        core.cancelChildren(taskKeyOf(taskId), force);
        if (force) backend.request('childrenCancelled', taskId).catch(() => {});
        return;
      }
      case Msg.StreamControl: {
        const taskKey = taskKeyOf(r.raw(TASK_ID_SIZE));
        executor.streamControl(taskKey, r.u32());
        return;
      }
      case Msg.DropActor:
        executor.dropActor(Buffer.from(r.raw(16)));
        return;
      case Msg.Exit:
        exit(0);
        return;
      case Msg.ExitWhenIdle:
        executor.onIdle(() => exit(0));
        return;
      default:
        warn('SUNRAY_UNKNOWN_MESSAGE', `worker got an unknown message type ${type}; ignored`);
    }
  },
);
inbox.start();
inbox.setRef(true);

function dieWithParent(): void {
  const orphaned = () => process.ppid !== config.parentPid;
  let armed: boolean;
  try {
    armed = native.dieWithParent(constants.signals.SIGKILL, config.parentPid);
  } catch (err) {
    // Should prctl ever refuse, fall back to looking (not during a synchronous task).
    console.error(`sunray worker: cannot ask to die with the node: ${(err as Error).message}`);
    setInterval(() => {
      if (orphaned()) exit(0);
    }, 500).unref();
    armed = !orphaned();
  }
  if (!armed) process.exit(0); // nothing is attached yet
}

function exit(code: number): void {
  core.taskEvents.flush();
  core.metrics.flush();
  links.closeAll();
  peers.closeAll();
  out.flush();
  inbox.stop();
  store.close();
  process.exit(code);
}

// Ready carries the heap limit, so that an out-of-memory death can name it.
out.send(
  Buffer.from(
    new Writer(16).u8(Msg.Ready).u32(config.index).f64(getHeapStatistics().heap_size_limit).finish(),
  ),
);
out.flush();
