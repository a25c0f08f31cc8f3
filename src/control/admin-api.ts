// The admin API (CONTRACT §3): health, readiness, metrics, routes and
// upstreams CRUD over the Store, and /openapi.json generated from the same
// JSON Schemas validate.ts enforces.
//
// Bodies are validated by validate.ts (not by fastify) so that every error has
// the contract's `{ error: 'invalid_config', details: [{ field, message }] }`
// form; the schemas are registered on the routes for documentation only.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { ID_PATTERN, type ConfigErrorDetail, type ResourceKind } from '../resources.js';
import { VERSION } from '../version.js';
import type { GatewayView } from './gateway-view.js';
import { ApiError, checkPathId, invalidConfig, parseWriteCondition, sendError } from './admin-errors.js';
import { ErrorBodySchema, RouteSchema, UpstreamSchema } from './resource-schemas.js';
import { StoreError, type StoredEntry, type Store, type WriteOptions } from './store.js';
import { parseStoredRoute, parseStoredUpstream, validateRoute, validateUpstream } from './validate.js';

export const ADMIN_BODY_LIMIT = 1024 * 1024;

export interface AdminApiOptions {
  store: Store;
  view: GatewayView;
  host: string;
  port: number;
  /** Bearer token required on every endpoint but /healthz and /readyz; null = open. */
  token: string | null;
  /** Certificate and key (PEM) to serve the admin API over TLS; null = plain HTTP. */
  tls?: { cert: Buffer; key: Buffer } | null;
  logger: Logger;
  /**
   * More endpoints (flip, status, deployments, nodes, dashboard...), added
   * before the server listens so that they get auth, the JSON error format
   * and a place in /openapi.json.
   */
  extend?: (app: FastifyInstance, ctx: { store: Store; view: GatewayView; logger: Logger }) => void | Promise<void>;
}

export interface AdminApi {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz']);

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The resource as stored, keyed by the store key; garbage is kept as `raw`. */
function storedBody(entry: StoredEntry, key: 'id' | 'name'): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.raw);
  } catch {
    return { [key]: entry.id, raw: entry.raw };
  }
  if (!isPlainObject(parsed)) return { [key]: entry.id, raw: entry.raw };
  const { [key]: _ignored, ...rest } = parsed;
  return { [key]: entry.id, ...rest };
}

const idParams = (key: 'id' | 'name') =>
  ({
    type: 'object',
    required: [key],
    properties: { [key]: { type: 'string', pattern: ID_PATTERN } },
  }) as const;

const ifMatchHeaders = {
  type: 'object',
  properties: {
    'if-match': { type: 'string', description: 'Conditional write: the store revision the resource must still have (412 otherwise); "*" = must exist' },
    'if-none-match': { type: 'string', description: '"*": create only (412 when it exists)' },
  },
} as const;

const errorRef = (description: string) => ({ description, $ref: 'ErrorBody#' });
const anyObject = (description: string) => ({ description, type: 'object', additionalProperties: true });

