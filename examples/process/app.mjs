#!/usr/bin/env node
// A small backend for process pools: the gateway starts it with PORT set.
//   node app.mjs VERSION      answers {"app":"orders","version":VERSION,"pid":...}
// GET /healthz answers 200 once it is up (the gateway waits for it before
// sending traffic); SIGTERM stops accepting, finishes in-flight requests, exits 0.
import http from 'node:http';

const version = process.argv[2] ?? 'v1';
const port = Number(process.env.PORT ?? 3000);
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  const body = JSON.stringify({ app: 'orders', version, pid: process.pid, url: req.url }) + '\n';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(port, '127.0.0.1', () => console.log(`orders ${version} listening on http://127.0.0.1:${port}`));
process.on('SIGTERM', () => {
  console.log(`orders ${version}: SIGTERM, finishing in-flight requests`);
  server.close(() => process.exit(0));
});
