// JSON Schemas (draft-07) of the CONTRACT §2 resources. One source of truth:
// src/control/validate.ts compiles them with Ajv, and the admin API registers
// them on its routes so /openapi.json documents the real shapes.
//
// `x-message` is an annotation read by validate.ts: the message reported when
// a keyword of that (sub)schema fails, instead of Ajv's generic one.

import { ID_PATTERN } from '../resources.js';

/** A hostname label: letters, digits, hyphens; no leading/trailing hyphen. */
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** A DNS hostname (no port, no trailing dot). */
export const HOSTNAME_PATTERN = `^${LABEL}(?:\\.${LABEL})*$`;
/** A name to resolve for a dns pool: a hostname, optionally behind SRV labels (`_http._tcp.orders.shop.svc`). */
const DNS_NAME_PATTERN = `^(?:_${LABEL}\\.)*${LABEL}(?:\\.${LABEL})*$`;
/** A route host: a hostname or `*.` + hostname. */
export const HOST_PATTERN = `^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`;
/** An HTTP method: an RFC 9110 token, upper case. */
export const METHOD_PATTERN = "^[A-Z0-9!#$%&'*+.^_`|~-]+$";

export const DEFAULT_TIMEOUT_MS = 30000;
export const DEFAULT_RETRIES = 1;
export const DEFAULT_BALANCER = 'round-robin';

const idSchema = {
  type: 'string',
  pattern: ID_PATTERN,
  'x-message': 'must be 1-128 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit',
} as const;

const portSchema = { type: 'integer', minimum: 1, maximum: 65535 } as const;

export const RouteMatchSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    port: { ...portSchema, description: 'Listener port; must be a --listen port or inside --port-range' },
    host: {
      type: 'string',
      maxLength: 253,
      pattern: HOST_PATTERN,
      'x-message': 'must be a hostname or "*." followed by a hostname, without a port',
      description: 'Host header (without port) to match, case-insensitive; "*.example.com" allowed',
    },
    path: {
      type: 'string',
      pattern: '^/',
      maxLength: 4096,
      'x-message': 'must start with "/"',
      description: 'Path prefix, segment-aware; the longest match wins',
    },
    methods: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: {
        type: 'string',
        pattern: METHOD_PATTERN,
        maxLength: 64,
        'x-message': 'must be an upper-case HTTP method such as "GET"',
      },
    },
  },
} as const;

export const RouteSchema = {
  type: 'object',
  description: 'A route (CONTRACT §2)',
  additionalProperties: false,
  required: ['match', 'upstream'],
  properties: {
    id: { ...idSchema, description: 'Route id; may be omitted in a PUT body (taken from the URL)' },
    match: RouteMatchSchema,
    upstream: { ...idSchema, description: 'Name of the upstream; it may not exist yet (the route is then unresolved)' },
    stripPrefix: { type: 'boolean', default: false, description: 'Remove match.path from the path sent upstream' },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 3600000, default: DEFAULT_TIMEOUT_MS },
    retries: { type: 'integer', minimum: 0, maximum: 10, default: DEFAULT_RETRIES },
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: "Largest request body in bytes: 413 payload_too_large above it (by Content-Length up front, or counted for a chunked body); 0 = unlimited; absent = the node's --max-body-size",
    },
    redirectHttps: { type: 'boolean', default: false, description: 'Answer plain-HTTP requests with 308 to the same URL on https (the first --tls-listen port, else 443)' },
  },
} as const;

export const TargetUrlSchema = {
  type: 'string',
  maxLength: 2048,
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+/?$',
  'x-message': 'must be an absolute http:// or https:// URL with no path, query or fragment (e.g. "http://10.0.0.1:3000")',
} as const;

export const DnsSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      maxLength: 253,
      pattern: DNS_NAME_PATTERN,
      'x-message': 'must be a DNS name',
    },
    port: portSchema,
    refreshMs: { type: 'integer', minimum: 100, maximum: 3600000 },
  },
} as const;

export const ProcessSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: { type: 'string', minLength: 1 },
    args: { type: 'array', items: { type: 'string' } },
    instances: { type: 'integer', minimum: 1, maximum: 256 },
    cwd: { type: 'string', minLength: 1 },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    groups: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
  },
} as const;

export const PoolSchema = {
  type: 'object',
  description: 'Exactly one source: targets, dns, process or registry',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message': 'a pool must have exactly one of "targets", "dns", "process", "registry"',
  properties: {
    targets: { type: 'array', uniqueItems: true, items: TargetUrlSchema },
    dns: DnsSourceSchema,
    process: ProcessSourceSchema,
    registry: { type: 'boolean', enum: [true], 'x-message': 'must be true' },
  },
} as const;

export const HealthCheckSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', pattern: '^/', maxLength: 4096, 'x-message': 'must start with "/"' },
    intervalMs: { type: 'integer', minimum: 100, maximum: 3600000 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 60000 },
    healthy: { type: 'integer', minimum: 1, maximum: 100 },
    unhealthy: { type: 'integer', minimum: 1, maximum: 100 },
  },
} as const;

/**
 * The last flip, written by POST /upstreams/:name/flip together with the new
 * weights. Every node, including one restarted mid-flip, derives flood and
 * drain progress from it, so that state lives in the store.
 */
export const FlipStateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['to', 'at'],
  description: 'Set by the flip endpoint: target pool, start time and the weights before',
  properties: {
    to: { ...idSchema, description: 'The pool flooded by the flip' },
    at: { type: 'integer', minimum: 0, description: 'Start time, epoch milliseconds' },
    rampMs: { type: 'integer', minimum: 0, maximum: 3600000 },
    drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3600000 },
    from: {
      type: 'object',
      description: 'The weights before the flip',
      additionalProperties: { type: 'integer', minimum: 0, maximum: 1000000 },
    },
  },
} as const;

export const UpstreamSchema = {
  type: 'object',
  description: 'An upstream and its pools (CONTRACT §2)',
  additionalProperties: false,
  required: ['pools'],
  properties: {
    name: { ...idSchema, description: 'Upstream name; may be omitted in a PUT body (taken from the URL)' },
    pools: {
      type: 'object',
      minProperties: 1,
      'x-message': 'must have at least one pool',
      propertyNames: { ...idSchema, 'x-message': 'pool names must be 1-128 characters of a-z, 0-9, ".", "_", "-"' },
      additionalProperties: PoolSchema,
    },
    weights: {
      type: 'object',
      description: 'Relative traffic share per pool; a pool missing here has weight 0. Default: every pool equal.',
      additionalProperties: { type: 'integer', minimum: 0, maximum: 1000000 },
    },
    balancer: { type: 'string', enum: ['round-robin', 'least-request'], default: DEFAULT_BALANCER },
    healthCheck: HealthCheckSchema,
    slowStartMs: { type: 'integer', minimum: 0, maximum: 3600000 },
    drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3600000 },
    flip: FlipStateSchema,
    drainTargets: {
      type: 'array',
      uniqueItems: true,
      items: TargetUrlSchema,
      description: 'Targets taken out of rotation (POST /upstreams/:name/targets/drain): no new requests, in-flight ones finish',
    },
  },
} as const;

/** The error body every admin endpoint answers with on failure. */
export const ErrorBodySchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    details: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    currentRevision: { type: 'integer' },
  },
} as const;
