// A target SIGKILLed under load (CONTRACT §2 Upstream: "a target is used only
// while healthy"; slowStartMs): GETs see no failure (retried on the healthy
// target), the dead one is marked unhealthy within unhealthy x intervalMs
// (+ 200 ms and the scheduling delay measured meanwhile, for timer jitter and
// the status poll on a loaded 2-core machine), and once restarted it returns only after `healthy` passing checks, its share
// then ramping linearly over slowStartMs.
//
// "Within 15 % of the line": for every 1 s window of the ramp and the one
// after it, the restarted target's share of the requests (its count / both
// targets' counts) must be within 15 % (relative) of the line, plus two
// requests of slack for the discreteness of round-robin. The line is f/(1+f)
// with f = elapsed / slowStartMs (the split smooth weighted round-robin gives
// for weights f and 1), averaged over the moments the window's requests actually arrived: on a loaded machine the
// load stalls and bursts, and a plain time average would count that as error.
// Requests are counted and timed at the targets themselves (both processes
// share the machine clock), from the start of the ramp: the gateway starts it
// when it handles the passing check, which the test cannot see, so it is
// fitted between that check's arrival and the first request's arrival.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startTargetProcess, stopAllTargets, type TargetProcess } from '../helpers/target-process.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = { path: '/healthz', intervalMs: 200, timeoutMs: 200, healthy: 2, unhealthy: 2 };
const SLOW_START_MS = 3000;
/** Slack on top of unhealthy x intervalMs for timer jitter and the status poll (plus the scheduling delay measured during the wait). */
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
    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '16', '-R', '1000', '-d', '10']);
    try {
      await at(1000);
      // Scheduling delay on this machine while we wait (a 10 ms timer's worst lateness), added to the bound.
      let lag = 0;
      let tick = performance.now();
      const lagMeter = setInterval(() => {
        const now = performance.now();
        lag = Math.max(lag, now - tick - 10);
        tick = now;
      }, 10);
      const killedAt = Date.now();
      await a.kill9();
      await waitFor(async () => (await targetState(a.url)) === 'unhealthy', { intervalMs: 10, timeoutMs: 3000, what: 'the killed target marked unhealthy' }).finally(() => clearInterval(lagMeter));
      const detectMs = Date.now() - killedAt;
      const bound = HEALTH.unhealthy * HEALTH.intervalMs + DETECT_SLACK_MS + Math.round(lag);
      assert.ok(detectMs <= bound, `marked unhealthy after ${detectMs} ms (bound ${bound} ms = unhealthy x intervalMs + ${DETECT_SLACK_MS} ms + ${Math.round(lag)} ms measured scheduling delay)`);

      await at(2000);
      const restartedAt = Date.now();
      a = await startTargetProcess('a', a.port);
      await waitFor(async () => (await targetState(a.url)) === 'healthy', { timeoutMs: 4000, what: 'the restarted target healthy again' });
      const log = await a.log();
      assert.ok(log.hz.length >= HEALTH.healthy, `${log.hz.length} checks`);
      const readyAt = log.hz[HEALTH.healthy - 1]!;
      const rampEnd = readyAt + SLOW_START_MS + 1000;
      assert.ok(rampEnd < t0 + 9000, `the ramp and the window after it (until ${rampEnd - t0} ms) must end 1 s before the 10 s load does; the restart took ${readyAt - restartedAt} ms to pass ${HEALTH.healthy} checks`);

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

      // The ramp starts when the gateway handles that check's answer: after
      // readyAt, and before the first request reached the target. On a loaded
      // machine that can be hundreds of ms later, so the start is fitted in
      // that interval (5 ms steps), then every window must be on the line.
      const firstHit = la.hits[0]!;
      const judge = (start: number) => {
        const rows: string[] = [];
        let worst = 0;
        for (let k = 0; k * 1000 < SLOW_START_MS + 1000; k++) {
          const from = start + k * 1000;
          const to = from + 1000;
          const inA = la.hits.filter((t) => t >= from && t < to);
          const inB = lb.hits.filter((t) => t >= from && t < to);
          const n = inA.length + inB.length;
          const share = inA.length / Math.max(1, n);
          let want = 0;
          for (const t of inA) want += lineShare(t - start, SLOW_START_MS);
          for (const t of inB) want += lineShare(t - start, SLOW_START_MS);
          want /= Math.max(1, n);
          const allowed = SHARE_TOLERANCE * want + 2 / Math.max(1, n);
          worst = Math.max(worst, n < 100 ? Infinity : Math.abs(share - want) / allowed);
          rows.push(`window ${k}: ${inA.length}/${n} = ${share.toFixed(3)}, line ${want.toFixed(3)}, error ${(share - want).toFixed(3)}${n < 100 ? ' (too few requests: the load stalled)' : ''}`);
        }
        return { start, rows, worst };
      };
      let best = judge(readyAt);
      for (let s = readyAt + 5; s <= firstHit; s += 5) {
        const j = judge(s);
        if (j.worst < best.worst) best = j;
      }
      const report = `ramp start fitted ${best.start - readyAt} ms after the check (first request ${firstHit - readyAt} ms after it)\n${best.rows.join('\n')}`;
      console.log(`detect ${detectMs} ms; back ${readyAt - restartedAt} ms after restart; ${report}`);
      assert.ok(best.worst <= 1, `share off the slow-start line by more than ${SHARE_TOLERANCE * 100} % (+ 2 requests):\n${report}`);
    } finally {
      load.kill();
    }
  });
});
