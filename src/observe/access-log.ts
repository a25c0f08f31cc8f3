import pino from 'pino';
import type { RequestEvent } from './request-observers.js';

/**
 * The optional access log: one JSON line per proxied request. Events are
 * queued and serialised in a batch after the current I/O turn, and written
 * through pino's asynchronous destination, so the response never waits for
 * the log.
 */
export function createAccessLog(dest: string): { sink: (e: RequestEvent) => void; flush(): void } {
  const stream = pino.destination({ dest: dest === '-' ? 1 : dest, sync: false, mkdir: true, minLength: 4096 });
  const log = pino({ base: null, timestamp: false, messageKey: 'msg' }, stream);
  // Lines are buffered up to 4 KiB; a quiet gateway still writes them within a second.
  const flusher = setInterval(() => {
    try {
      stream.flush();
    } catch {
      /* not open yet: the next tick flushes */
    }
  }, 1000);
  flusher.unref();
  let queue: RequestEvent[] = [];
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const e of batch) {
      log.info({
        time: e.time, requestId: e.requestId, traceId: e.traceId, method: e.method, path: e.path,
        route: e.route, upstream: e.upstream, pool: e.pool, target: e.target, status: e.status,
        bytes: e.bytes, durationMs: e.durationMs, upstreamMs: e.upstreamMs,
      });
    }
  };
  return {
    sink(e) {
      queue.push(e);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
    flush() {
      clearInterval(flusher);
      drain();
      try {
        stream.flushSync();
      } catch {
        /* nothing written yet */
      }
    },
  };
}
