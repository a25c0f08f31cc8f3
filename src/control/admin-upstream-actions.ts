// Admin endpoints that act on an upstream's pools (CONTRACT §2 "Flip, drain
// and flood", §3): flip, drain one target, and the per-node pool status.
// Each write is one conditional store write of the whole upstream, so a
// concurrent edit is never lost and every node applies the same change.

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { UpstreamSpec } from '../resources.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../upstreams/pool-runtime.js';
import { originOf } from '../upstreams/target.js';
import { ApiError, checkPathId, invalidConfig } from './admin-errors.js';
import type { GatewayView } from './gateway-view.js';
import { PreconditionFailedError, type Store } from './store.js';
import { parseStoredUpstream } from './validate.js';

const MAX_MS = 3_600_000;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMs(body: Record<string, unknown>, key: string, errors: { field: string; message: string }[]): void {
  const v = body[key];
  if (v === undefined) return;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_MS) errors.push({ field: `/${key}`, message: `must be an integer from 0 to ${MAX_MS}` });
}

/** Reads, changes and conditionally writes an upstream, retrying on a concurrent write. */
async function updateUpstream(store: Store, name: string, change: (spec: UpstreamSpec) => UpstreamSpec): Promise<{ revision: number; spec: UpstreamSpec }> {
  for (let attempt = 0; ; attempt++) {
    const entry = await store.get('upstreams', name);
    if (!entry) throw new ApiError(404, 'not_found', `upstream ${name} does not exist`);
    const parsed = parseStoredUpstream(entry.raw, name);
    if (!parsed.ok) throw new ApiError(409, 'conflict', `upstream ${name} is stored invalid; fix it with PUT first`, { details: parsed.errors });
    const spec = change(parsed.value);
    try {
      return { revision: await store.put('upstreams', name, spec, { ifRevision: entry.modRevision }), spec };
    } catch (err) {
      if (err instanceof PreconditionFailedError && attempt < 5) continue;
      throw err;
    }
  }
}

