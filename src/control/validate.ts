// Validation of CONTRACT §2 resources: JSON Schema (resource-schemas.ts) for
// shapes, code for what a schema cannot say (id/URL agreement, listener ports,
// weights naming pools, URL parsing). Used by the admin API before a write and
// by the gateway on every stored value (a shared store may hold anything).

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import {
  ID_RE,
  type ConfigErrorDetail,
  type ListenerPolicy,
  type PoolSpec,
  type RouteSpec,
  type UpstreamSpec,
} from '../resources.js';
import {
  DEFAULT_BALANCER,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  RouteSchema,
  TargetUrlSchema,
  UpstreamSchema,
} from './resource-schemas.js';

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: ConfigErrorDetail[] };

/** Weight given to every pool of an upstream that has no `weights` at all. */
export const DEFAULT_POOL_WEIGHT = 100;

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: false });
// Annotation-only keyword: the message to report when this schema fails.
ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
const routeValidator: ValidateFunction = ajv.compile(RouteSchema);
const upstreamValidator: ValidateFunction = ajv.compile(UpstreamSchema);
const TARGET_RE = new RegExp(TargetUrlSchema.pattern);

/** Keywords for which a schema's `x-message` replaces Ajv's message. */
const CUSTOM_MESSAGE_KEYWORDS = new Set(['pattern', 'format', 'minProperties', 'maxProperties', 'enum', 'maxLength']);

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Ajv errors -> `{ field, message }` naming the offending field (JSON pointer). */
export function mapAjvErrors(errors: readonly ErrorObject[] | null | undefined): ConfigErrorDetail[] {
  const out: ConfigErrorDetail[] = [];
  for (const e of errors ?? []) {
    const params = e.params as Record<string, unknown>;
    const custom = isPlainObject(e.parentSchema) ? e.parentSchema['x-message'] : undefined;
    let field = e.instancePath;
    let message = e.message ?? 'is invalid';
    switch (e.keyword) {
      case 'required':
        field = `${e.instancePath}/${escapePointer(String(params.missingProperty))}`;
        message = 'is required';
        break;
      case 'additionalProperties':
        field = `${e.instancePath}/${escapePointer(String(params.additionalProperty))}`;
        message = 'unknown field';
        break;
      case 'propertyNames':
        // The failing name is reported by the nested error (with propertyName).
        continue;
      case 'type':
        message = `must be ${String(params.type)}`;
        break;
      case 'enum':
        message =
          typeof custom === 'string'
            ? custom
            : `must be one of: ${(params.allowedValues as unknown[]).map((v) => String(v)).join(', ')}`;
        break;
      case 'uniqueItems':
        message = `must not contain duplicates (items ${String(params.j)} and ${String(params.i)} are equal)`;
        break;
      default:
        if (typeof custom === 'string' && CUSTOM_MESSAGE_KEYWORDS.has(e.keyword)) message = custom;
    }
    if (e.propertyName !== undefined) {
      // An error about an object key (propertyNames): name the key itself.
      field = `${e.instancePath}/${escapePointer(e.propertyName)}`;
    }
    out.push({ field, message });
  }
  return dedupe(out);
}

function dedupe(errors: ConfigErrorDetail[]): ConfigErrorDetail[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.field}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function checkIdAgainstPath(
  body: Record<string, unknown>,
  key: 'id' | 'name',
  fromPath: string | undefined,
  errors: ConfigErrorDetail[],
): void {
  const inBody = body[key];
  if (fromPath !== undefined) {
    if (!ID_RE.test(fromPath)) {
      errors.push({ field: `/${key}`, message: `the ${key} in the URL (${JSON.stringify(fromPath)}) is not a valid ${key}` });
    } else if (inBody !== undefined && inBody !== fromPath) {
      errors.push({ field: `/${key}`, message: `must equal the ${key} in the URL (${JSON.stringify(fromPath)})` });
    }
  } else if (inBody === undefined) {
    errors.push({ field: `/${key}`, message: 'is required' });
  }
}

/** The error for a route port the listener policy does not allow, or null. */
export function checkRoutePort(port: number, policy: ListenerPolicy): string | null {
  if (policy.listenPorts.has(port)) return null;
  const range = policy.portRange;
  if (range && port >= range.from && port <= range.to) return null;
  const listen = [...policy.listenPorts].sort((a, b) => a - b).join(', ') || 'none';
  const where = range ? `outside --port-range ${range.from}-${range.to}` : 'no --port-range is configured';
  return `port ${port} is not a --listen port (${listen}) and ${where}`;
}

/**
 * Validates a route. `policy` null skips the listener-port check. `idFromPath`
 * (the id in the URL) must equal the body's id; the body may omit it.
 */
