// Benchmark upstream: a plain node:http server, keep-alive, answering every
// request with 200 and a fixed body of --body-bytes bytes (default 13).
// Request bodies are read to the end (and counted) before the answer, so
// upload scenarios can use it too. --delay-ms holds every answer that long
// (flip scenario: latency-bound, not CPU-bound load); --name adds an
// `x-upstream: NAME` header (which version of a route served a request).
//   node dist/bench/upstream.js [--port 0] [--host 127.0.0.1] [--body-bytes 13] [--delay-ms 0] [--name N]
// Prints `upstream listening on http://HOST:PORT`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'body-bytes': { type: 'string', default: '13' },
    'delay-ms': { type: 'string', default: '0' },
    name: { type: 'string' },
  },
});

const size = Number(values['body-bytes']);
const body = size === 13 ? Buffer.from('hello, world\n') : Buffer.alloc(size, 'x');
const headers: Record<string, string> = { 'content-type': 'text/plain', 'content-length': String(body.length) };
if (values.name) headers['x-upstream'] = values.name;
const delayMs = Number(values['delay-ms']);

const server = http.createServer((req, res) => {
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    if (delayMs > 0) {
      setTimeout(() => {
        res.writeHead(200, headers);
        res.end(body);
      }, delayMs);
      return;
    }
    res.writeHead(200, headers);
    res.end(body);
    return;
  }
  let received = 0;
  req.on('data', (c: Buffer) => (received += c.length));
  req.on('end', () => {
    res.writeHead(200, { ...headers, 'x-received-bytes': String(received) });
    res.end(body);
  });
});
// Longer than any proxy's pool idle timeout, so the upstream never closes a
// pooled connection in the middle of a run.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address() as AddressInfo;
  process.stdout.write(`upstream listening on http://${address}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
