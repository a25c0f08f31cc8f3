/** One proxied request, as taps, the access log and trace export see it. */
export interface RequestEvent {
  time: string;
  requestId: string;
  /** W3C trace id of the incoming traceparent, or null. */
  traceId: string | null;
  /** Span id the gateway gave the upstream request (its child span), or null. */
  spanId: string | null;
  /** Parent span id from the incoming traceparent, or null. */
  parentSpanId: string | null;
  method: string;
  path: string;
  route: string;
  upstream: string;
  pool: string;
  target: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  durationMs: number;
  /** Time from dispatch to the upstream's response headers; null when none came. */
  upstreamMs: number | null;
  startUnixMs: number;
}

export interface TapOptions {
  /** Share of requests sent (0..1]; default 1. */
  sample: number;
  /** At most this many events per second; the rest are counted as dropped. */
  maxPerSecond: number;
}

interface Tap {
  opts: TapOptions;
  send(e: RequestEvent): void;
  windowStart: number;
  sentInWindow: number;
  dropped: number;
}

/**
 * Where the data plane reports finished requests. The request path asks
 * `wants(route)` — a boolean and a Map lookup — and builds an event only when
 * someone listens, so with no tap, access log or trace export it costs
 * nothing. Taps are bounded (sampling and a per-second cap), so ten of them
 * open under load cannot slow the data plane.
 */
export class RequestObservers {
  /** True while any tap or sink exists. */
  active = false;
  readonly #taps = new Map<string, Set<Tap>>();
  readonly #sinks: ((e: RequestEvent) => void)[] = [];
  /** Called when the set of tapped routes changes (a primary tells its workers). */
  onTapsChanged: ((routes: string[]) => void) | null = null;

  /**
   * Whether a finished request of `route` should become an event. With only
   * taps listening, a request is skipped before its event is built once
   * every tap of the route has used its budget for this second.
   */
  wants(route: string): boolean {
    if (!this.active) return false;
    if (this.#sinks.length > 0) return true;
    const taps = this.#taps.get(route);
    if (!taps) return false;
    const now = Date.now();
    let wanted = false;
    for (const t of taps) {
      if (now - t.windowStart >= 1000 || t.sentInWindow < t.opts.maxPerSecond) wanted = true;
      else t.dropped++;
    }
    return wanted;
  }

  emit(e: RequestEvent): void {
    for (const s of this.#sinks) s(e);
    const taps = this.#taps.get(e.route);
    if (!taps) return;
    const now = Date.now();
    for (const t of taps) {
      if (t.opts.sample < 1 && Math.random() >= t.opts.sample) continue;
      if (now - t.windowStart >= 1000) {
        t.windowStart = now;
        t.sentInWindow = 0;
      }
      if (t.sentInWindow >= t.opts.maxPerSecond) {
        t.dropped++;
        continue;
      }
      t.sentInWindow++;
      t.send(e);
    }
  }

  /** Adds a sink for every request (access log, trace export). */
  addSink(sink: (e: RequestEvent) => void): void {
    this.#sinks.push(sink);
    this.active = true;
  }

  /** Taps one route; returns the function that removes the tap. */
  addTap(route: string, opts: TapOptions, send: (e: RequestEvent) => void): { remove(): void; dropped(): number } {
    const tap: Tap = { opts, send, windowStart: 0, sentInWindow: 0, dropped: 0 };
    let set = this.#taps.get(route);
    if (!set) this.#taps.set(route, (set = new Set()));
    set.add(tap);
    this.#refresh();
    return {
      remove: () => {
        set!.delete(tap);
        if (set!.size === 0) this.#taps.delete(route);
        this.#refresh();
      },
      dropped: () => tap.dropped,
    };
  }

  get tappedRoutes(): string[] {
    return [...this.#taps.keys()];
  }

  #refresh(): void {
    this.active = this.#sinks.length > 0 || this.#taps.size > 0;
    this.onTapsChanged?.(this.tappedRoutes);
  }
}

/** The process-wide observers of the data plane. */
export const observers = new RequestObservers();
