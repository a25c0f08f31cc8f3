#!/usr/bin/env node
// A tiny backend for the walkthrough: `node examples/demo-upstream.mjs blue 3001`
// answers every request with its name, so you can see where traffic goes.
import http from 'node:http';

const [name = 'demo', port = process.env.PORT ?? '3001'] = process.argv.slice(2);
http
  .createServer((req, res) => {
    if (req.url === '/healthz') return res.end('ok');
    const body = JSON.stringify({ upstream: name, method: req.method, url: req.url }) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  })
  // HOST=0.0.0.0 in containers (docker-compose.yml); loopback by default.
  .listen(Number(port), process.env.HOST ?? '127.0.0.1', () => console.log(`${name} listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`));
