// WebSocket echo upstream for the websocket scenario: `ws` on a node:http
// server. Every message comes back as it came (text or binary). Plain HTTP
// requests get 200 with a --body-bytes body (default 13), so the bench's
// response check and Switchyard's readiness probe work as for the HTTP upstream.
//   node dist/bench/ws-upstream.js [--port 0] [--host 127.0.0.1] [--body-bytes 13]
// Prints `upstream listening on http://HOST:PORT`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'body-bytes': { type: 'string', default: '13' },
  },
});

const size = Number(values['body-bytes']);
const body = size === 13 ? Buffer.from('hello, world\n') : Buffer.alloc(size, 'x');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address() as AddressInfo;
  process.stdout.write(`upstream listening on http://${address}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
