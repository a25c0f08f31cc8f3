/**
 * Every error the data plane answers with (CONTRACT §5). docs/errors.md lists
 * the same codes; a test keeps the two in sync.
 */
export interface CatalogEntry {
  readonly status: number;
  readonly message: string;
  /** Who caused it: the client, the upstream, or the gateway itself. */
  readonly source: 'downstream' | 'upstream' | 'internal';
}

export const ERROR_CATALOG = {
  bad_request: { status: 400, message: 'malformed request', source: 'downstream' },
  no_route: { status: 404, message: 'no route matches this request', source: 'downstream' },
  request_timeout: { status: 408, message: 'the request was not received in time', source: 'downstream' },
  payload_too_large: { status: 413, message: 'request body too large', source: 'downstream' },
  headers_too_large: { status: 431, message: 'request headers too large', source: 'downstream' },
  upstream_error: { status: 502, message: 'the upstream failed to answer', source: 'upstream' },
  no_healthy_target: { status: 503, message: 'no healthy target for this route', source: 'upstream' },
  upstream_timeout: { status: 504, message: 'the upstream did not answer in time', source: 'upstream' },
  overloaded: { status: 503, message: 'the gateway is overloaded, retry later', source: 'internal' },
  internal_error: { status: 500, message: 'internal gateway error', source: 'internal' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/**
 * undici error codes (and socket errnos) to catalog codes: timeouts are 504,
 * everything else that went wrong talking to the upstream is 502.
 */
const UPSTREAM_ERRORS: Record<string, ErrorCode> = {
  UND_ERR_CONNECT_TIMEOUT: 'upstream_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'upstream_timeout',
  UND_ERR_BODY_TIMEOUT: 'upstream_timeout',
  ETIMEDOUT: 'upstream_timeout',
  ECONNREFUSED: 'upstream_error',
  ECONNRESET: 'upstream_error',
  EPIPE: 'upstream_error',
  EHOSTUNREACH: 'upstream_error',
  ENETUNREACH: 'upstream_error',
  ENOTFOUND: 'upstream_error',
  EAI_AGAIN: 'upstream_error',
  UND_ERR_SOCKET: 'upstream_error',
  UND_ERR_CLOSED: 'upstream_error',
  UND_ERR_DESTROYED: 'upstream_error',
  UND_ERR_INFO: 'upstream_error',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'upstream_error',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'upstream_error',
  HPE_INVALID_CONSTANT: 'upstream_error',
  HPE_INVALID_HEADER_TOKEN: 'upstream_error',
  // The request itself could not be sent (headers undici refuses): the
  // client's fault, never the target's (no passive-health failure, no retry).
  UND_ERR_INVALID_ARG: 'bad_request',
  UND_ERR_NOT_SUPPORTED: 'bad_request',
  // A chunked request body grew past the route's maxBodyBytes.
  SWITCHYARD_BODY_TOO_LARGE: 'payload_too_large',
};

export function classifyUpstreamError(err: unknown): ErrorCode {
  const code = (err as { code?: string } | null)?.code;
  return (code && UPSTREAM_ERRORS[code]) || 'upstream_error';
}

/** Errors where nothing reached the upstream, so another target may be tried. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CLOSED']);

/** Errors that must never be retried: the gateway cut the exchange on purpose. */
export function isDeliberateCut(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'SWITCHYARD_DRAIN_CUT';
}

export function isConnectError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && CONNECT_ERRORS.has(code);
}

const bodies = new Map<ErrorCode, [string, string]>();
for (const code of Object.keys(ERROR_CATALOG) as ErrorCode[]) {
  const e = ERROR_CATALOG[code];
  // Pre-built prefix and suffix: only the request id is spliced in per error.
  bodies.set(code, [`{"error":"${code}","message":${JSON.stringify(e.message)},"requestId":`, '}']);
}

/** The JSON body of an error answer. */
export function errorBody(code: ErrorCode, requestId: string): string {
  const [pre, post] = bodies.get(code)!;
  return pre + JSON.stringify(requestId) + post;
}
