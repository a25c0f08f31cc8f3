// Error bodies and small HTTP helpers of the admin API (CONTRACT §3). Every
// failure is JSON `{ error: CODE, message, details? }`; endpoints throw
// ApiError (or a StoreError) and the admin error handler renders it.

import type { FastifyReply } from 'fastify';
import type { ConfigErrorDetail } from '../resources.js';
import { ID_RE } from '../resources.js';

export interface ErrorBody {
  error: string;
  message: string;
  details?: ConfigErrorDetail[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: { details?: ConfigErrorDetail[]; [k: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

/** 400 invalid_config naming the fields; nothing is written. */
export function invalidConfig(details: ConfigErrorDetail[], what = 'resource'): ApiError {
  const first = details[0];
  const summary = first ? `${first.field || '(body)'}: ${first.message}` : 'invalid';
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ApiError(400, 'invalid_config', `invalid ${what}: ${summary}${more}`, { details });
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.statusCode).type('application/json; charset=utf-8').send(err.body());
}

/** Throws 400 unless `id` (from the URL) is a valid route id / upstream name. */
export function checkPathId(id: string, key: 'id' | 'name'): void {
  if (!ID_RE.test(id)) {
    throw invalidConfig(
      [{ field: `/${key}`, message: `${JSON.stringify(id.length > 140 ? id.slice(0, 140) + '…' : id)} is not a valid ${key}: must match [a-z0-9][a-z0-9._-]{0,127}` }],
      `${key} in the URL`,
    );
  }
}

/**
 * The write condition of `If-Match` / `If-None-Match`:
 * - `If-Match: 12`, `"12"`, `W/"12"` -> { revision: 12 }
 * - `If-Match: *` -> { mustExist: true }
 * - `If-None-Match: *` -> { revision: 0 } (create only)
 * - neither -> {}
 * Throws 400 bad_request when malformed.
 */
export function parseWriteCondition(
  ifMatch: string | string[] | undefined,
  ifNoneMatch: string | string[] | undefined,
): { revision?: number; mustExist?: boolean } {
  const single = (h: string | string[] | undefined, name: string): string | undefined => {
    if (h === undefined) return undefined;
    if (Array.isArray(h)) {
      if (h.length !== 1) throw new ApiError(400, 'bad_request', `${name} must be given once`);
      return h[0];
    }
    return h;
  };
  const im = single(ifMatch, 'If-Match');
  const inm = single(ifNoneMatch, 'If-None-Match');
  if (im !== undefined && inm !== undefined) {
    throw new ApiError(400, 'bad_request', 'give If-Match or If-None-Match, not both');
  }
  if (inm !== undefined) {
    if (inm.trim() !== '*') throw new ApiError(400, 'bad_request', 'If-None-Match supports only "*" (create only)');
    return { revision: 0 };
  }
  if (im === undefined) return {};
  const v = im.trim();
  if (v === '*') return { mustExist: true };
  const m = /^(?:W\/)?(?:"(\d{1,15})"|(\d{1,15}))$/.exec(v);
  if (!m) {
    throw new ApiError(400, 'bad_request', `If-Match must be a store revision such as 12 or "12", got ${JSON.stringify(v.slice(0, 40))}`);
  }
  return { revision: Number(m[1] ?? m[2]) };
}
