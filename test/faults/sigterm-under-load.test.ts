// Fault injection (issue 8 part 5): SIGTERM while 100 keep-alive connections
// load the gateway (CONTRACT §1: stop accepting, let in-flight requests finish
// up to --grace-ms, exit 0).
//
// Precise bookkeeping instead of totals: the load generator runs in this
// process and records, per request, when it was written to the socket and
// how its response ended; the upstream (also here) records every request it
// received and answered. Asserted:
//  - every request written before the signal completed with 200;
//  - every request the upstream received was answered and reached its client
//    as a complete 200 (nothing cut in the gateway), and the 200s the clients
//    saw are exactly the requests the upstream answered;
//  - once the signal is in, new connections are refused while a held request
//    is still in flight, and that request still completes;
//  - answers to requests that arrive while draining say `Connection: close`
//    (busy keep-alive clients cannot keep the gateway up until the grace ends);
//  - the gateway exits 0 within the grace period.
// Refused or reset requests sent after the signal are expected (counted only).
// Runs with one process and with --workers 2.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { connectRefused, requestOutcome } from '../helpers/faults.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startKeepAliveLoad, type KeepAliveLoad, type LoadRecord } from '../helpers/keepalive-load.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const CONNECTIONS = 100;
const GRACE_MS = 5000;
/** Completed requests before the signal: the load is in full swing. */
const WARM_REQUESTS = 1500;

