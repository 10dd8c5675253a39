// The one wire format of a failed task's error (protocol/error-record.ts):
// every sender encodes with encodeErrorRecord, every reader decodes with
// failureToError, and each kind of failure comes back as the error class a
// user catches. Without processes: records in, errors out.
import { describe, expect, test } from 'vitest';
import {
  ActorDiedError,
  OutOfMemoryError,
  RemoteError,
  TaskCancelledError,
  TaskError,
  WorkerCrashedError,
  WorkerStartError,
} from '../../lib/base/errors.js';
import { deserialize, serialize } from '../../lib/base/serialization.js';
import {
  encodeErrorRecord,
  errorRecord,
  failureToError,
  type ReceivedErrorRecord,
  retryableError,
  thrownErrorRecord,
} from '../../lib/protocol/error-record.js';

/** Through the wire and back, as an owner reads a failed result. */
const back = (bytes: Buffer) => failureToError(deserialize(bytes) as ReceivedErrorRecord);

describe('a task error crosses the wire as one record', () => {
  test("what a task's code threw comes back as a TaskError naming the task, its cause the thrown error", () => {
    const thrown = Object.assign(new RangeError('too far'), { code: 'E_FAR' });
    const err = back(encodeErrorRecord(thrownErrorRecord(thrown, 'walk')));
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).taskName).toBe('walk');
    expect(err.message).toBe('task walk failed: RangeError: too far');
    expect(err.cause).toBeInstanceOf(RemoteError);
    expect((err.cause as RemoteError & { code: string }).code).toBe('E_FAR');
  });

  test('a throw of a non-error value still makes a record', () => {
    const err = back(encodeErrorRecord(thrownErrorRecord('just a string', 'odd')));
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toContain('just a string');
  });

  test("an owner's TaskError passed on (to a borrower) is the same TaskError again", () => {
    const first = back(encodeErrorRecord(thrownErrorRecord(new TypeError('bad'), 'f')));
    const again = back(encodeErrorRecord(errorRecord(first)));
    expect(again).toBeInstanceOf(TaskError);
    expect((again as TaskError).taskName).toBe('f');
    expect(again.message).toBe(first.message);
  });

  test.each([
    [new WorkerCrashedError('the worker died'), WorkerCrashedError],
    [new OutOfMemoryError('out of heap'), OutOfMemoryError],
    [new TaskCancelledError('cancelled'), TaskCancelledError],
    [new ActorDiedError('the actor died'), ActorDiedError],
    [new WorkerStartError('no worker'), WorkerStartError],
  ])('%s keeps its class and message', (err, Cls) => {
    const got = back(encodeErrorRecord(errorRecord(err)));
    expect(got).toBeInstanceOf(Cls);
    expect(got.constructor).toBe(Cls);
    expect(got.message).toBe(err.message);
  });

  test('a record whose whole cannot be serialized still goes, bare', () => {
    const rec = thrownErrorRecord(new Error('x'), 't');
    // A field no serializer takes (a function) slipped past the per-field check.
    (rec as unknown as Record<string, unknown>).props = { fn: () => 1 };
    expect(() => serialize(rec)).toThrow();
    const err = back(encodeErrorRecord(rec));
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toBe('task t failed: Error: x');
  });
});

describe('which thrown errors a retryExceptions list retries (retryableError, as the node decides)', () => {
  class FlakyError extends Error {}
  class FlakierError extends FlakyError {}
  const payload = (thrown: unknown) => encodeErrorRecord(thrownErrorRecord(thrown, 't'));
  const list = (...names: string[]) => JSON.stringify(names);

  test("'' (retryExceptions: true) retries anything, a thrown string too", () => {
    expect(retryableError('', payload(new TypeError('x')))).toBe(true);
    expect(retryableError('', payload('boom'))).toBe(true);
  });

  test('a listed class, a subclass of one, or a listed name', () => {
    expect(retryableError(list('FlakyError'), payload(new FlakyError('x')))).toBe(true);
    expect(retryableError(list('FlakyError'), payload(new FlakierError('x')))).toBe(true);
    expect(retryableError(list('Error'), payload(new RangeError('x')))).toBe(true);
    expect(
      retryableError(list('QuotaError'), payload(Object.assign(new Error('x'), { name: 'QuotaError' }))),
    ).toBe(true);
    expect(retryableError(list('FlakierError'), payload(new FlakyError('x')))).toBe(false);
    expect(retryableError(list('FlakyError'), payload(new TypeError('x')))).toBe(false);
    expect(retryableError(list('Error'), payload('a string'))).toBe(false);
  });

  test("a nested task's rethrown TaskError counts as its cause's class (Ray's RayTaskError)", () => {
    const nested = new TaskError('inner', { name: 'FlakyError', message: 'x', stack: '' });
    expect(retryableError(list('FlakyError'), payload(nested))).toBe(true);
    expect(retryableError(list('TaskError'), payload(nested))).toBe(true);
    expect(retryableError(list('RangeError'), payload(nested))).toBe(false);
  });

  test('an unreadable list or record retries nothing', () => {
    expect(retryableError('not json', payload(new FlakyError('x')))).toBe(false);
    expect(retryableError(list('FlakyError'), Buffer.from('junk'))).toBe(false);
  });
});
