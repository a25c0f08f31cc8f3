// `fast-gateway`: fast-gateway 5 (fast-proxy-lite), defaults.
import type { Candidate } from '../lib/types.js';
import { forwarder } from './forwarder.js';

export function fastGateway(): Candidate {
  return forwarder('fast-gateway', 'servers/fast-gateway');
}
