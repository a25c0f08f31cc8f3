import type { ServerResponse } from 'node:http';
import { ERROR_CATALOG, errorBody, type ErrorCode } from './error-catalog.js';

/** Answers with a catalog error (CONTRACT §5) unless headers already went out. */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string): number {
  const status = ERROR_CATALOG[code].status;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const body = errorBody(code, requestId);
  res.writeHead(status, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'x-request-id', requestId]);
  res.end(body);
  return status;
}
