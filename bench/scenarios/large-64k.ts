// (b) 64 KiB responses: body streaming cost (onData/backpressure path).
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { switchyard } from '../candidates/switchyard.js';
import type { ScenarioModule } from '../lib/types.js';

export const large64k: ScenarioModule = {
  name: 'large-64k',
  summary: 'GET /, 200 with a 64 KiB body; direct, switchyard, bare-undici',
  create: () => ({
    name: 'large-64k',
    title: '64 KiB responses: `GET /`, 200 with a 65 536-byte body, keep-alive',
    upstream: { bodyBytes: 64 * 1024, nginxOk: true },
    request: { method: 'GET', path: '/' },
    candidates: [direct(), switchyard(), bareUndici()],
  }),
};
