// Sizing the store: how much memory a node's arena takes when nobody says (Ray's rule,
// 30% of memory), how much it may take at most, and how big one object can be.
import { constants as bufferConstants } from 'node:buffer';
import { statfsSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';

const MIB = 1024 * 1024;

/**
 * The largest object the store holds: a get hands out one Buffer over the object's bytes,
 * and Node's Buffer limit for the running version bounds it (4 GiB on Node 20; 2^53 - 1
 * on Node 22 and later).
 */
export const MAX_OBJECT_SIZE: number = bufferConstants.MAX_LENGTH;

/**
 * The largest arena the native store maps (1 TiB of data plus its tables). The memory the
 * machine has is the practical limit: see {@link machineMemory}.
 */
export const MAX_ARENA_CAPACITY: number = 2 ** 40;

/** The smallest default store: below this a node could not hold a task's arguments. */
const MIN_DEFAULT = 64 * MIB;

/**
 * The memory this process may use: the machine's RAM, or less when a cgroup (a container's
 * memory limit) says so.
 */
export function machineMemory(): number {
  const total = totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

/** What decided the default store size. */
export interface CapacityChoice {
  /** The store's size in bytes (a whole number of MiB). */
  bytes: number;
  /** 30% of memory: what Ray takes, and what the store takes when nothing smaller limits it. */
  wanted: number;
  /** Free bytes on /dev/shm, or undefined when there is no /dev/shm. */
  shmFree: number | undefined;
  /** 'memory' when 30% of memory (or the memory still available) decided; 'shm' when /dev/shm did. */
  limitedBy: 'memory' | 'shm';
}

/**
 * The default store size, Ray's rule: 30% of the memory this process may use (see
 * {@link machineMemory}), no more than the memory available now and the free space of
 * /dev/shm (where a machine's shared memory is meant to live; a container's is often
 * small), and at least 64 MiB.
 */
export function chooseCapacity(): CapacityChoice {
  const memory = machineMemory();
  const wanted = Math.floor(memory * 0.3);
  let shmFree: number | undefined;
  try {
    const s = statfsSync('/dev/shm');
    shmFree = s.bavail * s.bsize;
  } catch {
    // No /dev/shm: the store's memfd needs none, memory alone decides.
  }
  const byMemory = Math.min(wanted, freemem());
  const limitedBy = shmFree !== undefined && shmFree < byMemory ? 'shm' : 'memory';
  let bytes = Math.max(MIN_DEFAULT, Math.min(byMemory, shmFree ?? byMemory));
  bytes -= bytes % MIB;
  return { bytes, wanted, shmFree, limitedBy };
}

/** {@link chooseCapacity}'s size alone. */
export function defaultCapacity(): number {
  return chooseCapacity().bytes;
}

/** Why an explicit capacity cannot work, or undefined when it can. */
export function capacityProblem(capacity: number): string | undefined {
  if (!Number.isSafeInteger(capacity) || capacity <= 0)
    return `objectStoreMemory must be a positive whole number of bytes, got ${capacity}`;
  if (capacity > MAX_ARENA_CAPACITY)
    return `objectStoreMemory of ${capacity} bytes is more than a store can map (${MAX_ARENA_CAPACITY} bytes)`;
  const memory = machineMemory();
  if (capacity > memory)
    return (
      `objectStoreMemory of ${capacity} bytes is more than this machine's memory (${memory} bytes): ` +
      'the store lives in RAM; lower objectStoreMemory (init option) or the capacity option'
    );
  return undefined;
}
