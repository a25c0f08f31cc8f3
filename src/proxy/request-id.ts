import { randomUUID } from 'node:crypto';

/**
 * Generated x-request-id values: UUID-shaped (8-4-4-4-12 hex, version 4
 * bits), unique rather than random. The first 20 hex digits are random per
 * process, the last 12 count requests. Ids must tell requests apart across
 * logs and nodes, not be unguessable; a counter costs ~80 ns where
 * randomUUID() costs ~220 ns plus garbage, on every request without an id.
 */
let prefix = randomUUID().slice(0, 24);
let counter = 0;
const ZEROS = '000000000000';
/** 16^12: the counter's room before the prefix is drawn again. */
const WRAP = 2 ** 48;

export function newRequestId(): string {
  if (++counter === WRAP) {
    prefix = randomUUID().slice(0, 24);
    counter = 1;
  }
  const hex = counter.toString(16);
  return prefix + ZEROS.slice(hex.length) + hex;
}