export function registerUpstreamActions(app: FastifyInstance, ctx: { store: Store; view: GatewayView; logger: Logger }): void {
  const { store, view, logger } = ctx;
  const tags = ['upstreams'];

  app.post(
    '/upstreams/:name/flip',
    {
      schema: {
        tags,
        summary: 'Blue/green flip: weight 100 to `to`, 0 to every other pool, in one store write',
        body: {
          type: 'object',
          required: ['to'],
          additionalProperties: false,
          properties: {
            to: { type: 'string', description: 'The pool to flood' },
            rampMs: { type: 'integer', minimum: 0, maximum: MAX_MS, description: 'Flood ramp: the new pool share grows linearly over this time (default 0)' },
            drainTimeoutMs: { type: 'integer', minimum: 0, maximum: MAX_MS, description: "Cut what still runs on the old pools after this (default the upstream's drainTimeoutMs)" },
            force: { type: 'boolean', description: 'Flip even when `to` has no healthy target' },
          },
        },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      checkPathId(name, 'name');
      const body = req.body;
      if (!isPlainObject(body)) throw invalidConfig([{ field: '', message: 'a JSON object {"to": POOL} is required' }], 'flip');
      const errors: { field: string; message: string }[] = [];
      for (const k of Object.keys(body)) if (!['to', 'rampMs', 'drainTimeoutMs', 'force'].includes(k)) errors.push({ field: `/${k}`, message: 'unknown field' });
      if (typeof body.to !== 'string' || body.to === '') errors.push({ field: '/to', message: 'must be the name of a pool' });
      checkMs(body, 'rampMs', errors);
      checkMs(body, 'drainTimeoutMs', errors);
      if (body.force !== undefined && typeof body.force !== 'boolean') errors.push({ field: '/force', message: 'must be a boolean' });
      if (errors.length) throw invalidConfig(errors, 'flip');
      const to = body.to as string;

      const result = await updateUpstream(store, name, (spec) => {
        if (!Object.hasOwn(spec.pools, to)) throw new ApiError(404, 'not_found', `upstream ${name} has no pool ${to} (pools: ${Object.keys(spec.pools).join(', ')})`);
        // Make-before-break: never flip onto a pool that cannot serve.
        if (body.force !== true) {
          const st = view.upstreamStatus(name)?.pools[to];
          if (!st || st.healthy === 0) {
            throw new ApiError(409, 'conflict', `pool ${to} has no healthy target on this node; flip refused ("force": true overrides)`, { healthy: st?.healthy ?? 0, total: st?.total ?? 0 });
          }
        }
        const weights: Record<string, number> = {};
        for (const p of Object.keys(spec.pools)) weights[p] = p === to ? 100 : 0;
        return {
          ...spec,
          weights,
          flip: {
            to,
            at: Date.now(),
            rampMs: (body.rampMs as number | undefined) ?? 0,
            drainTimeoutMs: (body.drainTimeoutMs as number | undefined) ?? spec.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
            from: { ...spec.weights },
          },
        };
      });
      logger.info({ upstream: name, to, revision: result.revision }, 'flip written');
      return reply.header('etag', `"${result.revision}"`).send({ revision: result.revision, name, weights: result.spec.weights, flip: result.spec.flip });
    },
  );

  app.post(
    '/upstreams/:name/targets/drain',
    {
      schema: {
        tags,
        summary: 'Take one target out of rotation before stopping it: no new requests, in-flight ones finish',
        body: {
          type: 'object',
          required: ['target'],
          additionalProperties: false,
          properties: {
            target: { type: 'string', description: 'The target URL as listed in a pool' },
            drain: { type: 'boolean', description: 'false puts a drained target back in rotation (default true)' },
          },
        },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      checkPathId(name, 'name');
      const body = req.body;
      if (!isPlainObject(body) || typeof body.target !== 'string') throw invalidConfig([{ field: '/target', message: 'must be a target URL' }], 'target drain');
      for (const k of Object.keys(body)) if (k !== 'target' && k !== 'drain') throw invalidConfig([{ field: `/${k}`, message: 'unknown field' }], 'target drain');
      if (body.drain !== undefined && typeof body.drain !== 'boolean') throw invalidConfig([{ field: '/drain', message: 'must be a boolean' }], 'target drain');
      let origin: string;
      try {
        origin = originOf(body.target);
      } catch {
        throw invalidConfig([{ field: '/target', message: 'must be an absolute http(s) URL' }], 'target drain');
      }
      const drain = body.drain !== false;
      const result = await updateUpstream(store, name, (spec) => {
        const urls = Object.values(spec.pools).flatMap((p) => p.targets ?? []);
        const url = urls.find((u) => originOf(u) === origin);
        if (!url) throw new ApiError(404, 'not_found', `upstream ${name} has no target ${body.target}`);
        const set = new Set((spec.drainTargets ?? []).filter((u) => originOf(u) !== origin));
        if (drain) set.add(url);
        const { drainTargets: _old, ...rest } = spec;
        return set.size ? { ...rest, drainTargets: [...set] } : rest;
      });
      return reply.header('etag', `"${result.revision}"`).send({ revision: result.revision, name, target: origin, draining: drain });
    },
  );

  app.get(
    '/upstreams/:name/status',
    { schema: { tags, summary: 'Per node and pool: effective weight, state, in-flight, healthy/total targets' } },
    async (req) => {
      const { name } = req.params as { name: string };
      checkPathId(name, 'name');
      const st = view.upstreamStatus(name);
      if (!st) {
        const stored = await store.get('upstreams', name);
        if (!stored) throw new ApiError(404, 'not_found', `upstream ${name} does not exist`);
        throw new ApiError(409, 'conflict', `upstream ${name} is not live on this node (invalid or not applied yet)`);
      }
      return { name, nodes: [st] };
    },
  );
}
