import type { ResourceKind } from '../resources.js';

/**
 * One stored resource. `raw` is the stored text exactly as written (a store
 * shared with other tools may hold garbage; validation happens on every node
 * when it compiles, never in the store).
 */
export interface StoredEntry {
  readonly id: string;
  readonly raw: string;
  /** Store revision of the last write to this entry. */
  readonly modRevision: number;
}

/** Everything in the store at one revision. Frozen: never mutated after emit. */
export interface StoreSnapshot {
  readonly revision: number;
  readonly routes: ReadonlyMap<string, StoredEntry>;
  readonly upstreams: ReadonlyMap<string, StoredEntry>;
  /**
   * Optional hint: this snapshot is the one at `baseRevision` with only
   * these ids changed (put or deleted). Lets a consumer that applied that
   * snapshot look at the changes alone instead of every entry.
   */
  readonly changes?: SnapshotChanges;
}

export interface SnapshotChanges {
  readonly baseRevision: number;
  readonly routes: ReadonlySet<string>;
  readonly upstreams: ReadonlySet<string>;
}

export interface WriteOptions {
  /** Conditional write: fail with PreconditionFailedError unless the entry's
   * modRevision equals this (0 = must not exist). */
  ifRevision?: number;
}

/**
 * The contract every store implements (file:, etcd://). The conformance suite
 * in test/store/ runs against each implementation.
 *
 * - load() reads everything at one revision; it throws StoreUnavailableError
 *   rather than ever returning an empty table for a failed read.
 * - watch() delivers whole snapshots newer than the last one delivered, in
 *   revision order, coalesced (latest wins). The listener is called
 *   synchronously from the store's own event loop turn and must not throw.
 *   It stops when `signal` aborts.
 * - put()/delete() resolve with the revision they produced, only once the write
 *   is durable. Errors: PreconditionFailedError (ifRevision mismatch),
 *   NotFoundError (delete of a missing entry), ConflictError (deleting an
 *   upstream that a route uses, checked atomically with the delete),
 *   StoreUnavailableError (store unreachable / timed out).
 */
export interface Store {
  readonly kind: 'file' | 'etcd';
  /** False while the backing store is unreachable. */
  readonly connected: boolean;
  load(): Promise<StoreSnapshot>;
  watch(onSnapshot: (snapshot: StoreSnapshot) => void, signal: AbortSignal): void;
  get(kind: ResourceKind, id: string): Promise<StoredEntry | null>;
  put(kind: ResourceKind, id: string, value: unknown, opts?: WriteOptions): Promise<number>;
  delete(kind: ResourceKind, id: string, opts?: WriteOptions): Promise<number>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class NotFoundError extends StoreError {
  constructor(message: string) { super(message, 'not_found'); }
}
export class PreconditionFailedError extends StoreError {
  constructor(message: string, readonly currentRevision: number) { super(message, 'precondition_failed'); }
}
export class ConflictError extends StoreError {
  constructor(message: string) { super(message, 'conflict'); }
}
export class StoreUnavailableError extends StoreError {
  constructor(message: string) { super(message, 'store_unavailable'); }
}

/** The upstream name a stored route refers to, or null when unparseable. */
export function routeUpstreamOf(raw: string): string | null {
  try {
    const v = JSON.parse(raw) as { upstream?: unknown };
    return typeof v?.upstream === 'string' ? v.upstream : null;
  } catch {
    return null;
  }
}
