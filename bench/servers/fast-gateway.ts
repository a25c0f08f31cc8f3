// Peer candidate: fast-gateway 5 (restana + fast-proxy-lite over a keep-alive
// node:http Agent) with its defaults, forwarding every path to --target.
//   node dist/bench/servers/fast-gateway.js --target URL [--port 0]
// Prints `fast-gateway listening on http://HOST:PORT`.
import gateway from 'fast-gateway';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { target: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
if (!values.target) {
  process.stderr.write('fast-gateway: --target URL is required\n');
  process.exit(2);
}
// prefix '' registers '/*' and leaves the URL as it is (prefix '/' would register '//*').
const server = gateway({ routes: [{ prefix: '', target: values.target }] });
const http = await server.start(Number(values.port), values.host);
const { address, port } = http.address() as AddressInfo;
process.stdout.write(`fast-gateway listening on http://${address}:${port}\n`);
process.on('SIGTERM', () => process.exit(0));
