import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCa } from '../helpers/certs.js';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, CLI, removeDir, startGateway, tempDir, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { spawn, spawnSync } from 'node:child_process';

/** The certificate a TLS listener presents for `servername`, and the negotiated protocol. */
function handshake(port: number, servername: string, opts: tls.ConnectionOptions = {}): Promise<{ names: string; protocol: string | null; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false, ...opts }, () => {
      const c = s.getPeerCertificate();
      resolve({ names: c.subjectaltname ?? '', protocol: s.getProtocol(), serial: c.serialNumber });
      s.end();
    });
    s.on('error', reject);
  });
}

describe('TLS termination', () => {
  const dir = tempDir();
  const certDir = path.join(dir, 'certs');
  mkdirSync(certDir);
  const ca = makeCa(dir);
  let gw: GatewayProcess;
  let up: TestUpstream;
  let tlsPort = 0;
  let secureUp: https.Server;
  let secureUrl = '';

  before(async () => {
    ca.leaf('shop', ['shop.test', '*.shop.test'], certDir);
    ca.leaf('api', ['api.test'], certDir);
    const upstreamCert = ca.leaf('upstream', ['localhost', '127.0.0.1']);
    up = await startUpstream('plain');
    secureUp = https.createServer({ cert: readFileSync(upstreamCert.cert), key: readFileSync(upstreamCert.key) }, (_req, res) => res.end('secure upstream'));
    await new Promise<void>((r) => secureUp.listen(0, '127.0.0.1', r));
    secureUrl = `https://localhost:${(secureUp.address() as { port: number }).port}`;
    gw = await startGateway({ args: ['--tls-listen', '127.0.0.1:0', '--tls-cert-dir', certDir, '--upstream-ca', ca.caFile] });
    const m = /data-plane listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(gw.output());
    assert.ok(m, gw.output());
    tlsPort = Number(m[1]);
    await putUpstream(gw, 'plain', [up.url]);
    await putUpstream(gw, 'secure', [secureUrl]);
    await putRoute(gw, 'web', { path: '/' }, 'plain');
    await putRoute(gw, 'login', { path: '/login' }, 'plain', { redirectHttps: true });
    await putRoute(gw, 'sec', { path: '/secure' }, 'secure');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
    secureUp?.close();
    removeDir(dir);
  });

  it('chooses the certificate by SNI, wildcard included, and serves HTTPS with x-forwarded-proto https', async () => {
    assert.match((await handshake(tlsPort, 'api.test')).names, /DNS:api\.test/);
    assert.match((await handshake(tlsPort, 'shop.test')).names, /DNS:shop\.test/);
    assert.match((await handshake(tlsPort, 'eu.shop.test')).names, /DNS:\*\.shop\.test/);
    const body = await new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: tlsPort, path: '/hello', servername: 'api.test', headers: { host: 'api.test' }, ca: readFileSync(ca.caFile), checkServerIdentity: () => undefined }, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (d) => (b += d)).on('end', () => resolve(b));
      }).on('error', reject);
    });
    assert.equal(JSON.parse(body).headers['x-forwarded-proto'], 'https');
  });

  it('speaks TLS 1.2 and 1.3 only', async () => {
    assert.match((await handshake(tlsPort, 'api.test', { minVersion: 'TLSv1.3' })).protocol ?? '', /TLSv1\.3/);
    assert.equal((await handshake(tlsPort, 'api.test', { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
    await assert.rejects(handshake(tlsPort, 'api.test', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
  });

  it('reloads a replaced certificate without a restart', async () => {
    const before = (await handshake(tlsPort, 'api.test')).serial;
    const fresh = ca.leaf('api-next', ['api.test'], dir);
    copyFileSync(fresh.key, path.join(certDir, 'api.key'));
    copyFileSync(fresh.cert, path.join(certDir, 'api.crt'));
    await waitFor(async () => (await handshake(tlsPort, 'api.test')).serial !== before, { timeoutMs: 5000, what: 'new certificate served' });
  });

  it('redirects plain HTTP to https for redirectHttps routes only', async () => {
    // node:http, not fetch: fetch may not set Host.
    const u = new URL(gw.dataUrls[0]!);
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: u.hostname, port: u.port, path: '/login?next=%2Fcart', headers: { host: 'shop.test' } }, (res) => resolve(res.resume())).on('error', reject);
    });
    assert.equal(r.statusCode, 308);
    assert.equal(r.headers.location, `https://shop.test:${tlsPort}/login?next=%2Fcart`);
    assert.equal((await fetch(`${gw.dataUrls[0]}/other`)).status, 200);
  });

  it('proxies to https:// targets verified with --upstream-ca', async () => {
    const r = await fetch(`${gw.dataUrls[0]}/secure`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'secure upstream');
  });

  it('refuses bad TLS settings with exit 2', () => {
    const bad = [
      ['--tls-listen', '0'],
      ['--tls-listen', '0', '--tls-cert', path.join(certDir, 'api.crt')],
      ['--tls-listen', '0', '--tls-cert-dir', path.join(dir, 'missing')],
      ['--tls-cert-dir', certDir],
      ['--upstream-ca', path.join(dir, 'nope.pem')],
    ];
    for (const args of bad) {
      const r = spawnSync(process.execPath, [CLI, 'start', '--store', `file:${tempDir()}`, ...args], { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--tls|--upstream-ca|TLS/);
    }
  });

  it('serves the admin API over TLS with --admin-tls-cert/--admin-tls-key', async () => {
    const adminCert = ca.leaf('admin', ['localhost', '127.0.0.1']);
    const child = spawn(process.execPath, [CLI, 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--store', `file:${tempDir()}`, '--state-dir', tempDir(), '--admin-tls-cert', adminCert.cert, '--admin-tls-key', adminCert.key], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    try {
      const url = await waitFor(() => /admin listening on (https:\/\/\S+)/.exec(out)?.[1], { timeoutMs: 30000, what: 'admin https line' });
      const status = await new Promise<number>((resolve, reject) => {
        https.get(`${url}/healthz`, { ca: readFileSync(ca.caFile) }, (res) => resolve(res.resume().statusCode!)).on('error', reject);
      });
      assert.equal(status, 200);
      await assert.rejects(fetch(url.replace('https:', 'http:') + '/healthz'), 'plain HTTP is not served on the TLS admin port');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a route with redirectHttps validates as a boolean', async () => {
    const r = await admin(gw, 'PUT', '/routes/x', { id: 'x', match: { path: '/x' }, upstream: 'plain', redirectHttps: 'yes' });
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body.details), /redirectHttps/);
  });
});
