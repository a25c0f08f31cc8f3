import type { ServerResponse } from 'node:http';
import { ERROR_CATALOG, errorBody, type ErrorCode } from './error-catalog.js';

/**
 * Headers some errors add: the connection is closed after a malformed or
 * oversized request (its body may be unread, the stream out of sync), and an
 * overloaded answer says when to come back.
 */
const EXTRA_HEADERS: Partial<Record<ErrorCode, readonly string[]>> = {
  bad_request: ['connection', 'close'],
  payload_too_large: ['connection', 'close'],
  headers_too_large: ['connection', 'close'],
  request_timeout: ['connection', 'close'],
  overloaded: ['retry-after', '1'],
};

/** Answers with a catalog error (CONTRACT §5) unless headers already went out. */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string): number {
  const status = ERROR_CATALOG[code].status;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const body = errorBody(code, requestId);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'x-request-id', requestId];
  const extra = EXTRA_HEADERS[code];
  if (extra !== undefined) headers.push(...extra);
  res.writeHead(status, headers);
  res.end(body);
  return status;
}
