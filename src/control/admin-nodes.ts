import type { FastifyInstance } from 'fastify';
import type { NodeRecord } from './node-registry.js';
import { StoreUnavailableError } from './store.js';

/** GET /nodes: every live node, from the node registry of the store. */
export function registerNodeEndpoints(app: FastifyInstance, gw: { listNodes(): Promise<NodeRecord[]> }): void {
  app.get('/nodes', { schema: { tags: ['nodes'], summary: 'Every live node: id, group, address, appliedRevision, lastSeen, version' } }, async () => {
    try {
      return { nodes: await gw.listNodes() };
    } catch (err) {
      throw new StoreUnavailableError(`cannot list nodes: ${(err as Error).message}`);
    }
  });
}
