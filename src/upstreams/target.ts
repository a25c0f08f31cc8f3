import { Pool } from 'undici';

/** Options for the connection pool of every target. */
export interface TargetPoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
}

export const DEFAULT_TARGET_POOL_OPTIONS: TargetPoolOptions = {
  connections: 1024,
  keepAliveTimeoutMs: 4000,
  connectTimeoutMs: 5000,
};

/**
 * One upstream URL (origin) and its keep-alive connection pool. A Target
 * outlives config generations: the registry hands the same object to every
 * generation that names the origin, so in-flight counts (and, later, health)
 * survive swaps.
 */
export class Target {
  readonly origin: string;
  readonly dispatcher: Pool;
  /** Requests dispatched to this target and not yet finished. */
  inflight = 0;
  /** Asked at pick time; health checks and drains flip it (later issues). */
  ready = true;
  #closed = false;

  constructor(origin: string, opts: TargetPoolOptions) {
    this.origin = origin;
    this.dispatcher = new Pool(origin, {
      connections: opts.connections,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      connectTimeout: opts.connectTimeoutMs,
      pipelining: 1,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Graceful: no new requests; resolves after the last in-flight one ends. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.ready = false;
    return this.dispatcher.close();
  }

  /** Immediate: cuts whatever is still running. */
  destroy(): Promise<void> {
    this.#closed = true;
    this.ready = false;
    return this.dispatcher.destroy();
  }
}

/** Normalises a target URL to its origin, the identity of a Target. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
