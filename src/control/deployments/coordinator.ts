import type { Logger } from 'pino';
import type { UpstreamSpec } from '../../resources.js';
import type { NodeRecord } from '../node-registry.js';
import { PreconditionFailedError, type Store } from '../store.js';
import { parseStoredUpstream } from '../validate.js';
import { stepWeights, TERMINAL, type Deployment, type Phase } from './deployment.js';
import type { DeploymentStore, StoredDeployment } from './deployment-store.js';
import type { Election } from './election.js';

const TICK_MS = 200;
/** Node records are republished every second: wait this long after a weight change before trusting "zero in flight". */
const SETTLE_MS = 1500;
/** How long a hold's verdict may wait for every node's counters to catch up. */
const STALE_WAIT_MS = 3000;

export interface CoordinatorDeps {
  nodeId: string;
  store: Store;
  deployments: DeploymentStore;
  election: Election;
  listNodes(): Promise<NodeRecord[]>;
  logger: Logger;
  now?: () => number;
}

interface PoolTotals {
  requests: number;
  errors: number;
  inflight: number;
}

/**
 * Drives staged deployments (CONTRACT §4) while this node is the elected
 * coordinator. The state lives in the store; each tick reads it, decides,
 * and moves it on with one conditional write, so a coordinator that takes
 * over after a crash resumes where the last one stopped. A step is recorded
 * in the deployment before its weights are written; a successor that finds
 * the weights behind the recorded step completes that write without logging
 * the step again, so no step is ever applied twice.
 */
export class Coordinator {
  readonly #d: CoordinatorDeps;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(deps: CoordinatorDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    this.#timer = setInterval(() => void this.tick(), TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async tick(): Promise<void> {
    if (this.#busy || !this.#d.election.isLeader) return;
    this.#busy = true;
    try {
      const all = await this.#d.deployments.list();
      for (const s of all) {
        if (TERMINAL.has(s.deployment.phase)) continue;
        try {
          await this.#advance(s);
        } catch (err) {
          if (!(err instanceof PreconditionFailedError)) this.#d.logger.warn({ deployment: s.deployment.id, err: (err as Error).message }, 'deployment step failed; retrying');
        }
      }
    } catch (err) {
      this.#d.logger.warn({ err: (err as Error).message }, 'coordinator: cannot read deployments');
    } finally {
      this.#busy = false;
    }
  }

