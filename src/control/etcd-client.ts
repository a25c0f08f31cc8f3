// etcd3 client construction and error classification for the etcd store.
// Every choice here answers a measured trap in /work/shared/ETCD-NOTES.md.
import {
  ConsecutiveBreaker, DelegateBackoff, ExponentialBackoff, circuitBreaker, handleWhen, isBrokenCircuitError, noop, retry,
  type IBackoff, type IRetryBackoffContext,
} from 'cockatiel';
import {
  ClientClosedError, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError,
  GRPCUnauthenticatedError, GRPCUnavailableError, isRecoverableError, type IOptions, type Watcher,
} from 'etcd3';

/** Why and when a watcher followed by followWatcher ended. */
export interface WatchEnd {
  reason: string;
  err?: unknown;
  /** When it was last created (null: never). */
  connectedAt: number | null;
}

/**
 * Follows one etcd3 watcher until it ends for any reason: 'error',
 * 'disconnected', 'end', the abort signal, `end()` from the caller, or not
 * being created within `timeoutMs` (etcd3 never creates another watcher on a
 * stream where etcd answered "created + canceled", e.g. permission denied).
 * On the way out the watcher loses every listener (the caller's too), gets
 * an 'error' sink (an unheard 'error' would crash the process, notes #8) and
 * is cancelled without waiting (against a hung etcd that never settles).
 * The caller attaches its own data listeners to the watcher.
 */
export function followWatcher(
  watcher: Watcher,
  timeoutMs: number,
  signal: AbortSignal,
  hooks: { connected?(): void; disconnected?(err: unknown): void; ended?(end: WatchEnd): void } = {},
): { ended: Promise<WatchEnd>; end(reason: string, err?: unknown): void } {
  let connectedAt: number | null = null;
  let done = false;
  let resolve!: (end: WatchEnd) => void;
  const ended = new Promise<WatchEnd>((r) => (resolve = r));
  const end = (reason: string, err?: unknown): void => {
    if (done) return;
    done = true;
    clearTimeout(creating);
    signal.removeEventListener('abort', onAbort);
    watcher.removeAllListeners();
    watcher.on('error', () => {});
    watcher.cancel().catch(() => {});
    const result = { reason, err, connectedAt };
    hooks.ended?.(result);
    resolve(result);
  };
  const onAbort = () => end('stopped');
  const creating = setTimeout(() => end('watch not created in time'), timeoutMs);
  signal.addEventListener('abort', onAbort, { once: true });
  watcher.on('error', (err) => end('error', err));
  watcher.on('disconnected', (err) => {
    hooks.disconnected?.(err);
    end('disconnected', err);
  });
  watcher.on('end', () => end('end'));
  watcher.on('connected', () => {
    clearTimeout(creating);
    connectedAt = Date.now();
    hooks.connected?.();
  });
  return { ended, end };
}

export interface EtcdConnectOptions {
  endpoints: string[];
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** Deadline of every unary call (including the token exchange). */
  requestTimeoutMs: number;
}

/**
 * Errors that prove the request never reached etcd (no connection, or a host
 * skipped by its open circuit breaker): safe to retry even for writes. An
 * error like "Connection dropped" or a deadline may follow a write etcd did
 * apply, so those are never retried by the client.
 */
export function isNotSent(err: unknown): boolean {
  if (isBrokenCircuitError(err)) return true;
  if (!(err instanceof GRPCUnavailableError)) return false;
  return /No connection established|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|Failed to connect|name resolution/i.test(err.message);
}

/** Errors that mean "etcd is unreachable, hung, or went away" (as opposed to a rejected request). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof Error && (isRecoverableError(err) || isBrokenCircuitError(err) || err instanceof ClientClosedError);
}

/** A member's breaker lets a call through again this long after it opened. */
const HALF_OPEN_AFTER_MS = 1000;

export function isAuthError(err: unknown): boolean {
  return err instanceof EtcdAuthenticationFailedError || err instanceof EtcdPermissionDeniedError
    || err instanceof EtcdInvalidAuthTokenError || err instanceof GRPCUnauthenticatedError;
}

/**
 * Client options:
 * - Deadlines: etcd3 has no default deadline and ignores `dialTimeout` (notes #3).
 *   The function form gives every unary call (e.g. the token exchange) a
 *   deadline and leaves streams (watch) alone. The store also passes an
 *   absolute per-call deadline, so retries can never stretch a call past it
 *   (a per-attempt deadline turns 3 s into 9 s with three attempts).
 * - Global policy: retry only errors where the request provably was not sent
 *   (no connection / breaker open), at most once per endpoint, 25 ms apart
 *   (the last after the breakers half-open, when every member's is open).
 *   That moves a call off a dead cluster member without ever re-sending a
 *   write that etcd may have applied.
 * - Host policy: one endpoint -> `noop` (there is nowhere else to go, and a
 *   breaker only delays recovery: the default one blocks every call for 5 s
 *   after etcd is back). Several endpoints -> a breaker that opens after 2
 *   consecutive failures and half-opens after 1 s, so calls skip a dead member
 *   but a returning one is used again quickly.
 * - gRPC keepalive so a hung or partitioned server is noticed (notes #7;
 *   etcd's --grpc-keepalive-min-time is 5 s), and no 4 MiB response cap (notes #5).
 * - Watch backoff 100 ms–1 s instead of up to 30 s (notes #6, cast per notes #12).
 */
export function etcdClientOptions(o: EtcdConnectOptions): IOptions {
  const hosts = o.tls ? o.endpoints.map((e) => e.replace(/^http:\/\//, 'https://')) : o.endpoints;
  const timeout = o.requestTimeoutMs;
  const multi = hosts.length > 1;
  const options: IOptions = {
    hosts,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    grpcOptions: {
      'grpc.keepalive_time_ms': 5000,
      'grpc.keepalive_timeout_ms': 2000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': -1,
      // grpc-js waits 1 s, then up to 120 s (x1.6 per failure) between
      // reconnects; clients for one address share a subchannel and its backoff.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    },
    faultHandling: {
      global: retry(handleWhen(isNotSent), {
        // Retries 25 ms apart; when even the one before the last met an open
        // breaker (an election failed calls on every member), the last waits
        // for the breakers to half-open rather than answering 503 while the
        // cluster is already back. The call's deadline still bounds it all.
        maxAttempts: hosts.length,
        backoff: new DelegateBackoff((ctx: IRetryBackoffContext<unknown>) =>
          multi && ctx.attempt === hosts.length && 'error' in ctx.result && isBrokenCircuitError(ctx.result.error) ? HALF_OPEN_AFTER_MS : 25),
      }),
      host: () => (multi
        ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HALF_OPEN_AFTER_MS, breaker: new ConsecutiveBreaker(2) })
        : noop),
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
  };
  if (o.tls && (o.tls.ca || o.tls.cert || o.tls.key)) {
    // A null root certificate makes grpc-js use the system roots.
    options.credentials = { rootCertificate: o.tls.ca ?? (null as unknown as Buffer), privateKey: o.tls.key, certChain: o.tls.cert };
  }
  if (o.auth) options.auth = { username: o.auth.username, password: o.auth.password };
  return options;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}
