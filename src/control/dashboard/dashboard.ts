// The dashboard (CONTRACT §3 `GET /`, issue 9): static files served by the
// admin listener itself, and GET /events, a server-sent-events stream of the
// gateway's state for the page's live view.
//
// Auth. The admin API's onRequest hook asks for the bearer token on every path
// but /healthz and /readyz. The page must load before it can ask for the
// token, so the four static files (they hold no data: every number the page
// shows comes from authenticated requests) are answered in front of fastify,
// for GET and HEAD of their exact paths only; anything else, including every
// data endpoint, goes to fastify and its auth hook unchanged.
// GET /events accepts the token as `?token=` as well (EventSource cannot send
// headers; the page itself streams with fetch and a header): the parameter is
// removed from the URL and, unless an Authorization header was sent, becomes
// one, before fastify sees the request. The admin API's hook then compares it
// in constant time, counts and logs a refusal like any other (never the token,
// which no longer is in the URL anything logs).

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayView } from '../gateway-view.js';
import { ApiError, sendError } from '../admin-errors.js';
import { loadAssets, type Asset, type LoadedAssets } from './assets.js';
import { StateProducer, TICK_MS, type Sink } from './state-producer.js';

export interface DashboardOptions {
  view: GatewayView;
  logger: Logger;
  /** The admin token (null = open API): the producer's in-process requests carry it. */
  token: string | null;
  /** Test hook: where the assets are. */
  assets?: LoadedAssets;
  tickMs?: number;
  /** At most this many /events streams at once (503 above). */
  maxClients?: number;
}

export const EVENTS_PATH = '/events';
const DEFAULT_MAX_CLIENTS = 64;
/** A client that does not read gets dropped (it reconnects) rather than buffered without bound. */
const MAX_BUFFERED = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string | number> = { ...SECURITY_HEADERS, etag: asset.etag, 'content-type': asset.contentType };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = asset.body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/**
 * Answers the static files before fastify (see the header comment) and moves
 * a `?token=` of /events into the Authorization header. Every other request
 * goes to the listeners fastify registered, untouched.
 */
function installFrontDoor(server: Server, assets: LoadedAssets, logger: Logger): void {
  type Listener = (req: IncomingMessage, res: ServerResponse) => void;
  const inner = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  let warned = false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const p = pathOf(req.url);
    if (p === EVENTS_PATH && req.url!.length > p.length) moveTokenToHeader(req);
    else if ((req.method === 'GET' || req.method === 'HEAD') && (p === '/' || p.startsWith('/dashboard/'))) {
      if (assets.ok) {
        const a = assets.assets.get(p);
        if (a) return serveAsset(req, res, a);
      } else if (p === '/') {
        if (!warned) logger.error({ tried: assets.tried }, 'dashboard: asset files not found; GET / answers 503');
        warned = true;
        const body = JSON.stringify({
          error: 'dashboard_unavailable',
          message: `the dashboard's files were not found (looked in ${assets.tried.join(', ')})`,
        });
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
    }
    for (const l of inner) l.call(server, req, res);
  });
}

function moveTokenToHeader(req: IncomingMessage): void {
  const url = req.url!;
  const q = url.indexOf('?');
  const params = new URLSearchParams(url.slice(q + 1));
  if (!params.has('token')) return;
  const token = params.get('token') ?? '';
  params.delete('token');
  const rest = params.toString();
  req.url = url.slice(0, q) + (rest ? `?${rest}` : '');
  if (req.headers.authorization === undefined && token !== '') req.headers.authorization = `Bearer ${token}`;
}

export interface Dashboard {
  producer: StateProducer;
}

/** Registers the dashboard on the admin API (call from its `extend` hook). */
export function registerDashboard(app: FastifyInstance, opts: DashboardOptions): Dashboard {
  const { view, logger } = opts;
  const assets = opts.assets ?? loadAssets();
  if (!assets.ok) logger.error({ tried: assets.tried }, 'dashboard: asset files not found; GET / will answer 503');
  installFrontDoor(app.server, assets, logger);

  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const producer = new StateProducer({
    tickMs: opts.tickMs ?? TICK_MS,
    fetch: async (url) => {
      const r = await app.inject({ method: 'GET', url, headers: auth });
      let body: unknown = r.body;
      try {
        body = r.json();
      } catch {
        /* keep the text */
      }
      return { status: r.statusCode, body };
    },
    self: () => ({ node: view.nodeId, version: view.version, ready: view.ready, storeConnected: view.storeConnected, appliedRevision: view.appliedRevision }),
  });
  const maxClients = opts.maxClients ?? DEFAULT_MAX_CLIENTS;
  const streams = new Set<ServerResponse>();

  // A write through the API (a flip, a drain, an abort) shows on the next tick.
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 400) producer.markDirty();
  });
  // Open streams would keep app.close() waiting: end them first.
  app.addHook('preClose', async () => {
    producer.stop();
    for (const s of streams) s.end();
    streams.clear();
  });

  // Over HTTP the front door answers first; this route puts GET / in
  // /openapi.json and answers in-process requests (app.inject).
  app.get('/', { schema: { summary: 'The dashboard (HTML; loads without the token, then asks for it)', security: [], tags: ['dashboard'] } }, async (_req, reply) => {
    const page = assets.ok ? assets.assets.get('/') : undefined;
    if (!page) throw new ApiError(503, 'dashboard_unavailable', "the dashboard's files were not found");
    return reply.headers(SECURITY_HEADERS).header('etag', page.etag).type(page.contentType).send(page.body);
  });

  app.get(
    EVENTS_PATH,
    {
      // A HEAD must not open a stream.
      exposeHeadRoute: false,
      schema: {
        tags: ['dashboard'],
        summary: 'Server-sent events for the dashboard: `routes` and `state` snapshots (JSON), sent when they change (checked every 500 ms)',
        querystring: { type: 'object', properties: { token: { type: 'string', description: 'The admin token, for clients that cannot send an Authorization header (EventSource)' } } },
      },
    },
    async (req, reply) => {
      if (streams.size >= maxClients) {
        reply.header('retry-after', '5');
        return sendError(reply, new ApiError(503, 'too_many_streams', `at most ${maxClients} dashboard streams at once`));
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      res.write(`retry: 2000\n: switchyard ${view.nodeId}\n\n`);
      streams.add(res);
      let lastWrite = Date.now();
      const write = (chunk: string) => {
        if (res.destroyed || res.writableEnded) return;
        if (res.writableLength > MAX_BUFFERED) {
          res.destroy();
          return;
        }
        res.write(chunk);
        lastWrite = Date.now();
      };
      const sink: Sink = { send: (event, data) => write(`event: ${event}\ndata: ${data}\n\n`) };
      const keepalive = setInterval(() => {
        if (Date.now() - lastWrite >= KEEPALIVE_MS) write(': keepalive\n\n');
      }, KEEPALIVE_MS / 3);
      keepalive.unref();
      const done = () => {
        clearInterval(keepalive);
        streams.delete(res);
        producer.remove(sink);
      };
      res.once('close', done);
      req.raw.once('close', done);
      producer.add(sink);
    },
  );

  return { producer };
}