  async #advance(s: StoredDeployment): Promise<void> {
    const d = s.deployment;
    const now = this.#now();
    if (d.coordinator !== this.#d.nodeId) {
      const prev = d.coordinator;
      return this.#write(s, { coordinator: this.#d.nodeId }, prev ? { phase: d.phase, reason: `coordinator ${this.#d.nodeId} took over from ${prev}` } : null);
    }
    if (d.abortRequested && (d.phase === 'pending' || d.phase === 'waiting-ready' || d.phase === 'flooding' || d.phase === 'draining')) {
      return this.#rollBack(s, 'aborted by operator');
    }
    const elapsed = now - d.phaseStartedAt;
    switch (d.phase) {
      case 'pending':
        return this.#transition(s, 'waiting-ready', 'deployment started', {});
      case 'waiting-ready': {
        const nodes = await this.#d.listNodes();
        const notReady = nodes.filter((n) => {
          const p = n.pools?.[d.upstream]?.[d.pool];
          return !p || p.total === 0 || p.healthy < p.total;
        });
        if (nodes.length > 0 && notReady.length === 0) {
          return this.#transition(s, 'flooding', `pool ${d.pool} healthy on all ${nodes.length} nodes; step 1 of ${d.steps.length}: weight ${d.steps[0]!.weight}`, { step: 0, baseline: this.#totals(nodes, d.upstream, d.pool) }, true);
        }
        if (elapsed >= d.readyTimeoutMs) {
          const who = nodes.length === 0 ? 'no live nodes' : notReady.map((n) => `${n.id} ${n.pools?.[d.upstream]?.[d.pool]?.healthy ?? 0}/${n.pools?.[d.upstream]?.[d.pool]?.total ?? 0}`).join(', ');
          return this.#rollBack(s, `ready timeout: pool ${d.pool} not healthy on every node within ${d.readyTimeoutMs} ms (${who})`);
        }
        return;
      }
      case 'flooding': {
        await this.#ensureWeights(d, stepWeights(d.before, d.pool, d.steps[d.step]!.weight));
        const nodes = await this.#d.listNodes();
        const t = this.#totals(nodes, d.upstream, d.pool);
        const base = d.baseline ?? { requests: 0, errors: 0 };
        const requests = Math.max(0, t.requests - base.requests);
        const errors = Math.max(0, t.errors - base.errors);
        const rate = requests > 0 ? errors / requests : 0;
        if (requests >= d.minRequests && requests > 0 && rate > d.maxErrorRate) {
          return this.#rollBack(s, `error rate ${rate.toFixed(4)} (${errors} of ${requests} requests) above maxErrorRate ${d.maxErrorRate} at step ${d.step + 1}`);
        }
        const holdMs = d.steps[d.step]!.holdMs;
        if (elapsed < holdMs) return;
        // Judge the hold only on counters published after it ended (node
        // records are refreshed every second), unless a node stays silent.
        const holdEnd = d.phaseStartedAt + holdMs;
        if (holdMs > 0 && elapsed < holdMs + STALE_WAIT_MS && nodes.some((n) => Date.parse(n.lastSeen) < holdEnd)) return;
        const gate = requests >= d.minRequests ? `error rate ${rate.toFixed(4)} over ${requests} requests` : `${requests} requests (below minRequests ${d.minRequests}, not judged)`;
        if (d.step + 1 < d.steps.length) {
          const next = d.step + 1;
          return this.#transition(s, 'flooding', `step ${d.step + 1} passed (${gate}); step ${next + 1} of ${d.steps.length}: weight ${d.steps[next]!.weight}`, { step: next, baseline: t }, true);
        }
        return this.#transition(s, 'draining', `last step passed (${gate}); draining the old pools`, {});
      }
      case 'draining': {
        const nodes = await this.#d.listNodes();
        const old = this.#oldInflight(nodes, d);
        if (elapsed >= Math.min(SETTLE_MS, d.drainTimeoutMs) && old === 0) return this.#transition(s, 'succeeded', 'old pools drained on every node', {});
        if (elapsed >= d.drainTimeoutMs) return this.#transition(s, 'succeeded', `drain timeout after ${d.drainTimeoutMs} ms with ${old} requests still in flight on the old pools`, {});
        return;
      }
      case 'rolling-back': {
        await this.#ensureWeights(d, d.before);
        const nodes = await this.#d.listNodes();
        const left = this.#totals(nodes, d.upstream, d.pool).inflight;
        if (elapsed >= Math.min(SETTLE_MS, d.drainTimeoutMs) && left === 0) return this.#transition(s, 'rolled-back', `weights restored; pool ${d.pool} drained`, {});
        if (elapsed >= d.drainTimeoutMs) return this.#transition(s, 'rolled-back', `weights restored; drain timeout with ${left} requests in flight on ${d.pool}`, {});
        return;
      }
      default:
        return;
    }
  }

  /** The new pool's counters summed over every node. */
  #totals(nodes: NodeRecord[], upstream: string, pool: string): PoolTotals {
    return this.#sum(nodes, (n) => n.pools?.[upstream]?.[pool]);
  }

  #sum(nodes: NodeRecord[], pick: (n: NodeRecord) => { requests: number; errors: number; inflight: number } | undefined): PoolTotals {
    const t = { requests: 0, errors: 0, inflight: 0 };
    for (const n of nodes) {
      const p = pick(n);
      if (!p) continue;
      t.requests += p.requests;
      t.errors += p.errors;
      t.inflight += p.inflight;
    }
    return t;
  }

  #oldInflight(nodes: NodeRecord[], d: Deployment): number {
    let n = 0;
    for (const node of nodes) {
      for (const [pool, p] of Object.entries(node.pools?.[d.upstream] ?? {})) if (pool !== d.pool) n += p.inflight;
    }
    return n;
  }

  async #rollBack(s: StoredDeployment, reason: string): Promise<void> {
    await this.#transition(s, 'rolling-back', reason, {});
  }

  /**
   * One conditional write of the deployment: new phase, step fields and a
   * history line. With `applyStep`, the step's weights are written after the
   * record (the record is the intent a successor completes).
   */
  async #transition(s: StoredDeployment, phase: Phase, reason: string, fields: Partial<Deployment>, applyStep = false): Promise<void> {
    const d = s.deployment;
    const next: Partial<Deployment> = { ...fields, phase, phaseStartedAt: this.#now() };
    const entry = { phase, reason, ...(phase === 'flooding' ? { step: fields.step } : {}) };
    await this.#write(s, next, entry);
    this.#d.logger.info({ deployment: d.id, upstream: d.upstream, phase, reason }, 'deployment phase');
    if (applyStep) await this.#ensureWeights({ ...d, ...next } as Deployment, stepWeights(d.before, d.pool, d.steps[fields.step!]!.weight));
    if (phase === 'rolling-back') await this.#ensureWeights(d, d.before);
  }

  async #write(s: StoredDeployment, fields: Partial<Deployment>, history: { phase: Phase; reason: string; step?: number | undefined } | null): Promise<void> {
    const d: Deployment = { ...s.deployment, ...fields };
    if (history) d.history = [...s.deployment.history, { at: new Date(this.#now()).toISOString(), node: this.#d.nodeId, ...history }];
    await this.#d.deployments.update(d, s.revision);
  }

  /** Writes the upstream's weights if they differ (conditional on its revision). */
  async #ensureWeights(d: Deployment, weights: Record<string, number>): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.#d.store.get('upstreams', d.upstream);
      if (!entry) return;
      const parsed = parseStoredUpstream(entry.raw, d.upstream);
      if (!parsed.ok) return;
      const spec = parsed.value;
      const same = Object.keys(spec.pools).every((p) => (spec.weights?.[p] ?? 0) === (weights[p] ?? 0));
      if (same) return;
      const w: Record<string, number> = {};
      for (const p of Object.keys(spec.pools)) w[p] = weights[p] ?? 0;
      // A past flip's ramp must not move these weights again.
      const { flip: _flip, ...rest } = spec;
      const next: UpstreamSpec = { ...rest, weights: w };
      try {
        await this.#d.store.put('upstreams', d.upstream, next, { ifRevision: entry.modRevision });
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
  }
}