export async function startAdminApi(opts: AdminApiOptions): Promise<AdminApi> {
  const { store, view, logger } = opts;
  const tokenHash = opts.token ? sha256(opts.token) : null;
  // Refused requests are counted and logged, never with what was sent as the token.
  const AUTH_FAILURES = 'switchyard_admin_auth_failures_total';
  const authFailures =
    (view.metrics.getSingleMetric(AUTH_FAILURES) as Counter<'reason'> | undefined) ??
    new Counter({ name: AUTH_FAILURES, help: 'Admin API requests refused for a missing or wrong bearer token', labelNames: ['reason'] as const, registers: [view.metrics] });
  let authLoggedAt = 0;
  let authUnlogged = 0;

  const app = fastify({
    // --admin-tls-cert/--admin-tls-key: the admin API over TLS 1.2+.
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
    logger: false,
    bodyLimit: ADMIN_BODY_LIMIT,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1000, ignoreTrailingSlash: true },
  });

  // Validation is ours (validate.ts); fastify schemas are documentation only.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON only: anything else is 415. Our own parser so that the error says
  // where the JSON breaks; a "__proto__" key stays an own property (JSON.parse
  // never touches prototypes) and validation reports it as an unknown field.
  app.removeAllContentTypeParsers();
  // An empty body is no body (a DELETE sent with a JSON content type); an
  // endpoint that needs one says so.
  app.addContentTypeParser(/^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i, { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  app.addSchema({ $id: 'Route', ...RouteSchema });
  app.addSchema({ $id: 'Upstream', ...UpstreamSchema });
  app.addSchema({ $id: 'ErrorBody', ...ErrorBodySchema });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Switchyard admin API', version: VERSION, description: 'CONTRACT §3' },
      components: tokenHash
        ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }
        : {},
      ...(tokenHash ? { security: [{ bearer: [] }] } : {}),
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!tokenHash) return;
    const path = req.url.split('?', 1)[0]!;
    if (OPEN_PATHS.has(path)) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    const ok = m !== null && timingSafeEqual(sha256(m[1]!), tokenHash);
    if (!ok) {
      const reason = header === undefined ? 'missing' : 'wrong';
      authFailures.inc({ reason });
      // At most one line a second: a guessing client must not flood the log.
      const now = Date.now();
      if (now - authLoggedAt >= 1000) {
        logger.warn({ reason, ip: req.ip, method: req.method, path, unlogged: authUnlogged }, 'admin API: authentication failed');
        authLoggedAt = now;
        authUnlogged = 0;
      } else authUnlogged++;
      reply.header('www-authenticate', 'Bearer realm="switchyard"');
      return sendError(
        reply,
        new ApiError(401, 'unauthorized', header === undefined ? 'missing bearer token (Authorization: Bearer <token>)' : 'wrong bearer token'),
      );
    }
  });

  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new ApiError(404, 'not_found', `no endpoint ${req.method} ${req.url.split('?', 1)[0]}`));
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const api = toApiError(err);
    if (api.statusCode >= 500 && api.statusCode !== 503) {
      logger.error({ err, method: req.method, url: req.url.split('?', 1)[0] }, 'admin API request failed');
    } else if (api.statusCode === 503) {
      logger.warn({ method: req.method, url: req.url.split('?', 1)[0], reason: api.message }, 'admin API: store unavailable');
    }
    if (api.statusCode === 413 || api.statusCode === 415) reply.header('connection', 'close');
    return sendError(reply, api);
  });

  // ---- health, readiness, metrics, OpenAPI -------------------------------

  app.get('/healthz', { schema: { summary: 'Liveness (no token needed)', security: [], response: { 200: anyObject('The process serves') } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: 200 once the routing table is loaded (no token needed)', security: [], response: { 200: anyObject('Ready'), 503: anyObject('Not ready yet') } } },
    async (_req, reply) => {
      const body = { ready: view.ready, store: view.storeConnected ? 'connected' : 'disconnected', appliedRevision: view.appliedRevision };
      return reply.code(view.ready ? 200 : 503).send(body);
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_req, reply) => {
    const text = await view.metricsText();
    return reply.type(view.metrics.contentType).send(text);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // ---- resources ---------------------------------------------------------

  const routeStatus = (entry: StoredEntry): Record<string, unknown> => {
    if (entry.modRevision <= view.appliedRevision) {
      const s = view.routeStatus(entry.id);
      if (s) return { ...s };
    }
    const local = parseStoredRoute(entry.raw, view.listenerPolicy, entry.id);
    if (!local.ok) return { status: 'invalid', errors: local.errors };
    return {
      status: 'pending',
      reason: `not yet applied by this node (route revision ${entry.modRevision}, applied revision ${view.appliedRevision})`,
    };
  };
  const routeBody = (entry: StoredEntry) => ({ ...storedBody(entry, 'id'), revision: entry.modRevision, ...routeStatus(entry) });

  const upstreamBody = (entry: StoredEntry) => {
    let errors: ConfigErrorDetail[] | null = entry.modRevision <= view.appliedRevision ? view.upstreamErrors(entry.id) : null;
    if (!errors) {
      const local = parseStoredUpstream(entry.raw, entry.id);
      if (!local.ok) errors = local.errors;
    }
    return { ...storedBody(entry, 'name'), revision: entry.modRevision, ...(errors ? { errors } : {}) };
  };

  interface Kind {
    kind: ResourceKind;
    key: 'id' | 'name';
    singular: 'route' | 'upstream';
    a: 'a' | 'an';
    schemaRef: string;
    body: (entry: StoredEntry) => Record<string, unknown>;
    validate: (body: unknown, id: string) => ReturnType<typeof validateRoute> | ReturnType<typeof validateUpstream>;
  }
  const kinds: Kind[] = [
    {
      kind: 'routes',
      key: 'id',
      singular: 'route',
      a: 'a',
      schemaRef: 'Route#',
      body: routeBody,
      validate: (body, id) => validateRoute(body, view.listenerPolicy, id),
    },
    {
      kind: 'upstreams',
      key: 'name',
      singular: 'upstream',
      a: 'an',
      schemaRef: 'Upstream#',
      body: upstreamBody,
      validate: (body, name) => validateUpstream(body, name),
    },
  ];

  for (const k of kinds) {
    const one = `/${k.kind}/:${k.key}`;
    const tags = [k.kind];
    const getParam = (req: FastifyRequest): string => (req.params as Record<string, string>)[k.key]!;

    app.get(
      `/${k.kind}`,
      {
        schema: {
          tags,
          summary: `List ${k.kind}`,
          response: { 200: anyObject(`{ ${k.kind}: [...], revision }: every stored ${k.singular} and the store revision`), 503: errorRef('Store unavailable') },
        },
      },
      async () => {
        const snap = await store.load();
        const map = k.kind === 'routes' ? snap.routes : snap.upstreams;
        const items = [...map.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(k.body);
        return { [k.kind]: items, revision: snap.revision };
      },
    );

    app.get(
      one,
      {
        schema: {
          tags,
          summary: `One ${k.singular}, its revision and status`,
          params: idParams(k.key),
          response: { 200: anyObject(`The stored ${k.singular} plus revision and status`), 400: errorRef('Invalid id'), 404: errorRef('No such resource') },
        },
      },
      async (req, reply) => {
        const id = getParam(req);
        checkPathId(id, k.key);
        const entry = await store.get(k.kind, id);
        if (!entry) throw new ApiError(404, 'not_found', `no ${k.singular} ${JSON.stringify(id)}`);
        return reply.header('etag', `"${entry.modRevision}"`).send(k.body(entry));
      },
    );

    app.put(
      one,
      {
        schema: {
          tags,
          summary: `Create or replace ${k.a} ${k.singular}`,
          params: idParams(k.key),
          headers: ifMatchHeaders,
          body: { $ref: k.schemaRef },
          response: {
            200: anyObject(`Replaced: { revision, ...${k.singular} }`),
            201: anyObject(`Created: { revision, ...${k.singular} }`),
            400: errorRef('invalid_config with details naming the fields; nothing written'),
            401: errorRef('Missing or wrong token'),
            412: errorRef('If-Match revision no longer current (currentRevision given)'),
            413: errorRef('Body over 1 MiB'),
            415: errorRef('Body is not application/json'),
            503: errorRef('Store unavailable'),
          },
        },
      },
      async (req, reply) => {
        const id = getParam(req);
        checkPathId(id, k.key);
        const cond = parseWriteCondition(req.headers['if-match'], req.headers['if-none-match']);
        const result = k.validate(req.body, id);
        if (!result.ok) throw invalidConfig(result.errors, k.singular);
        const { opts: writeOpts, existed } = await resolveCondition(store, k, id, cond);
        const revision = await store.put(k.kind, id, result.value, writeOpts);
        return reply
          .code(existed ? 200 : 201)
          .header('etag', `"${revision}"`)
          .send({ revision, ...result.value });
      },
    );

    app.delete(
      one,
      {
        schema: {
          tags,
          summary: `Delete ${k.a} ${k.singular}`,
          params: idParams(k.key),
          headers: { type: 'object', properties: { 'if-match': ifMatchHeaders.properties['if-match'] } },
          response: {
            200: anyObject(`{ revision, ${k.key}, deleted: true }`),
            404: errorRef('No such resource'),
            409: errorRef('Conflicting state (an upstream a route uses)'),
            412: errorRef('If-Match revision no longer current'),
          },
        },
      },
      async (req, reply) => {
        const id = getParam(req);
        checkPathId(id, k.key);
        const cond = parseWriteCondition(req.headers['if-match'], req.headers['if-none-match']);
        if (cond.revision === 0) throw new ApiError(400, 'bad_request', 'If-None-Match makes no sense on a delete');
        const writeOpts: WriteOptions | undefined = cond.revision !== undefined ? { ifRevision: cond.revision } : undefined;
        const revision = await store.delete(k.kind, id, writeOpts);
        return reply.header('etag', `"${revision}"`).send({ revision, [k.key]: id, deleted: true });
      },
    );
  }

  if (opts.extend) await opts.extend(app, { store, view, logger });

  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `${opts.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  return {
    app,
    url,
    close: () => app.close(),
  };
}

async function resolveCondition(
  store: Store,
  k: { kind: ResourceKind; singular: string },
  id: string,
  cond: { revision?: number; mustExist?: boolean },
): Promise<{ opts: WriteOptions | undefined; existed: boolean }> {
  if (cond.mustExist) {
    const cur = await store.get(k.kind, id);
    if (!cur) throw new ApiError(412, 'precondition_failed', `${k.singular} ${JSON.stringify(id)} does not exist`, { currentRevision: 0 });
    return { opts: { ifRevision: cur.modRevision }, existed: true };
  }
  if (cond.revision !== undefined) return { opts: { ifRevision: cond.revision }, existed: cond.revision !== 0 };
  return { opts: undefined, existed: (await store.get(k.kind, id)) !== null };
}

/** Any error -> the contract's error body. Bad input is never a 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) {
    switch (err.code) {
      case 'not_found':
        return new ApiError(404, 'not_found', err.message);
      case 'precondition_failed':
        return new ApiError(412, 'precondition_failed', err.message, {
          currentRevision: (err as StoreError & { currentRevision?: number }).currentRevision ?? null,
        });
      case 'conflict':
        return new ApiError(409, 'conflict', err.message);
      case 'store_unavailable':
        return new ApiError(503, 'store_unavailable', err.message);
      default:
        return new ApiError(500, err.code || 'store_error', err.message);
    }
  }
  const e = err as Partial<FastifyError> & Error;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body_too_large', `request body is larger than ${ADMIN_BODY_LIMIT} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'request body must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'request body is empty (content-type is application/json)');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'invalid_json', `request body is not valid JSON: ${e.message}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'bad_request', 'request body does not match its content-length');
    default:
      break;
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // JSON.parse / secure-json-parse errors from the body parser are 400s.
    const code = e instanceof SyntaxError || /JSON|__proto__|constructor/i.test(e.message ?? '') ? 'invalid_json' : 'bad_request';
    return new ApiError(status, code, code === 'invalid_json' ? `request body is not valid JSON: ${e.message}` : (e.message ?? 'bad request'));
  }
  return new ApiError(500, 'internal_error', 'internal error');
}
