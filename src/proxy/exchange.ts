import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CompiledRoute } from '../router/compiled-route.js';
import type { CompiledPool } from '../upstreams/pool.js';
import type { Target } from '../upstreams/target.js';
import { classifyUpstreamError, isConnectError, isDeliberateCut } from './error-catalog.js';
import { buildResponseHeaders, responseFacts } from './headers.js';
import { inflight } from './limits.js';
import { sendError } from './respond.js';
import { observers } from '../observe/request-observers.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'SWITCHYARD_CLIENT_GONE' });
/**
 * The route's timeoutMs ran out waiting for the response head, or with the
 * response body idle. undici's own headersTimeout/bodyTimeout (also set, as a
 * backstop) run on a clock that ticks every ~500 ms, so a 500 ms timeout fired
 * after ~1000 ms; these carry undici's codes so they classify (504) and are
 * never retried the same way.
 */
const HEADERS_TIMEOUT = Object.assign(new Error('no response head from the upstream within the route timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
const BODY_TIMEOUT = Object.assign(new Error('the upstream response body was idle for the route timeout'), { code: 'UND_ERR_BODY_TIMEOUT' });
/** A chunked request body grew past the route's maxBodyBytes: classified payload_too_large. */
const BODY_TOO_LARGE = Object.assign(new Error('request body larger than the route allows'), { code: 'SWITCHYARD_BODY_TOO_LARGE' });
/**
 * Route timeouts from this long on are left to undici's own headersTimeout /
 * bodyTimeout (its clock ticks every ~0.5 s: a 30 s timeout fires within
 * 30-31 s), which saves a native timer per request; shorter ones get a
 * precise timer of their own.
 */
export const PRECISE_TIMEOUT_BELOW_MS = 10_000;
/** The exchange of a client response, for the shared 'close' and 'drain' listeners. */
const EXCHANGE = Symbol('switchyard.exchange');
interface ExchangeResponse extends ServerResponse {
  [EXCHANGE]?: Exchange;
}

/**
 * The request body, counted: throws BODY_TOO_LARGE (undici then aborts the
 * upstream exchange) once more than `max` bytes came. The client stream is
 * not destroyed on the way out, so the 413 can still be written to it.
 */
async function* limitedBody(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    n += (chunk as Buffer).length;
    if (n > max) throw BODY_TOO_LARGE;
    yield chunk as Buffer;
  }
}

/**
 * One proxied request: the phases after routing (select target -> connect ->
 * send -> receive -> respond -> record), written as an undici dispatch
 * handler so bytes flow between the two sockets with no stream objects in
 * between. Backpressure: onData returns false when the client socket is full
 * and 'drain' resumes the upstream. A client that goes away aborts the
 * upstream exchange at once so its connection is never left paused.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #route: CompiledRoute;
  readonly #headers: string[];
  readonly #path: string;
  readonly #hasBody: boolean;
  #body: IncomingMessage | AsyncIterable<Buffer> | null;
  readonly #requestId: string;
  readonly #start: number;
  /** The pool of #target; set by CompiledUpstream.pick (the exchange is its own slot: no object per request), moved by a retry's pick. */
  pool: CompiledPool | null = null;
  #target: Target | null = null;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #retriesLeft: number;
  /** Whether this exchange runs its own route-timeout timer (timeoutMs < PRECISE_TIMEOUT_BELOW_MS). */
  readonly #precise: boolean;
  /** The route timeout on a native timer: armed once the request is sent, re-armed by every body chunk, paused while the client is full. */
  #timer: NodeJS.Timeout | null = null;
  #status = 0;
  #done = false;
  #clientGone = false;
  /** For observers (tap, access log, traces): the incoming traceparent, body bytes, upstream timing. */
  traceparent = '';
  spanId = '';
  #bytes = 0;
  /** Response body bytes still to come by its Content-Length (-1: unknown); the last chunk goes out with end(). */
  #remaining = -1;
  #ended = false;
  #sentAt = 0;
  #headersAt = 0;

  constructor(req: IncomingMessage, res: ServerResponse, route: CompiledRoute, headers: string[], path: string, hasBody: boolean, requestId: string, start: number) {
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#headers = headers;
    this.#path = path;
    this.#hasBody = hasBody;
    this.#requestId = requestId;
    this.#start = start;
    this.#retriesLeft = route.retries;
    this.#precise = route.timeoutMs < PRECISE_TIMEOUT_BELOW_MS;
    this.#body = hasBody ? req : null;
    inflight.count++; // until #record
    // Shared listeners that find the exchange on the response: no closures per request.
    (res as ExchangeResponse)[EXCHANGE] = this;
    // 'close' comes once per response: on() spares once()'s wrapper and its removal.
    res.on('close', onClientClose);
  }

  /** Counts a body of unknown length (chunked) against the route's limit. */
  limitBody(max: number): void {
    if (this.#hasBody) this.#body = limitedBody(this.#req, max);
  }

  /** Select-target phase and the first dispatch. */
  start(): void {
    const upstream = this.#route.upstream;
    const target = upstream ? upstream.pick(this) : null;
    if (!target) return this.#fail('no_healthy_target');
    this.#send(target);
  }

  #send(target: Target): void {
    this.#target = target;
    // Upstream timing is only for observers (tap, access log, traces).
    if (observers.active) this.#sentAt = performance.now();
    target.inflight++;
    this.pool!.runtime.inflight++;
    target.dispatcher.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        // undici takes async iterables too (its typings list only streams).
        body: this.#body as IncomingMessage | null,
        headersTimeout: this.#route.timeoutMs,
        bodyTimeout: this.#route.timeoutMs,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(CLIENT_GONE);
  }

  /** The whole request (head and body) is written: the wait for the response head starts. */
  onRequestSent(): void {
    if (this.#status === 0) this.#arm();
  }

  #arm(): void {
    if (this.#timer) this.#timer.refresh();
    else if (this.#precise) this.#timer = setTimeout(onTimeout, this.#route.timeoutMs, this);
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** The route timeout ran out (see #arm). */
  timedOut(): void {
    this.#timer = null;
    this.#abort?.(this.#status === 0 ? HEADERS_TIMEOUT : BODY_TIMEOUT);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.#clientGone) {
      this.#abort?.(CLIENT_GONE);
      return false;
    }
    this.#resume = resume;
    this.#status = statusCode;
    if (this.#sentAt !== 0) this.#headersAt = performance.now();
    if (statusCode >= 500) this.pool!.reportFailure(this.#target!);
    this.#res.writeHead(statusCode, buildResponseHeaders(rawHeaders));
    this.#remaining = responseFacts.contentLength;
    this.#arm(); // now the body's idle timeout
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#remaining > 0 && (this.#remaining -= chunk.length) === 0) {
      // The last chunk by Content-Length: end() writes head and body at once,
      // without write()'s cork-until-next-tick.
      this.#ended = true;
      this.#res.end(chunk);
      return true;
    }
    if (this.#res.write(chunk)) {
      this.#timer?.refresh();
      return true;
    }
    // Paused for the client: not the upstream's delay (undici does not time out a paused body either).
    this.#disarm();
    this.#res.once('drain', onDrain);
    return false;
  }

  onComplete(): void {
    this.#disarm();
    // Success for passive health only once the whole response came: a target
    // that resets mid-body keeps counting towards its ejection.
    if (this.#status < 500) this.#target!.reportSuccess();
    if (!this.#ended) this.#res.end();
    this.#finish();
  }

  onError(err: Error): void {
    this.#disarm();
    this.#release();
    if (this.#clientGone) return this.#record(499);
    const connectFailed = isConnectError(err);
    // Passive health (CONTRACT §2): refused, reset or broken connections count
    // like 5xx; timeouts and deliberate drain cuts do not.
    if (connectFailed || (!isDeliberateCut(err) && classifyUpstreamError(err) === 'upstream_error')) this.pool!.reportFailure(this.#target!);
    if (!this.#res.headersSent && this.#retriesLeft > 0 && this.#retryable(err, connectFailed)) {
      this.#retriesLeft--;
      // Another target if there is one; else the same one again (a reset on
      // a reused keep-alive connection succeeds on a fresh connection).
      const next = this.#route.upstream?.pick(this, this.#target) ?? (this.#target!.ready && !this.#target!.closed ? this.#target : null);
      if (next) {
        this.#route.series.retries++;
        return this.#send(next);
      }
    }
    if (this.#res.headersSent) {
      // Mid-response: the client must see a broken response, not a short one.
      // The deployment error gate counts it as a failure.
      this.#res.destroy(err);
      if (this.pool) this.pool.runtime.errors++;
      this.#record(this.#status);
      return;
    }
    this.#fail(classifyUpstreamError(err));
  }

  /**
   * Connect failures sent nothing; otherwise only bodiless idempotent
   * requests are replayed, never a timeout (it would double the wait) and
   * never a deliberate drain cut.
   */
  #retryable(err: Error, connectFailed: boolean): boolean {
    if (connectFailed) return true;
    if (isDeliberateCut(err)) return false;
    return !this.#hasBody && IDEMPOTENT.has(this.#req.method!) && classifyUpstreamError(err) === 'upstream_error';
  }

  #release(): void {
    this.#target!.inflight--;
    this.pool!.runtime.inflight--;
  }

  #fail(code: Parameters<typeof sendError>[1]): void {
    this.#record(sendError(this.#res, code, this.#requestId));
  }

  #finish(): void {
    this.#release();
    this.#record(this.#status);
  }

  #record(status: number): void {
    if (this.#done) return;
    this.#done = true;
    inflight.count--;
    const rt = this.pool?.runtime;
    if (rt) {
      rt.requests++;
      if (status >= 500) rt.errors++;
    }
    if (observers.active && observers.wants(this.#route.id)) this.#observe(status);
    this.#route.series.record(this.pool?.name ?? '', status, (performance.now() - this.#start) / 1000);
  }

  /** Builds the event only when someone listens (see RequestObservers). */
  #observe(status: number): void {
    const now = performance.now();
    const tp = this.traceparent;
    const traced = tp.length === 55;
    observers.emit({
      time: new Date().toISOString(),
      requestId: this.#requestId,
      traceId: traced ? tp.slice(3, 35) : null,
      spanId: traced ? this.spanId : null,
      parentSpanId: traced ? tp.slice(36, 52) : null,
      method: this.#req.method!,
      path: this.#path,
      route: this.#route.id,
      upstream: this.#route.upstreamName,
      pool: this.pool?.name ?? '',
      target: this.#target?.origin ?? '',
      status,
      bytes: this.#bytes,
      durationMs: Math.round((now - this.#start) * 1000) / 1000,
      upstreamMs: this.#headersAt ? Math.round((this.#headersAt - this.#sentAt) * 1000) / 1000 : null,
      startUnixMs: Date.now() - (now - this.#start),
    });
  }

  /** The client socket took the buffered bytes: resume the upstream. */
  drained(): void {
    const r = this.#resume;
    if (r && !this.#done) {
      this.#arm();
      r();
    }
  }

  /** The client connection closed: before the response finished, that aborts the upstream exchange. */
  clientClosed(): void {
    if (this.#done || this.#res.writableFinished) return;
    this.#clientGone = true;
    if (this.#abort) this.#abort(CLIENT_GONE);
  }
}

function onTimeout(ex: Exchange): void {
  ex.timedOut();
}

function onDrain(this: ExchangeResponse): void {
  this[EXCHANGE]?.drained();
}

function onClientClose(this: ExchangeResponse): void {
  this[EXCHANGE]?.clientClosed();
}
