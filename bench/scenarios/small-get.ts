// (a) small GET: a 13-byte 200 response over keep-alive, every candidate.
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { fastGateway } from '../candidates/fast-gateway.js';
import { fastifyHttpProxy } from '../candidates/fastify-http-proxy.js';
import { switchyard } from '../candidates/switchyard.js';
import type { ScenarioModule } from '../lib/types.js';

export const smallGet: ScenarioModule = {
  name: 'small-get',
  summary: 'GET /, 13-byte 200 response; direct, switchyard, bare-undici, fastify-http-proxy, fast-gateway',
  create: () => ({
    name: 'small-get',
    title: 'small GET: `GET /`, 200 with a 13-byte body, keep-alive',
    upstream: { bodyBytes: 13, nginxOk: true },
    request: { method: 'GET', path: '/' },
    candidates: [direct(), switchyard(), bareUndici(), fastifyHttpProxy(), fastGateway()],
  }),
};
