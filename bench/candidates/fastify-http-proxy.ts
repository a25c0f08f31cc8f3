// `fastify-http-proxy`: fastify 5 + @fastify/http-proxy 11, defaults.
import type { Candidate } from '../lib/types.js';
import { forwarder } from './forwarder.js';

export function fastifyHttpProxy(): Candidate {
  return forwarder('fastify-http-proxy', 'servers/fastify-http-proxy');
}
