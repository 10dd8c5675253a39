// A task spec on the wire between a worker and its node manager: what a worker writes
// is what the node manager reads, and an actor call it only routes goes on to the
// actor byte for byte, without being decoded or encoded again.
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../lib/base/codec.js';
import { IdGenerator } from '../../lib/base/ids.js';
import {
  ArgKind,
  CallSpec,
  encodeArgs,
  readSpec,
  type SpecBase,
  SpecView,
  specKey,
  TaskKind,
  writeSpec,
} from '../../lib/protocol/spec.js';

const base: SpecBase = {
  kind: TaskKind.ActorCall,
  fnId: '',
  name: 'Counter.incr',
  numReturns: 2,
  demand: { CPU: 0 },
  maxRetries: 3,
  retryExceptions: true,
  actorId: Buffer.alloc(16, 0xab),
  method: 'incr',
  maxConcurrency: 4,
  strategy: '{"type":"SPREAD"}',
  retryOn: '["RangeError","FlakyError"]',
  concurrencyGroup: '',
  stream: '',
  runtimeEnv: '',
};

function call(): CallSpec {
  const ids = new IdGenerator(Buffer.alloc(16, 1));
  const args = encodeArgs([{ kind: ArgKind.Value, payload: Buffer.from('héllo') }]);
  return new CallSpec(base, ids.nextTaskKey(), args, '0a1b2c3dteam-é');
}

function encoded(spec: Parameters<typeof writeSpec>[1]): Buffer {
  const w = new Writer(64);
  writeSpec(w, spec);
  return Buffer.from(w.finish());
}

