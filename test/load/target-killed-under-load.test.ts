// A target SIGKILLed under load (CONTRACT §2 Upstream: "a target is used only
// while healthy"; slowStartMs): GETs see no failure (retried on the healthy
// target), the dead one is marked unhealthy within unhealthy x intervalMs,
// and once restarted it returns only after `healthy` passing checks, its share
// then ramping linearly over slowStartMs.
//
// "Within 15 % of the line": for every 1 s window of the ramp and the one
// after it, the restarted target's share of the requests (its count / both
// targets' counts) must be within 15 % (relative) of the line, plus two
// requests of slack for the discreteness of round-robin. The line is f/(1+f) with f = elapsed / slowStartMs (the
// split smooth weighted round-robin gives for weights f and 1), averaged over
// the moments the window's requests actually arrived: on a loaded machine the
// load stalls and bursts, and a plain time average would count that as error.
// Requests are counted and timed at the targets themselves, from the passing
// check that put it back (both processes share the machine clock).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startTargetProcess, stopAllTargets, type TargetProcess } from '../helpers/target-process.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = { path: '/healthz', intervalMs: 200, timeoutMs: 200, healthy: 2, unhealthy: 2 };
const SLOW_START_MS = 4000;
/** Slack on top of unhealthy x intervalMs for timer jitter and the status poll on a loaded 2-core machine. */
const DETECT_SLACK_MS = 200;
/** Allowed relative error of a window's share against the line. */
const SHARE_TOLERANCE = 0.15;

/** The restarted target's share of two equal targets `ms` into a linear slow start of `rampMs`: f/(1+f), f = elapsed / rampMs. */
function lineShare(ms: number, rampMs: number): number {
  const f = Math.min(1, Math.max(0, ms / rampMs));
  return f / (1 + f);
}

describe('a target SIGKILLed under load', () => {
  let gw: GatewayProcess;
  let a: TargetProcess;
  let b: TargetProcess;

  const targetState = async (url: string): Promise<string> => {
    const st = await admin(gw, 'GET', '/upstreams/svc/status');
    return st.body.nodes[0].pools.main.targets.find((t: { target: string }) => t.target === url).state;
  };

  before(async () => {
    [a, b] = await Promise.all([startTargetProcess('a'), startTargetProcess('b')]);
    gw = await startGateway();
    // Slow start is switched on once both are healthy, so their first ramp does not delay the test.
    await putUpstream(gw, 'svc', [a.url, b.url], { healthCheck: HEALTH });
    await putRoute(gw, 'svc', { path: '/' }, 'svc', { retries: 1 });
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/svc/status')).body.nodes[0].pools.main.healthy === 2, { what: 'both targets healthy' });
    await putUpstream(gw, 'svc', [a.url, b.url], { healthCheck: HEALTH, slowStartMs: SLOW_START_MS });
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await stopAllTargets();
  });

  it('no GET fails, the dead target is marked unhealthy in time, and comes back ramped', async () => {
    const t0 = Date.now();
    const at = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - Date.now())));
    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '16', '-R', '1000', '-d', '9']);
    try {
      await at(1000);
      const killedAt = Date.now();
      await a.kill9();
      await waitFor(async () => (await targetState(a.url)) === 'unhealthy', { intervalMs: 10, timeoutMs: 3000, what: 'the killed target marked unhealthy' });
      const detectMs = Date.now() - killedAt;
      const bound = HEALTH.unhealthy * HEALTH.intervalMs + DETECT_SLACK_MS;
      assert.ok(detectMs <= bound, `marked unhealthy after ${detectMs} ms (bound ${bound} ms = unhealthy x intervalMs + ${DETECT_SLACK_MS} ms slack)`);

      await at(2000);
      const restartedAt = Date.now();
      a = await startTargetProcess('a', a.port);
      await waitFor(async () => (await targetState(a.url)) === 'healthy', { timeoutMs: 3000, what: 'the restarted target healthy again' });
      const log = await a.log();
      assert.ok(log.hz.length >= HEALTH.healthy, `${log.hz.length} checks`);
      const readyAt = log.hz[HEALTH.healthy - 1]!;
      assert.ok(readyAt - restartedAt < HEALTH.healthy * HEALTH.intervalMs + 1000, `back ${readyAt - restartedAt} ms after the restart`);
      const rampEnd = readyAt + SLOW_START_MS + 1000;
      assert.ok(rampEnd < t0 + 8800, `the ramp (until ${rampEnd - t0} ms) must end inside the 9 s load; the restart took too long`);

      const result = await load.done;
      assert.equal(result.errors, 0, 'client errors');
      assert.equal(result.timeouts, 0, 'client timeouts');
      assert.equal(result.non2xx, 0, 'non-2xx answers');
      assert.ok(result.requests.total > 4500, `load ran: ${result.requests.total} requests`);

      const [la, lb] = await Promise.all([a.log(), b.log()]);
      // Back only after `healthy` passing checks: no request before the check that made it healthy.
      const early = la.hits.filter((t) => t < readyAt);
      assert.deepEqual(early, [], `requests reached the restarted target before its check #${HEALTH.healthy} passed`);
      assert.ok(la.hits.length > 0, 'the restarted target took traffic');

      const rows: string[] = [];
      const bad: string[] = [];
      for (let k = 0; k * 1000 < SLOW_START_MS + 1000; k++) {
        const from = readyAt + k * 1000;
        const to = from + 1000;
        const inA = la.hits.filter((t) => t >= from && t < to);
        const inB = lb.hits.filter((t) => t >= from && t < to);
        const na = inA.length;
        const nb = inB.length;
        const share = na / Math.max(1, na + nb);
        let want = 0;
        for (const t of [...inA, ...inB]) want += lineShare(t - readyAt, SLOW_START_MS);
        want /= Math.max(1, na + nb);
        const row = `window ${k}: ${na}/${na + nb} = ${share.toFixed(3)}, line ${want.toFixed(3)}, error ${(share - want).toFixed(3)}`;
        rows.push(row);
        if (na + nb < 100) bad.push(`${row} (too few requests: the load stalled)`);
        else if (Math.abs(share - want) > SHARE_TOLERANCE * want + 2 / (na + nb)) bad.push(row);
      }
      console.log(`detect ${detectMs} ms; back ${readyAt - restartedAt} ms after restart; first hit ${la.hits[0]! - readyAt} ms after it\n${rows.join('\n')}`);
      assert.deepEqual(bad, [], `share off the slow-start line by more than ${SHARE_TOLERANCE * 100} %:\n${rows.join('\n')}`);
    } finally {
      load.kill();
    }
  });
});
