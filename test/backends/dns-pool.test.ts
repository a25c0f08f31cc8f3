// `dns` pools (CONTRACT §2; issue 6 part 2), against a real DNS server on
// loopback (dns2) that the gateway's node:dns Resolver asks through
// SWITCHYARD_DNS_SERVERS. Backends are HTTP servers on one port of several
// loopback addresses (127.0.0.2, .3, .4), as pods behind a headless Service.
//   - The A records change: traffic moves to the new set within refreshMs + 1 s,
//     and no request fails meanwhile (load running through the swap).
//   - The DNS server stops: resolution fails, the status says so, and the last
//     good set keeps serving.
//   - Without `port`, the SRV records give hosts and ports.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import dns2 from 'dns2';
import { runAutocannon } from '../helpers/autocannon.js';
import { poolStatus } from '../helpers/backend-app.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const { Packet } = dns2;
const REFRESH_MS = 500;
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** One HTTP server per loopback address, all on the same port; each answers with its address. */
async function startBackends(): Promise<{ port: number; servers: http.Server[] }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const servers = HOSTS.map((h) => {
      const s = http.createServer((req, res) => {
        req.resume();
        res.end(h);
      });
      s.keepAliveTimeout = 30000;
      return s;
    });
    try {
      const port = await listen(servers[0]!, 0, HOSTS[0]!);
      for (let i = 1; i < HOSTS.length; i++) await listen(servers[i]!, port, HOSTS[i]!);
      return { port, servers };
    } catch {
      for (const s of servers) s.close();
    }
  }
  throw new Error('no port free on every loopback address');
}

describe('a dns pool', () => {
  let gw: GatewayProcess;
  let backends: { port: number; servers: http.Server[] };
  let dnsServer: ReturnType<typeof dns2.createServer>;
  let dnsOpen = false;
  let a = ['127.0.0.2', '127.0.0.3'];

  before(async () => {
    backends = await startBackends();
    dnsServer = dns2.createServer({
      udp: true,
      handle: (req, send) => {
        const res = Packet.createResponseFromRequest(req);
        const q = req.questions[0]!;
        if (q.type === Packet.TYPE.A && q.name === 'svc.test') {
          for (const address of a) res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 1, address } as never);
        }
        if (q.type === Packet.TYPE.A && q.name === 'four.test') {
          res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 1, address: '127.0.0.4' } as never);
        }
        if (q.type === Packet.TYPE.SRV && q.name === '_http._tcp.four.test') {
          res.answers.push({ name: q.name, type: Packet.TYPE.SRV, class: Packet.CLASS.IN, ttl: 1, priority: 0, weight: 10, port: backends.port, target: 'four.test' } as never);
        }
        void send(res);
      },
    });
    const addr = await dnsServer.listen({ udp: { port: 0, address: '127.0.0.1' } });
    dnsOpen = true;
    gw = await startGateway({ env: { SWITCHYARD_DNS_SERVERS: `127.0.0.1:${addr.udp!.port}` } });
    const r = await admin(gw, 'PUT', '/upstreams/svc', {
      name: 'svc',
      pools: { pods: { dns: { name: 'svc.test', port: backends.port, refreshMs: REFRESH_MS } } },
      weights: { pods: 100 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'svc', { path: '/' }, 'svc');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    if (dnsOpen) await dnsServer.close(); // dns2 throws on a second close
    for (const s of backends?.servers ?? []) {
      s.closeAllConnections();
      s.close();
    }
  });

  /** Which backends answer a burst of requests. */
  const answering = async (path = '/'): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await (await fetch(gw.dataUrls[0] + path)).text());
    return seen;
  };
  const same = (s: Set<string>, want: string[]) => s.size === want.length && want.every((w) => s.has(w));

  it('uses SRV records (hosts and ports) when no port is given', async () => {
    const r = await admin(gw, 'PUT', '/upstreams/srv', { name: 'srv', pools: { pods: { dns: { name: '_http._tcp.four.test', refreshMs: REFRESH_MS } } }, weights: { pods: 100 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'srv', { path: '/srv' }, 'srv');
    await waitFor(async () => same(await answering('/srv'), ['127.0.0.4']), { timeoutMs: 5000, what: 'the SRV target serving' });
    const st = await poolStatus(gw, 'srv', 'pods');
    assert.deepEqual(st.targets.map((t: { target: string }) => t.target), [`http://127.0.0.4:${backends.port}`]);
    assert.equal(st.source.state, 'ok');
  });

  it('follows record changes within refreshMs + 1 s without failing a request, and keeps the last good set when DNS is down', async () => {
    await waitFor(async () => same(await answering(), ['127.0.0.2', '127.0.0.3']), { timeoutMs: 5000, what: 'both first records serving' });

    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '4', '-d', '3']);
    try {
      const changedAt = Date.now();
      a = ['127.0.0.4'];
      await waitFor(async () => {
        const st = await poolStatus(gw, 'svc', 'pods');
        return st.total === 1 && st.targets[0].target === `http://127.0.0.4:${backends.port}`;
      }, { timeoutMs: REFRESH_MS + 1000, intervalMs: 10, what: 'the new record in the pool' });
      await waitFor(async () => same(await answering(), ['127.0.0.4']), { timeoutMs: Math.max(100, changedAt + REFRESH_MS + 1000 - Date.now()), intervalMs: 10, what: 'traffic on the new target only' });
      console.log(`traffic moved ${Date.now() - changedAt} ms after the records changed (refreshMs ${REFRESH_MS})`);
      const result = await load.done;
      assert.equal(result.errors, 0, 'client errors');
      assert.equal(result.non2xx, 0, 'non-2xx answers');
      assert.ok(result.requests.total > 100, `load ran: ${result.requests.total}`);
    } finally {
      load.kill();
    }

    dnsOpen = false;
    await dnsServer.close();
    const st = await waitFor(async () => {
      const s = await poolStatus(gw, 'svc', 'pods');
      return s.source.state === 'failing' ? s : null;
    }, { timeoutMs: REFRESH_MS * 2 + 3000, what: 'the failure reported' });
    assert.match(st.source.error, /svc\.test/);
    assert.ok(st.source.lastResolvedAt, 'the last success is shown');
    assert.equal(st.total, 1, 'the last good set is kept');
    assert.ok(same(await answering(), ['127.0.0.4']), 'the last good set keeps serving');
    assert.match(gw.output(), /resolution failed; the last good set keeps serving/);
  });

});
