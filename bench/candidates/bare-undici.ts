// `bare-undici`: node:http + undici Pool.dispatch() (bench/bare-forwarder.ts),
// the CPU-per-request reference.
import { BARE, type Candidate } from '../lib/types.js';
import { forwarder } from './forwarder.js';

export function bareUndici(): Candidate {
  return forwarder(BARE, 'bare-forwarder');
}