export function validateRoute(value: unknown, policy: ListenerPolicy | null, idFromPath?: string): ValidationResult<RouteSpec> {
  const errors: ConfigErrorDetail[] = [];
  if (!isPlainObject(value)) {
    return { ok: false, errors: [{ field: '', message: value === undefined ? 'a route object is required (the request body is empty)' : 'must be object' }] };
  }
  if (!routeValidator(value)) errors.push(...mapAjvErrors(routeValidator.errors));
  checkIdAgainstPath(value, 'id', idFromPath, errors);
  const match = value.match;
  if (policy && isPlainObject(match) && Number.isInteger(match.port)) {
    const port = match.port as number;
    if (port >= 1 && port <= 65535) {
      const problem = checkRoutePort(port, policy);
      if (problem) errors.push({ field: '/match/port', message: problem });
    }
  }
  if (errors.length > 0) return { ok: false, errors: dedupe(errors) };

  const v = value as unknown as RouteSpec;
  const out: RouteSpec = {
    id: (v.id ?? idFromPath) as string,
    match: {
      ...(v.match.port !== undefined ? { port: v.match.port } : {}),
      ...(v.match.host !== undefined ? { host: v.match.host } : {}),
      path: v.match.path,
      ...(v.match.methods !== undefined ? { methods: [...v.match.methods] } : {}),
    },
    upstream: v.upstream,
    stripPrefix: v.stripPrefix ?? false,
    timeoutMs: v.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: v.retries ?? DEFAULT_RETRIES,
    // No default written: an absent limit follows the node's --max-body-size.
    ...(v.maxBodyBytes !== undefined ? { maxBodyBytes: v.maxBodyBytes } : {}),
    ...(v.redirectHttps ? { redirectHttps: true } : {}),
  };
  return { ok: true, value: out };
}

function checkTargets(pools: Record<string, unknown>, errors: ConfigErrorDetail[]): void {
  for (const [poolName, pool] of Object.entries(pools)) {
    if (!isPlainObject(pool) || !Array.isArray(pool.targets)) continue;
    pool.targets.forEach((t: unknown, i: number) => {
      if (typeof t !== 'string' || !TARGET_RE.test(t)) return; // the schema reported it
      const field = `/pools/${escapePointer(poolName)}/targets/${i}`;
      let url: URL;
      try {
        url = new URL(t);
      } catch {
        errors.push({ field, message: `${JSON.stringify(t)} is not a valid URL` });
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        errors.push({ field, message: 'must be an http:// or https:// URL' });
      } else if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
        errors.push({ field, message: 'must be an origin only (no user info, path, query or fragment)' });
      }
    });
  }
}

/**
 * Validates an upstream. `nameFromPath` (the name in the URL) must equal the
 * body's name; the body may omit it.
 */
export function validateUpstream(value: unknown, nameFromPath?: string): ValidationResult<UpstreamSpec> {
  const errors: ConfigErrorDetail[] = [];
  if (!isPlainObject(value)) {
    return { ok: false, errors: [{ field: '', message: value === undefined ? 'an upstream object is required (the request body is empty)' : 'must be object' }] };
  }
  if (!upstreamValidator(value)) errors.push(...mapAjvErrors(upstreamValidator.errors));
  checkIdAgainstPath(value, 'name', nameFromPath, errors);
  const pools = value.pools;
  if (isPlainObject(pools)) {
    checkTargets(pools, errors);
    if (isPlainObject(value.weights)) {
      for (const key of Object.keys(value.weights)) {
        if (!Object.hasOwn(pools, key)) {
          errors.push({ field: `/weights/${escapePointer(key)}`, message: `names no pool (pools: ${Object.keys(pools).join(', ') || 'none'})` });
        }
      }
    }
    const flip = value.flip;
    if (isPlainObject(flip) && typeof flip.to === 'string' && !Object.hasOwn(pools, flip.to)) {
      errors.push({ field: '/flip/to', message: `names no pool (pools: ${Object.keys(pools).join(', ') || 'none'})` });
    }
  }
  if (errors.length > 0) return { ok: false, errors: dedupe(errors) };

  const v = value as unknown as UpstreamSpec;
  const poolNames = Object.keys(v.pools);
  const outPools: Record<string, PoolSpec> = {};
  for (const name of poolNames) outPools[name] = structuredClone(v.pools[name]!);
  const weights: Record<string, number> = {};
  for (const name of poolNames) {
    weights[name] = v.weights === undefined ? DEFAULT_POOL_WEIGHT : (v.weights[name] ?? 0);
  }
  const out: UpstreamSpec = {
    name: (v.name ?? nameFromPath) as string,
    pools: outPools,
    weights,
    balancer: v.balancer ?? DEFAULT_BALANCER,
    ...(v.healthCheck !== undefined ? { healthCheck: { ...v.healthCheck } } : {}),
    ...(v.slowStartMs !== undefined ? { slowStartMs: v.slowStartMs } : {}),
    ...(v.drainTimeoutMs !== undefined ? { drainTimeoutMs: v.drainTimeoutMs } : {}),
    ...(v.flip !== undefined ? { flip: structuredClone(v.flip) } : {}),
    ...(v.drainTargets !== undefined && v.drainTargets.length > 0 ? { drainTargets: [...v.drainTargets] } : {}),
  };
  return { ok: true, value: out };
}

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false; errors: ConfigErrorDetail[] } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch (err) {
    return { ok: false, errors: [{ field: '', message: `not valid JSON: ${(err as Error).message}` }] };
  }
}

/**
 * Parses and validates a stored route value. `id` (the store key), when
 * given, must agree with the value's id and fills it in when absent.
 */
export function parseStoredRoute(raw: string, policy: ListenerPolicy | null, id?: string): ValidationResult<RouteSpec> {
  const parsed = parseJson(raw);
  return parsed.ok ? validateRoute(parsed.value, policy, id) : parsed;
}

/** Parses and validates a stored upstream value (see parseStoredRoute). */
export function parseStoredUpstream(raw: string, name?: string): ValidationResult<UpstreamSpec> {
  const parsed = parseJson(raw);
  return parsed.ok ? validateUpstream(parsed.value, name) : parsed;
}
