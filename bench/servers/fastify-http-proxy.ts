// Peer candidate: fastify 5 + @fastify/http-proxy 11 with its defaults
// (@fastify/reply-from over undici), forwarding every path to --target.
//   node dist/bench/servers/fastify-http-proxy.js --target URL [--port 0]
// Prints `fastify-http-proxy listening on http://HOST:PORT`.
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { target: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
if (!values.target) {
  process.stderr.write('fastify-http-proxy: --target URL is required\n');
  process.exit(2);
}
const app = Fastify({ logger: false });
await app.register(proxy, { upstream: values.target });
const address = await app.listen({ host: values.host, port: Number(values.port) });
process.stdout.write(`fastify-http-proxy listening on ${address}\n`);
process.on('SIGTERM', () => process.exit(0));
