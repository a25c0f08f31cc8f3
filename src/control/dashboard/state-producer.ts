// What GET /events streams: a compact snapshot of the gateway built from the
// same GET endpoints the API serves (fetched in-process with app.inject, so
// the dashboard never disagrees with the API), by ONE producer shared by every
// connected client. The producer runs only while a client is connected and
// its cost is bounded whatever the number of clients:
//   - every tick (500 ms): GET /upstreams/:name/status for each upstream (in
//     memory), GET /nodes, and GET /deployments while one is running (every
//     second) or every 5 s when none is;
//   - GET /routes and GET /upstreams (a full store read on etcd) only when
//     this node applied a new revision, after a write through the admin API,
//     or every 5 s;
//   - routes are sent as their own `routes` event, only when they changed;
//     everything else as a `state` event, only when it changed;
//   - lists are capped (routes, upstreams with status, deployments, history
//     entries) so one message stays small.

export const TICK_MS = 500;
const CONFIG_REFRESH_MS = 5000;
const DEPLOYMENTS_ACTIVE_MS = 1000;
const DEPLOYMENTS_IDLE_MS = 5000;
export const MAX_ROUTES = 2000;
export const MAX_STATUS_UPSTREAMS = 300;
const MAX_DEPLOYMENTS = 30;
const MAX_HISTORY = 60;
const TERMINAL = new Set(['succeeded', 'rolled-back', 'failed']);

/** An in-process GET against the admin API (authenticated). */
export type Fetch = (url: string) => Promise<{ status: number; body: any }>;

export interface SelfInfo {
  node: string;
  version: string;
  ready: boolean;
  storeConnected: boolean;
  appliedRevision: number;
}

export interface Sink {
  /** One SSE message `event: <name>` with `data` (already JSON). */
  send(event: 'routes' | 'state', data: string): void;
}

function errorText(r: { status: number; body: any }): string {
  const b = r.body;
  if (b && typeof b === 'object' && typeof b.message === 'string') return `${r.status} ${b.error ?? ''}: ${b.message}`.trim();
  return `HTTP ${r.status}`;
}

export class StateProducer {
  readonly #fetch: Fetch;
  readonly #self: () => SelfInfo;
  readonly #tickMs: number;
  readonly #clients = new Set<Sink>();
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #stopped = false;

  // Cached parts, kept between ticks; reset when the last client leaves.
  #configAt = 0;
  #configApplied = -1;
  #dirty = true;
  #routes: any = null;
  #upstreams: any[] = [];
  #revision = 0;
  #deploymentsAt = 0;
  #deployments: any[] = [];
  #anyActive = false;
  #nodes: any[] = [];
  #errors: Record<string, string> = {};
  #lastRoutes = '';
  #lastState = '';
  #builtAt = 0;
  /** Ticks run since start (for tests and the page's "live" indicator). */
  ticks = 0;

