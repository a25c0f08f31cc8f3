import { admin } from './gateway.js';

/** PUT an upstream with one static pool `main` holding `targets`. */
export async function putUpstream(gw: { adminUrl: string }, name: string, targets: string[], extra: Record<string, unknown> = {}) {
  const r = await admin(gw, 'PUT', `/upstreams/${name}`, { name, pools: { main: { targets } }, weights: { main: 100 }, ...extra });
  if (r.status >= 300) throw new Error(`PUT /upstreams/${name} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

export async function putRoute(gw: { adminUrl: string }, id: string, match: Record<string, unknown>, upstream: string, extra: Record<string, unknown> = {}) {
  const r = await admin(gw, 'PUT', `/routes/${id}`, { id, match, upstream, ...extra });
  if (r.status >= 300) throw new Error(`PUT /routes/${id} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}
