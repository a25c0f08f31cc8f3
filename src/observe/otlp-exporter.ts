import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { RequestEvent } from './request-observers.js';

const MAX_BATCH = 512;
const MAX_QUEUE = 8192;
const FLUSH_MS = 1000;

/**
 * Exports a span per proxied request to an OpenTelemetry collector (OTLP over
 * HTTP, JSON encoding, POST <endpoint>/v1/traces), batched every second. A
 * full queue drops spans rather than grow; a failed export is dropped too
 * (tracing must never hold the data plane back).
 */
export class OtlpExporter {
  readonly #url: string;
  readonly #service: string;
  #queue: RequestEvent[] = [];
  #timer: NodeJS.Timeout;
  dropped = 0;

  constructor(endpoint: string, service = 'switchyard') {
    const u = new URL(endpoint);
    this.#url = u.pathname === '/' || u.pathname === '' ? `${u.origin}/v1/traces` : u.href;
    this.#service = service;
    this.#timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  sink = (e: RequestEvent): void => {
    if (this.#queue.length >= MAX_QUEUE) {
      this.dropped++;
      return;
    }
    this.#queue.push(e);
    if (this.#queue.length >= MAX_BATCH) void this.flush();
  };

  async flush(): Promise<void> {
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, MAX_BATCH);
    const spans = batch.map((e) => {
      const end = (e.startUnixMs + e.durationMs) * 1e6;
      return {
        traceId: e.traceId ?? randomBytes(16).toString('hex'),
        spanId: e.spanId ?? randomBytes(8).toString('hex'),
        ...(e.parentSpanId ? { parentSpanId: e.parentSpanId } : {}),
        name: `${e.method} ${e.route}`,
        kind: 3, // SPAN_KIND_CLIENT: the gateway's call to the upstream
        startTimeUnixNano: String(Math.round(e.startUnixMs * 1e6)),
        endTimeUnixNano: String(Math.round(end)),
        attributes: [
          { key: 'http.request.method', value: { stringValue: e.method } },
          { key: 'url.path', value: { stringValue: e.path } },
          { key: 'http.response.status_code', value: { intValue: e.status } },
          { key: 'switchyard.route', value: { stringValue: e.route } },
          { key: 'switchyard.upstream', value: { stringValue: e.upstream } },
          { key: 'switchyard.pool', value: { stringValue: e.pool } },
          { key: 'server.address', value: { stringValue: e.target } },
          { key: 'switchyard.request_id', value: { stringValue: e.requestId } },
        ],
        status: { code: e.status >= 500 ? 2 : 0 },
      };
    });
    const body = JSON.stringify({
      resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: this.#service } }] }, scopeSpans: [{ scope: { name: 'switchyard' }, spans }] }],
    });
    try {
      const res = await request(this.#url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
    } catch {
      this.dropped += batch.length;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