  constructor(opts: { fetch: Fetch; self: () => SelfInfo; tickMs?: number }) {
    this.#fetch = opts.fetch;
    this.#self = opts.self;
    this.#tickMs = opts.tickMs ?? TICK_MS;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** True while the shared timer (or a tick) is live. */
  get active(): boolean {
    return this.#timer !== null || this.#running;
  }

  /** Something was written through the admin API: refresh everything on the next tick. */
  markDirty(): void {
    this.#dirty = true;
  }

  add(client: Sink): void {
    if (this.#stopped) return;
    this.#clients.add(client);
    // A late joiner gets the last messages at once (at most one tick old).
    if (this.#lastRoutes) client.send('routes', this.#lastRoutes);
    if (this.#lastState) client.send('state', this.#lastState);
    if (!this.#timer && !this.#running) void this.#tick();
  }

  remove(client: Sink): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#idle();
  }

  /** Ends everything (admin API closing). */
  stop(): void {
    this.#stopped = true;
    this.#clients.clear();
    this.#idle();
  }

  #idle(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    // Nobody watches: forget the cache so that the next client starts fresh.
    this.#configAt = 0;
    this.#configApplied = -1;
    this.#dirty = true;
    this.#deploymentsAt = 0;
    this.#lastRoutes = '';
    this.#lastState = '';
  }

  async #tick(): Promise<void> {
    this.#timer = null;
    this.#running = true;
    try {
      await this.#build();
      this.ticks++;
    } catch {
      /* #build records its errors in the snapshot; never let a tick throw */
    } finally {
      this.#running = false;
    }
    if (this.#clients.size === 0 || this.#stopped) return this.#idle();
    this.#broadcast();
    // The next tick is scheduled after this one finished: ticks never overlap.
    this.#timer = setTimeout(() => void this.#tick(), this.#tickMs);
    this.#timer.unref?.();
  }

  #broadcast(): void {
    const routes = JSON.stringify(this.#routes ?? { revision: 0, total: 0, truncated: false, routes: [] });
    if (routes !== this.#lastRoutes) {
      this.#lastRoutes = routes;
      for (const c of [...this.#clients]) c.send('routes', routes);
    }
    const self = this.#self();
    const state = JSON.stringify({
      self,
      revision: this.#revision,
      upstreams: this.#upstreams,
      nodes: this.#nodes,
      deployments: this.#deployments,
      errors: this.#errors,
    });
    if (state !== this.#lastState) {
      this.#lastState = state;
      // `at` is outside the comparison: an unchanged gateway sends nothing.
      const msg = `{"at":${this.#builtAt},${state.slice(1)}`;
      for (const c of [...this.#clients]) c.send('state', msg);
    }
  }

  async #get(part: string, url: string): Promise<any | null> {
    try {
      const r = await this.#fetch(url);
      if (r.status === 200) {
        delete this.#errors[part];
        return r.body;
      }
      this.#errors[part] = errorText(r);
    } catch (err) {
      this.#errors[part] = (err as Error).message || String(err);
    }
    return null;
  }

  async #build(): Promise<void> {
    const now = Date.now();
    const applied = this.#self().appliedRevision;
    const dirty = this.#dirty;
    this.#dirty = false;

    // Config: routes and upstreams as stored, with their status on this node.
    if (dirty || applied !== this.#configApplied || now - this.#configAt >= CONFIG_REFRESH_MS) {
      const [routes, upstreams] = await Promise.all([this.#get('routes', '/routes'), this.#get('upstreams', '/upstreams')]);
      if (routes) {
        const list: any[] = Array.isArray(routes.routes) ? routes.routes : [];
        this.#routes = {
          revision: routes.revision,
          total: list.length,
          truncated: list.length > MAX_ROUTES,
          routes: list.slice(0, MAX_ROUTES).map((r) => compactRoute(r)),
        };
        this.#revision = Number(routes.revision) || this.#revision;
      }
      if (upstreams) {
        this.#upstreamSpecs = Array.isArray(upstreams.upstreams) ? upstreams.upstreams : [];
      }
      if (routes && upstreams) {
        this.#configAt = now;
        this.#configApplied = applied;
      } else this.#dirty = true;
    }

    // Live pool status of every upstream on this node (in memory).
    const specs = this.#upstreamSpecs;
    this.#upstreams = await Promise.all(
      specs.map(async (spec, i) => {
        const name = String(spec.name);
        const out: any = { spec };
        if (i >= MAX_STATUS_UPSTREAMS) {
          out.statusError = `status not shown: more than ${MAX_STATUS_UPSTREAMS} upstreams (GET /upstreams/${name}/status)`;
          return out;
        }
        try {
          const r = await this.#fetch(`/upstreams/${encodeURIComponent(name)}/status`);
          if (r.status === 200) out.status = r.body;
          else out.statusError = errorText(r);
        } catch (err) {
          out.statusError = (err as Error).message;
        }
        return out;
      }),
    );

    const nodes = await this.#get('nodes', '/nodes');
    if (nodes) this.#nodes = Array.isArray(nodes.nodes) ? nodes.nodes : [];

    const every = this.#anyActive ? DEPLOYMENTS_ACTIVE_MS : DEPLOYMENTS_IDLE_MS;
    if (dirty || now - this.#deploymentsAt >= every) {
      const d = await this.#get('deployments', '/deployments');
      if (d) {
        const all: any[] = Array.isArray(d.deployments) ? d.deployments : [];
        this.#anyActive = all.some((x) => !TERMINAL.has(x?.phase));
        // Running ones first (all of them), then the newest finished ones.
        const running = all.filter((x) => !TERMINAL.has(x?.phase));
        const done = all.filter((x) => TERMINAL.has(x?.phase));
        this.#deployments = [...running, ...done].slice(0, Math.max(MAX_DEPLOYMENTS, running.length)).map(compactDeployment);
        this.#deploymentsAt = now;
      }
    }
    this.#builtAt = Date.now();
  }

  #upstreamSpecs: any[] = [];
}

function compactRoute(r: any): any {
  const { id, match, upstream, status, reason, errors, revision } = r ?? {};
  const out: any = { id, match, upstream, status, revision };
  if (reason !== undefined) out.reason = reason;
  if (errors !== undefined) out.errors = errors;
  if (r?.raw !== undefined) out.raw = String(r.raw).slice(0, 200);
  return out;
}

function compactDeployment(d: any): any {
  const history: any[] = Array.isArray(d?.history) ? d.history : [];
  const { baseline: _b, ...rest } = d ?? {};
  return { ...rest, history: history.slice(-MAX_HISTORY), historyTotal: history.length };
}
