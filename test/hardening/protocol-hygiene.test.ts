// Issue 8 part 3, protocol hygiene: every bullet over a raw socket (a client
// library would sanitise the request). What Node's parser (llhttp) already
// refuses is tested here too, so a Node upgrade that relaxes it shows up.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts a JSON error answer with this status and code, and that the gateway closed the connection. */
function assertRefused(r: RawResponse, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.text)}`);
  assert.equal(JSON.parse(r.body).error, code, `${what}: ${r.body}`);
  assert.ok(r.closedByServer, `${what}: connection left open`);
}

describe('protocol hygiene (raw sockets)', () => {
  let echo: TestUpstream;
  let odd: net.Server;
  let oddPort = 0;
  /** No --trust-proxy naming 127.0.0.1 (it trusts 10.0.0.0/8 and fd00::/8 only). */
  let gw: GatewayProcess;
  /** --trust-proxy 127.0.0.1 */
  let trusting: GatewayProcess;
  let url: string;

  before(async () => {
    echo = await startUpstream('echo', (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => {
        const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes: n });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    // An upstream that answers with what no HTTP parser should accept.
    odd = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        const path = /^[A-Z]+ (\S+)/.exec(d.toString('latin1'))?.[1];
        const answers: Record<string, string> = {
          '/odd/cr': 'HTTP/1.1 200 OK\r\nx-a: a\rSet-Cookie: evil=1\r\ncontent-length: 2\r\n\r\nok',
          '/odd/ctl': 'HTTP/1.1 200 OK\r\nx-a: a\x01b\r\ncontent-length: 2\r\n\r\nok',
          '/odd/status': 'HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\nok',
          '/odd/garbage': 'HELLO\r\n\r\n',
        };
        s.end(Buffer.from(answers[path ?? ''] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', 'latin1'));
      });
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    oddPort = (odd.address() as net.AddressInfo).port;

    [gw, trusting] = await Promise.all([
      startGateway({ args: ['--trust-proxy', '10.0.0.0/8,fd00::/8'], timeoutMs: 30_000 }),
      startGateway({ args: ['--trust-proxy', '127.0.0.1'], timeoutMs: 30_000 }),
    ]);
    for (const g of [gw, trusting]) {
      await putUpstream(g, 'echo', [echo.url]);
      await putUpstream(g, 'odd', [`http://127.0.0.1:${oddPort}`]);
      await putRoute(g, 'echo', { path: '/echo' }, 'echo');
      await putRoute(g, 'small', { path: '/small' }, 'echo', { maxBodyBytes: 10 });
      await putRoute(g, 'odd', { path: '/odd' }, 'odd', { retries: 0 });
    }
    url = gw.dataUrls[0]!;
  });

  after(async () => {
    await Promise.all([gw?.stop(), trusting?.stop()]);
    await echo?.close();
    await new Promise((r) => odd?.close(r));
  });

  /** Sends a raw request that must be refused with 400, and checks the upstream never saw it. */
  async function refused(request: string, what: string, status = 400, code = 'bad_request'): Promise<void> {
    const before = echo.count;
    const r = await rawRequest(url, request);
    assertRefused(r, status, code, what);
    assert.equal(echo.count, before, `${what}: the upstream saw the request`);
  }

  /** A raw request that must be forwarded: returns what the upstream received. */
  async function forwarded(target: string, request: string): Promise<{ headers: Record<string, string>; bytes: number; url: string }> {
    const r = await rawRequest(target, request);
    assert.equal(r.status, 200, JSON.stringify(r.text));
    return JSON.parse(Buffer.from(r.body, 'latin1').toString('utf8'));
  }

  it('rejects Content-Length together with Transfer-Encoding (llhttp)', async () => {
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'CL then TE');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'TE then CL');
  });

  it('rejects duplicate Content-Length, conflicting or not, and malformed ones (llhttp)', async () => {
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 'conflicting');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 'equal duplicates');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc', 'a list');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 'negative');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc', 'signed');
  });

  it('rejects a Transfer-Encoding other than exactly chunked', async () => {
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'gzip, chunked (gateway)');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc', 'gzip alone (llhttp)');
    await refused('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'twice (llhttp)');
    const ok = await forwarded(url, 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.equal(ok.bytes, 3);
  });

  it('rejects invalid header names (llhttp)', async () => {
    for (const [what, line] of [
      ['space inside', 'Bad Name: x'],
      ['space before the colon', 'X-A : x'],
      ['parenthesis', 'X(a): x'],
      ['non-ASCII byte', 'X-\xe9: x'],
      ['empty name', ': x'],
    ]) {
      await refused(`GET /echo HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`, `header name: ${what}`);
    }
  });

  it('rejects invalid header values: NUL, control characters, DEL, bare CR or LF, obs-fold (llhttp)', async () => {
    for (const [what, line] of [
      ['NUL', 'X-A: a\x00b'],
      ['\\x01', 'X-A: a\x01b'],
      ['\\x1f', 'X-A: a\x1fb'],
      ['DEL', 'X-A: a\x7fb'],
      ['bare CR (header injection)', 'X-A: a\rX-Injected: 1'],
      ['bare LF (header injection)', 'X-A: a\nX-Injected: 1'],
      ['obs-fold', 'X-A: a\r\n folded'],
    ]) {
      await refused(`GET /echo HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`, `header value: ${what}`);
    }
    // obs-text (bytes 0x80-0xff) is legal and passes unchanged (undici would refuse other non-latin1).
    const ok = await forwarded(url, 'GET /echo HTTP/1.1\r\nHost: a\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n');
    assert.equal(ok.headers['x-latin'], 'caf\u00e9');
  });

  it('HTTP/1.1 without Host is a 400 JSON error; HTTP/1.0 without Host is served', async () => {
    await refused('GET /echo HTTP/1.1\r\n\r\n', 'no Host on 1.1');
    const ok = await forwarded(url, 'GET /echo HTTP/1.0\r\n\r\n');
    assert.equal(ok.url, '/echo');
  });

  it('rejects an empty, repeated or malformed Host', async () => {
    for (const [what, lines] of [
      ['empty', 'Host:'],
      ['two Host headers', 'Host: a\r\nHost: b'],
      ['two equal Host headers', 'Host: a\r\nHost: a'],
      ['space', 'Host: a b'],
      ['userinfo', 'Host: user@a'],
      ['slash', 'Host: a/b'],
      ['quote', 'Host: a"b'],
      ['backslash', 'Host: a\\b'],
      ['bad port', 'Host: a:xx'],
      ['too long a port', 'Host: a:123456'],
      ['empty port', 'Host: a:'],
      ['port only', 'Host: :80'],
      ['unclosed IPv6 literal', 'Host: [::1'],
      ['junk after an IPv6 literal', 'Host: [::1]x'],
      ['non-ASCII', 'Host: caf\xe9.example'],
    ]) {
      await refused(`GET /echo HTTP/1.1\r\n${lines}\r\n\r\n`, `Host: ${what}`);
    }
    for (const host of ['a.example.com:8080', 'A.Example.COM', '[::1]:80', '127.0.0.1', 'xn--caf-dma.example', 'under_score.local']) {
      const ok = await forwarded(url, `GET /echo HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(ok.headers.host, host);
    }
  });

  it('rejects HTTP versions other than 1.x, and targets that are not origin-form paths', async () => {
    await refused('GET /echo HTTP/2.0\r\nHost: a\r\n\r\n', 'HTTP/2.0 request line (gateway)');
    await refused('GET /echo HTTP/1.2\r\nHost: a\r\n\r\n', 'HTTP/1.2 (llhttp)');
    await refused('GET http://evil.example/echo HTTP/1.1\r\nHost: a\r\n\r\n', 'absolute-form (gateway)');
    await refused('GET /echo/../../x HTTP/1.1\r\nHost: a\r\n\r\n', 'climbs above / (gateway)');
    await refused('GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', 'control character in the target (llhttp)');
  });

  it('never forwards TE except "TE: trailers"', async () => {
    const send = (te: string) => forwarded(url, `GET /echo HTTP/1.1\r\nHost: a\r\n${te}Connection: close\r\n\r\n`);
    assert.equal((await send('TE: trailers\r\n')).headers.te, 'trailers');
    assert.equal((await send('TE: Trailers\r\n')).headers.te, 'trailers');
    assert.equal((await send('TE: gzip\r\n')).headers.te, undefined);
    assert.equal((await send('TE: trailers, deflate;q=0.5\r\n')).headers.te, undefined);
    assert.equal((await send('TE: chunked\r\n')).headers.te, undefined);
    // Other hop-by-hop fields do not get through either.
    const h = (await send('Keep-Alive: timeout=99\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTrailer: x\r\n')).headers;
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-connection'], undefined);
    assert.equal(h.upgrade, undefined);
    assert.equal(h.trailer, undefined);
  });

  it('answers Expect: 100-continue itself (after routing), never forwards it', async () => {
    const r = await rawRequest(url, ['POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 'hello'], { pauseMs: 300 });
    assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body);
    assert.equal(seen.headers.expect, undefined);
    assert.equal(seen.bytes, 5);
    // Too large for the route: 413 straight away, no 100, the body is never asked for.
    const before = echo.count;
    const big = await rawRequest(url, 'POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
    assert.doesNotMatch(big.text, /100 Continue/);
    assertRefused(big, 413, 'payload_too_large', 'expect + too large');
    assert.equal(echo.count, before);
  });

  it('x-request-id: a valid one is kept and echoed; anything else is replaced, never echoed', async () => {
    const good = 'req-123_ABC.~:/=';
    const kept = await rawRequest(url, `GET /nowhere HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${good}\r\nConnection: close\r\n\r\n`);
    assert.equal(kept.status, 404);
    assert.equal(kept.headers['x-request-id'], good);
    assert.equal(JSON.parse(kept.body).requestId, good);
    assert.equal((await forwarded(url, `GET /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${good}\r\nConnection: close\r\n\r\n`)).headers['x-request-id'], good);

    for (const [what, id] of [
      ['a space', 'two words'],
      ['201 characters', 'x'.repeat(201)],
      ['non-ASCII', 'caf\xe9'],
      ['a tab', 'a\tb'],
      ['JSON breaking', '"},"error":"x'],
    ] as const) {
      const r = await rawRequest(url, `GET /nowhere HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 404, what);
      const body = JSON.parse(r.body);
      if (what === 'JSON breaking') {
        // Printable ASCII is kept, but only ever as a JSON string: the body parses and says no_route.
        assert.equal(body.error, 'no_route');
        assert.equal(body.requestId, id);
        continue;
      }
      assert.match(r.headers['x-request-id']!, UUID, `${what}: ${r.headers['x-request-id']}`);
      assert.equal(body.requestId, r.headers['x-request-id'], what);
      const up = await forwarded(url, `GET /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
      assert.match(up.headers['x-request-id']!, UUID, `${what}: upstream got ${up.headers['x-request-id']}`);
    }
    // A response-splitting attempt: a CR inside the value is refused by the parser, nothing is echoed.
    const split = await rawRequest(url, 'GET /nowhere HTTP/1.1\r\nHost: a\r\nX-Request-Id: a\rSet-Cookie: evil=1\r\n\r\n');
    assert.equal(split.status, 400);
    assert.doesNotMatch(split.text, /set-cookie/i);
  });

  it('upstream responses that could split a response, or are not HTTP, give 502 and no crash', async () => {
    for (const path of ['/odd/cr', '/odd/ctl', '/odd/status', '/odd/garbage']) {
      const r = await rawRequest(url, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 502, `${path}: ${JSON.stringify(r.text)}`);
      assert.doesNotMatch(r.text, /set-cookie|evil/i, path);
    }
    assert.equal((await admin(gw, 'GET', '/healthz')).status, 200);
    assert.equal(gw.child.exitCode, null);
  });

  it('x-forwarded-* and forwarded from a peer not in --trust-proxy are dropped and start fresh', async () => {
    const h = (
      await forwarded(
        url,
        'GET /echo HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nForwarded: for=6.6.6.6;proto=https\r\n' +
          'X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n',
      )
    ).headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h.forwarded, 'for=127.0.0.1;host="shop.example";proto=http');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'shop.example');
  });

  it('x-forwarded-* and forwarded from a trusted peer (--trust-proxy 127.0.0.1) are kept and appended to', async () => {
    const h = (
      await forwarded(
        trusting.dataUrls[0]!,
        'GET /echo HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=https\r\n' +
          'X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\nConnection: close\r\n\r\n',
      )
    ).headers;
    assert.equal(h['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
    assert.equal(h.forwarded, 'for=6.6.6.6;proto=https, for=127.0.0.1;host="shop.example";proto=http');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'public.example');
    // Without client values, a trusted peer gets the same fresh ones as anybody.
    const fresh = (await forwarded(trusting.dataUrls[0]!, 'GET /echo HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')).headers;
    assert.equal(fresh['x-forwarded-for'], '127.0.0.1');
    assert.equal(fresh['x-forwarded-proto'], 'http');
    assert.equal(fresh['x-forwarded-host'], 'shop.example');
  });

  it('every refusal above left the gateways serving', async () => {
    for (const g of [gw, trusting]) {
      const r = await rawRequest(g.dataUrls[0]!, 'GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.equal(r.status, 200);
      assert.equal(g.child.exitCode, null);
    }
  });
});
