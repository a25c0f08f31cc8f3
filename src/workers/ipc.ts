import type { StoreSnapshot, StoredEntry } from '../control/store.js';
import type { UpstreamCounters } from './pool-counters.js';
import type { RequestEvent } from '../observe/request-observers.js';

/** A snapshot as it crosses the IPC channel (Maps do not survive JSON). */
export interface WireSnapshot {
  revision: number;
  routes: [string, string, number][];
  upstreams: [string, string, number][];
}

export type ToWorker =
  | { t: 'snapshot'; snapshot: WireSnapshot }
  | { t: 'counters?'; id: number }
  | { t: 'metrics?'; id: number }
  /** The routes the primary's admin API is tapping: forward their events. */
  | { t: 'taps'; routes: string[] };

export type FromWorker =
  /** Sent once the worker listens for messages: the primary answers with the latest snapshot. */
  | { t: 'hello' }
  | { t: 'ready'; urls: string[] }
  /** The worker swapped in this revision. */
  | { t: 'applied'; revision: number }
  | { t: 'counters'; id: number; counters: UpstreamCounters }
  | { t: 'metrics'; id: number; metrics: unknown[] }
  | { t: 'tap'; event: RequestEvent };

const toWire = (m: ReadonlyMap<string, StoredEntry>): [string, string, number][] => [...m.values()].map((e) => [e.id, e.raw, e.modRevision]);
const fromWire = (a: [string, string, number][]): Map<string, StoredEntry> => new Map(a.map(([id, raw, modRevision]) => [id, Object.freeze({ id, raw, modRevision })]));

export function snapshotToWire(s: StoreSnapshot): WireSnapshot {
  return { revision: s.revision, routes: toWire(s.routes), upstreams: toWire(s.upstreams) };
}

export function snapshotFromWire(w: WireSnapshot): StoreSnapshot {
  return Object.freeze({ revision: w.revision, routes: fromWire(w.routes), upstreams: fromWire(w.upstreams) });
}
