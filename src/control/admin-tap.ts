import type { FastifyInstance } from 'fastify';
import { observers } from '../observe/request-observers.js';
import { ApiError, invalidConfig } from './admin-errors.js';
import type { GatewayView } from './gateway-view.js';

const HEARTBEAT_MS = 15000;

/**
 * GET /debug/tap?route=ID (CONTRACT §3): server-sent events, one per proxied
 * request of that route: method, path, status, upstream target, duration,
 * request id. Bounded by `sample` (0..1, default 1) and `max` events per
 * second (default 50, at most 1000), so a tap never slows the data plane.
 */
export function registerTapEndpoint(app: FastifyInstance, view: GatewayView): void {
  app.get('/debug/tap', { schema: { tags: ['debug'], summary: 'Live requests of one route as server-sent events (sampled, capped per second)' } }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const route = q.route;
    if (!route) throw invalidConfig([{ field: '/route', message: 'the route id to tap is required (?route=ID)' }], 'tap');
    if (view.routeStatus(route) === null) throw new ApiError(404, 'not_found', `route ${route} does not exist`);
    const sample = q.sample === undefined ? 1 : Number(q.sample);
    const max = q.max === undefined ? 50 : Number(q.max);
    if (!(sample > 0 && sample <= 1)) throw invalidConfig([{ field: '/sample', message: 'must be a number in (0, 1]' }], 'tap');
    if (!Number.isInteger(max) || max < 1 || max > 1000) throw invalidConfig([{ field: '/max', message: 'must be an integer from 1 to 1000' }], 'tap');

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`: tapping route ${route}\n\n`);
    const tap = observers.addTap(route, { sample, maxPerSecond: max }, (e) => {
      // A slow reader loses events instead of buffering without bound.
      if (res.writableLength > 1 << 20) return;
      res.write(`data: ${JSON.stringify({
        time: e.time, method: e.method, path: e.path, status: e.status, target: e.target, pool: e.pool,
        durationMs: e.durationMs, requestId: e.requestId,
      })}\n\n`);
    });
    const beat = setInterval(() => res.write(`: dropped ${tap.dropped()}\n\n`), HEARTBEAT_MS);
    beat.unref();
    res.on('close', () => {
      clearInterval(beat);
      tap.remove();
    });
  });
}
