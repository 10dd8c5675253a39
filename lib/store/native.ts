// The typed view of the addon's StoreHandle (native/addon/store_binding.cc).
import { native } from '../base/addon.js';
import type { StoreStats } from './object-store.js';

/** get() statuses. */
export const GetStatus = { Ready: 0, Absent: 1, Unsealed: 2, OwnUnsealed: 3 } as const;
export type GetStatus = (typeof GetStatus)[keyof typeof GetStatus];

export interface NativeObjectInfo {
  id: Buffer;
  state: 'unsealed' | 'sealed' | 'spilled';
  dataSize: number;
  metadataSize: number;
  pins: number;
  primary: boolean;
  deletePending: boolean;
  creatorPid: number;
}

export interface NativeStoreHandle {
  /** The whole mapping; views are Buffer.from(arena, offset, size). */
  readonly arena: ArrayBuffer;
  readonly fd: number;
  readonly path: string;
  readonly capacity: number;
  readonly clientSlot: number;
  readonly isCreator: boolean;
  readonly spillDir: string;
  create(id: Uint8Array, dataSize: number, metadata: Uint8Array | null, primary: boolean): number;
  seal(id: Uint8Array): void;
  abort(id: Uint8Array): void;
  /** Fills out with [offset, dataSize, metadataSize] and pins when Ready. */
  get(id: Uint8Array, out: Float64Array): GetStatus;
  release(id: Uint8Array): void;
  contains(id: Uint8Array): boolean;
  delete(id: Uint8Array): void;
  list(): NativeObjectInfo[];
  stats(): StoreStats; // the binding returns exactly the public shape
  reapDeadClients(): number;
  reapClient(slot: number): void;
  removeSpillFiles(): void;
  sealEpoch(): number;
  armWait(epoch: number, onSeal: () => void): void;
  disarmWait(): void;
  viewOffset(view: Uint8Array): number;
  close(): void;
}

export interface NativeStoreHandleClass {
  create(capacity: number, maxObjects: number, spillDir: string): NativeStoreHandle;
  attach(fdOrPath: number | string): NativeStoreHandle;
}

export const StoreHandle: NativeStoreHandleClass = native.StoreHandle;

/** Tells V8 how much memory outside its heap JS objects keep alive (napi_adjust_external_memory). */
export const adjustExternalMemory: (deltaBytes: number) => number = native.adjustExternalMemory;
