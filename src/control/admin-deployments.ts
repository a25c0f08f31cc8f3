// Staged deployment endpoints (CONTRACT §3, §4). The elected coordinator
// (src/control/deployments/coordinator.ts) drives what these create.

import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError, invalidConfig } from './admin-errors.js';
import { TERMINAL, validateDeploymentRequest, type Deployment } from './deployments/deployment.js';
import type { DeploymentStore } from './deployments/deployment-store.js';
import type { NodeRecord } from './node-registry.js';
import { PreconditionFailedError, type Store } from './store.js';
import { parseStoredUpstream } from './validate.js';

export interface DeploymentEndpointsDeps {
  store: Store;
  deployments: DeploymentStore;
  listNodes(): Promise<NodeRecord[]>;
}

const ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** The deployment plus, per live node, its applied revision and every pool's in-flight count. */
async function withNodes(d: Deployment, revision: number, listNodes: () => Promise<NodeRecord[]>) {
  let nodes: { node: string; appliedRevision: number; inflight: Record<string, number> }[] = [];
  try {
    nodes = (await listNodes()).map((n) => ({
      node: n.id,
      appliedRevision: n.appliedRevision,
      inflight: Object.fromEntries(Object.entries(n.pools?.[d.upstream] ?? {}).map(([p, s]) => [p, s.inflight])),
    }));
  } catch {
    /* node list unavailable: the deployment itself is still worth showing */
  }
  return { ...d, revision, nodes };
}

export function registerDeploymentEndpoints(app: FastifyInstance, deps: DeploymentEndpointsDeps): void {
  const { store, deployments, listNodes } = deps;
  const tags = ['deployments'];

  app.post('/deployments', { schema: { tags, summary: 'Start a staged deployment of a pool (201 {id})' } }, async (req, reply) => {
    const v = validateDeploymentRequest(req.body);
    if (!v.ok) throw invalidConfig(v.errors, 'deployment');
    const r = v.value;
    const entry = await store.get('upstreams', r.upstream);
    if (!entry) throw new ApiError(404, 'not_found', `upstream ${r.upstream} does not exist`);
    const parsed = parseStoredUpstream(entry.raw, r.upstream);
    if (!parsed.ok) throw new ApiError(409, 'conflict', `upstream ${r.upstream} is stored invalid; fix it first`, { details: parsed.errors });
    if (!Object.hasOwn(parsed.value.pools, r.pool)) throw new ApiError(404, 'not_found', `upstream ${r.upstream} has no pool ${r.pool} (pools: ${Object.keys(parsed.value.pools).join(', ')})`);
    const before: Record<string, number> = {};
    for (const p of Object.keys(parsed.value.pools)) before[p] = parsed.value.weights?.[p] ?? 0;
    const now = Date.now();
    const d: Deployment = {
      id: `${r.upstream.slice(0, 100)}-${now.toString(36)}-${randomBytes(3).toString('hex')}`,
      ...r,
      phase: 'pending',
      step: -1,
      coordinator: null,
      createdAt: new Date(now).toISOString(),
      phaseStartedAt: now,
      before,
      baseline: null,
      abortRequested: false,
      history: [{ at: new Date(now).toISOString(), phase: 'pending', node: '', reason: 'created' }],
    };
    const revision = await deployments.create(d);
    return reply.code(201).send({ ...d, revision });
  });

  app.get('/deployments', { schema: { tags, summary: 'Every deployment, newest first' } }, async () => {
    const all = await deployments.list();
    all.sort((a, b) => b.deployment.createdAt.localeCompare(a.deployment.createdAt));
    return { deployments: all.map((s) => ({ ...s.deployment, revision: s.revision })) };
  });

  app.get('/deployments/:id', { schema: { tags, summary: 'One deployment: phase, step, coordinator, history, per-node in-flight' } }, async (req) => {
    const { id } = req.params as { id: string };
    if (!ID.test(id)) throw invalidConfig([{ field: '/id', message: 'is not a deployment id' }], 'id in the URL');
    const s = await deployments.get(id);
    if (!s) throw new ApiError(404, 'not_found', `deployment ${id} does not exist`);
    return withNodes(s.deployment, s.revision, listNodes);
  });

  app.post('/deployments/:id/abort', { schema: { tags, summary: 'Abort: the coordinator restores the weights from before and drains the new pool' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!ID.test(id)) throw invalidConfig([{ field: '/id', message: 'is not a deployment id' }], 'id in the URL');
    for (let attempt = 0; attempt < 10; attempt++) {
      const s = await deployments.get(id);
      if (!s) throw new ApiError(404, 'not_found', `deployment ${id} does not exist`);
      if (TERMINAL.has(s.deployment.phase) || s.deployment.phase === 'rolling-back') {
        throw new ApiError(409, 'conflict', `deployment ${id} is already ${s.deployment.phase}`);
      }
      try {
        const revision = await deployments.update({ ...s.deployment, abortRequested: true }, s.revision);
        return reply.code(202).send({ id, phase: s.deployment.phase, abortRequested: true, revision });
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new ApiError(409, 'conflict', `deployment ${id} keeps changing; try again`);
  });
}
