// Child side of test/sched: inherits fd 3 = segment, 4 = eventfd of ring A
// (parent -> child), 5 = eventfd of ring B (child -> parent). Ring offsets
// come in SUNRAY_RING_A / SUNRAY_RING_B. Echoes every frame from A to B;
// "stats" answers with {frames, wakeups, drains}; "exit" closes everything
// and lets the process end on its own (so a leaked handle would hang it).
// Mode "unref": watch, unref the doorbell and expect to exit naturally.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const addon = process.env.SUNRAY_SCHED_ADDON
  ? require(process.env.SUNRAY_SCHED_ADDON)
  : require('node-gyp-build')(resolve(import.meta.dirname, '../..'));

const SEG = 3;
const EFD_A = 4;
const EFD_B = 5;
const ringA = new addon.Ring(SEG, Number(process.env.SUNRAY_RING_A), {});
const ringB = new addon.Ring(SEG, Number(process.env.SUNRAY_RING_B), {});
const inbox = new addon.Doorbell(ringA, EFD_A);
const outbox = new addon.Doorbell(ringB, EFD_B);

const mode = process.argv[2] ?? 'echo';
if (mode === 'unref') {
  inbox.watch(() => {});
  inbox.unref();
  // nothing else keeps the loop alive: the process must exit by itself
} else {
  let frames = 0;
  let drains = 0;
  let stop = false;
  const stats = Buffer.from('stats');
  const exit = Buffer.from('exit');
  const handle = (buf) => {
    drains++;
    let off = 0;
    let echoFrom = 0;
    while (off < buf.length) {
      const n = buf.readUInt32LE(off);
      const body = buf.subarray(off + 4, off + 4 + n);
      if (body.equals(stats) || body.equals(exit)) {
        // echo what came before, then answer
        if (off > echoFrom) pushAll(buf.subarray(echoFrom, off));
        if (body.equals(stats)) {
          const s = JSON.stringify({ frames, wakeups: inbox.wakeups, drains });
          while (!outbox.pushAndNotify(Buffer.from(s))) {}
        } else stop = true;
        echoFrom = off + 4 + n;
      } else frames++;
      off += 4 + n;
    }
    if (buf.length > echoFrom) pushAll(buf.subarray(echoFrom));
  };
  const pushAll = (buf) => {
    let off = 0;
    while (off < buf.length) off += outbox.pushFramesAndNotify(buf.subarray(off));
  };
  const pump = () => {
    for (let b = inbox.drainOrSleep(); b !== null; b = inbox.drainOrSleep()) {
      handle(b);
      if (stop) break;
    }
    if (stop) {
      inbox.close();
      outbox.close();
      ringA.close();
      ringB.close();
    }
  };
  inbox.watch(pump);
  while (!outbox.pushAndNotify(Buffer.from('ready'))) {}
  pump();
}