for (const workers of [1, 2]) {
  describe(`SIGTERM under load (--workers ${workers})`, () => {
    let gw: GatewayProcess | null = null;
    let up: TestUpstream | null = null;
    let load: KeepAliveLoad | null = null;
    /** Per load request id: when the upstream got it and when its answer was written. */
    const received = new Map<number, number>();
    const answered = new Map<number, number>();
    const held: http.ServerResponse[] = [];

    after(async () => {
      for (const r of held.splice(0)) r.end('released');
      await load?.stop();
      await gw?.stop(1000);
      removeDir(gw?.storeDir ?? null);
      await up?.close();
    });

    it('requests sent before the signal all complete with 200; new connections are refused; exit 0 within the grace', async (t) => {
      up = await startUpstream('slowish', (req, res) => {
        if (req.url === '/load/held') return void held.push(res);
        const id = Number(req.url!.slice('/load/'.length));
        received.set(id, performance.now());
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
          res.end('ok', () => answered.set(id, performance.now()));
        }, 20 + Math.random() * 30);
      });
      gw = await startGateway({ args: ['--grace-ms', String(GRACE_MS), '--workers', String(workers)], timeoutMs: 20_000 });
      await putUpstream(gw, 'slowish', [up.url]);
      const rev = (await putRoute(gw, 'load', { path: '/load' }, 'slowish')).body.revision as number;
      const base = gw.dataUrls[0]!;
      // Every process has the route: with workers the scrape reports the revision of the one furthest behind.
      await waitFor(async () => (metricValue(await scrape(gw!), 'switchyard_config_revision') ?? 0) >= rev, { timeoutMs: 5000, what: `every process at revision ${rev}` });
      await waitFor(async () => {
        const rs = await Promise.all(Array.from({ length: 8 }, () => requestOutcome(`${base}/load/-1`, { timeoutMs: 2000 })));
        return rs.every((r) => r.status === 200 && r.complete);
      }, { timeoutMs: 5000, what: 'the route served by every process' });
      received.clear();
      answered.clear();

      const exited = new Promise<{ code: number | null; at: number }>((resolve) => gw!.child.once('exit', (code) => resolve({ code, at: performance.now() })));
      load = startKeepAliveLoad(base, { connections: CONNECTIONS, path: '/load' });
      // One more request that the upstream holds until the test releases it: in flight across the signal.
      const heldReq = requestOutcome(`${base}/load/held`, { timeoutMs: GRACE_MS + 5000 });
      await waitFor(() => held.length === 1 && load!.ok >= WARM_REQUESTS, { timeoutMs: 20_000, what: `${WARM_REQUESTS} requests done and the held one at the upstream` }).catch(async (err: Error) => {
        const failed = load!.records.filter((r) => r.error).slice(0, 5);
        const settled = await Promise.race([heldReq, new Promise((r) => setTimeout(r, 10, 'still pending'))]);
        throw new Error(`${err.message} (done: ${load!.ok}, held: ${held.length}, records: ${load!.records.length}, failures: ${JSON.stringify(failed)}, held request: ${JSON.stringify(settled)}); gateway output:\n${gw!.output().slice(-3000)}`);
      });

      const tSig = performance.now();
      gw.child.kill('SIGTERM');

      // New connections are refused while the held request is still in flight.
      await waitFor(() => connectRefused(base), { timeoutMs: 3000, intervalMs: 10, what: 'the listener to refuse new connections' });
      const refusedAt = performance.now();
      assert.equal(gw.child.exitCode, null, 'the gateway is still draining (the held request is in flight)');
      assert.equal(await connectRefused(base), true, 'still refused');
      // Let the load run into the closed listener a little, then release the held request.
      await waitFor(() => load!.records.some((r) => r.sentAt > refusedAt || (Number.isNaN(r.sentAt) && r.doneAt > refusedAt)), { timeoutMs: 3000, what: 'the load to hit the closing gateway' });
      for (const r of held.splice(0)) r.end('released');
      const heldOut = await heldReq;
      assert.deepEqual([heldOut.status, heldOut.complete, heldOut.body], [200, true, 'released'], `the request in flight across the signal completed: ${JSON.stringify(heldOut)}; gateway output:\n${gw.output().slice(-3000)}`);

      const exit = await exited;
      await load.stop();
      const exitMs = exit.at - tSig;
      assert.equal(exit.code, 0, `exit code; output:\n${gw.output().slice(-2000)}`);
      assert.ok(exitMs < GRACE_MS, `exited ${Math.round(exitMs)} ms after SIGTERM (grace ${GRACE_MS} ms)`);

      const recs = load.records;
      const sentBefore = recs.filter((r) => r.sentAt < tSig);
      const bad = (rs: LoadRecord[]) => rs.filter((r) => !(r.status === 200 && r.complete));
      const after = recs.filter((r) => !(r.sentAt < tSig));
      const afterOk = after.filter((r) => r.status === 200 && r.complete).length;
      const errs = new Map<string, number>();
      for (const r of bad(after)) errs.set(String(r.error ?? r.status), (errs.get(String(r.error ?? r.status)) ?? 0) + 1);
      t.diagnostic(
        `workers ${workers}: ${sentBefore.length} requests sent before SIGTERM, ${bad(sentBefore).length} failed; ` +
          `${after.length} after (${afterOk} answered 200, failures ${JSON.stringify(Object.fromEntries(errs))}); ` +
          `listener refused ${Math.round(refusedAt - tSig)} ms after the signal, exit after ${Math.round(exitMs)} ms`,
      );
      assert.ok(sentBefore.length >= WARM_REQUESTS, `only ${sentBefore.length} requests before the signal`);
      assert.deepEqual(
        bad(sentBefore).slice(0, 10).map((r) => ({ ...r, sentAt: Math.round(r.sentAt - tSig), doneAt: Math.round(r.doneAt - tSig) })),
        [],
        `requests sent before SIGTERM that did not complete with 200 (times relative to the signal): ${bad(sentBefore).length}`,
      );

      // Draining: once the listener is closed, every answer tells its client to close the connection,
      // so a client that keeps its keep-alive connection busy cannot hold the shutdown until the grace ends.
      const keptAlive = recs.filter((r) => r.sentAt > refusedAt && r.status !== 0 && !r.closes);
      assert.deepEqual(keptAlive.slice(0, 5), [], `${keptAlive.length} answers to requests sent after the listener closed without Connection: close`);

      // Upstream side: everything it received it answered, and every answer reached its client whole.
      const unanswered = [...received.keys()].filter((id) => !answered.has(id));
      assert.deepEqual(unanswered, [], 'requests the upstream received but did not answer');
      const byId = new Map(recs.map((r) => [r.id, r]));
      const lost = [...answered.keys()].filter((id) => { const r = byId.get(id); return !r || r.status !== 200 || !r.complete; });
      assert.deepEqual(lost.map((id) => byId.get(id)), [], 'answered by the upstream but not delivered to the client as a complete 200');
      assert.equal(recs.filter((r) => r.status === 200 && r.complete).length, answered.size, 'client 200s = upstream answers');
    });
  });
}