describe('task spec wire format', () => {
  it('reads back every field a worker wrote', () => {
    const spec = call();
    const back = readSpec(new Reader(encoded(spec)));
    for (const k of [
      'kind',
      'fnId',
      'name',
      'numReturns',
      'maxRetries',
      'retryExceptions',
      'method',
      'job',
    ] as const)
      expect(back[k]).toEqual(spec[k]);
    expect(SpecView.read(new Reader(encoded(spec))).job).toBe('0a1b2c3dteam-é');
    expect(back.maxConcurrency).toBe(4);
    expect(back.strategy).toBe(base.strategy);
    expect(back.retryOn).toBe(base.retryOn);
    expect(back.demand).toEqual({ CPU: 0 });
    expect(back.taskId.equals(spec.taskId)).toBe(true);
    expect(back.actorId.equals(base.actorId)).toBe(true);
    expect(back.args.equals(spec.args)).toBe(true);
  });

  it('a SpecView gives the same fields, and forwards the bytes it came in unchanged', () => {
    const spec = call();
    const bytes = encoded(spec);
    const view = SpecView.read(new Reader(bytes));
    expect(specKey(view)).toBe(spec.key);
    expect(view.kind).toBe(TaskKind.ActorCall);
    expect(view.numReturns).toBe(2);
    expect(view.maxRetries).toBe(3);
    expect(view.retryExceptions).toBe(true);
    expect(view.actorId.equals(base.actorId)).toBe(true);
    expect(encoded(view).equals(bytes)).toBe(true);
    expect(view.name).toBe('Counter.incr');
    expect(view.method).toBe('incr');
    expect(view.retryOn).toBe(base.retryOn);
    expect(view.args.equals(spec.args)).toBe(true);
    expect(view.strategy).toBe(base.strategy);
  });

  it('a SpecView owns its bytes: the frame it was read from may be reused', () => {
    const frame = encoded(call());
    const view = SpecView.read(new Reader(frame));
    const before = Buffer.from(view.bytes);
    frame.fill(0);
    expect(view.bytes.equals(before)).toBe(true);
    expect(view.name).toBe('Counter.incr');
  });

  it('calls of different functions and methods read back as themselves, the base shared only when equal', () => {
    const ids = new IdGenerator(Buffer.alloc(16, 2));
    const other: SpecBase = { ...base, method: 'decr', name: 'Counter.decr', demand: { CPU: 1 } };
    const specs = [base, other, base, other, base].map(
      (b, i) =>
        new CallSpec(b, ids.nextTaskKey(), encodeArgs([{ kind: ArgKind.Value, payload: Buffer.from([i]) }])),
    );
    const back = specs.map((s) => readSpec(new Reader(encoded(s))));
    back.forEach((b, i) => {
      expect(b.method).toBe(specs[i]!.method);
      expect(b.name).toBe(specs[i]!.name);
      expect(b.demand).toEqual(specs[i]!.demand);
      expect(specKey(b)).toBe(specs[i]!.key);
      expect(b.args.equals(specs[i]!.args)).toBe(true);
    });
    // Equal bases decode to one shared (frozen) demand; different ones do not mix.
    expect(back[0]!.demand).toBe(back[2]!.demand);
    expect(back[0]!.demand).not.toBe(back[1]!.demand);
  });

  it("an actor call's concurrency group travels with it, and the default group costs no byte", () => {
    const ids = new IdGenerator(Buffer.alloc(16, 3));
    const args = encodeArgs([]);
    const inIo = new CallSpec({ ...base, concurrencyGroup: 'io' }, ids.nextTaskKey(), args);
    const plain = new CallSpec(base, ids.nextTaskKey(), args);
    const back = readSpec(new Reader(encoded(inIo)));
    expect(back.method).toBe('incr');
    expect(back.concurrencyGroup).toBe('io');
    const view = SpecView.read(new Reader(encoded(inIo)));
    expect(view.method).toBe('incr');
    expect(view.concurrencyGroup).toBe('io');
    expect(readSpec(new Reader(encoded(plain))).concurrencyGroup).toBe('');
    // The group adds its name and one separator; a call without one is as long as before.
    expect(encoded(inIo).length - encoded(plain).length).toBe(3);
    // An ActorCreate's method field (its options' JSON) is never split.
    const create = new CallSpec(
      { ...base, kind: TaskKind.ActorCreate, method: '{"a":"x"}' },
      ids.nextTaskKey(),
      args,
    );
    expect(readSpec(new Reader(encoded(create))).method).toBe('{"a":"x"}');
  });

  it('a streaming call says so, with its backpressure, for tasks and actor calls in any group', () => {
    const ids = new IdGenerator(Buffer.alloc(16, 4));
    const args = encodeArgs([]);
    const cases: SpecBase[] = [
      { ...base, stream: 'streaming:5' },
      { ...base, concurrencyGroup: 'io', stream: 'streaming' },
      { ...base, kind: TaskKind.Task, actorId: Buffer.alloc(16), method: '', stream: 'streaming:2' },
      { ...base, kind: TaskKind.Task, actorId: Buffer.alloc(16), method: '', stream: '' },
    ];
    for (const b of cases) {
      const spec = new CallSpec(b, ids.nextTaskKey(), args);
      for (const back of [readSpec(new Reader(encoded(spec))), SpecView.read(new Reader(encoded(spec)))]) {
        expect(back.stream).toBe(b.stream);
        expect(back.method).toBe(b.method);
        expect(back.concurrencyGroup).toBe(b.concurrencyGroup);
      }
    }
  });

  it('a runtime env travels with the spec, before the arguments, read by workers and the node alike', () => {
    const ids = new IdGenerator(Buffer.alloc(16, 5));
    const env = '{"envVars":{"A":"1"},"npmDependencies":{"is-number":"7.0.0"}}';
    const spec = new CallSpec(
      { ...base, kind: TaskKind.Task, runtimeEnv: env },
      ids.nextTaskKey(),
      encodeArgs([]),
    );
    for (const back of [readSpec(new Reader(encoded(spec))), SpecView.read(new Reader(encoded(spec)))]) {
      expect(back.runtimeEnv).toBe(env);
      expect(back.args.equals(spec.args)).toBe(true);
    }
  });

  it('a truncated spec is refused with a RangeError, not read past its end', () => {
    const bytes = encoded(call());
    expect(() => SpecView.read(new Reader(bytes.subarray(0, 20)))).toThrow(RangeError);
    const cut = SpecView.read(new Reader(bytes.subarray(0, bytes.length - 3)));
    expect(cut.strategy).toBe(base.strategy); // the base is whole: only the arguments are cut
    expect(() => cut.args).toThrow(RangeError);
  });
});
