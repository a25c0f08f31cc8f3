// The operator of the flip scenario, in its own process so the load
// generator's event loop never waits on it (a flip issued from the load
// generator showed up as a dip of the load generator, not of the gateway).
// Prints `flipper ready`, waits for SIGUSR1 (the load started), then at each
// offset POSTs /upstreams/<upstream>/flip and polls GET <data>/ until the
// new pool answers (x-upstream header); one JSON line per flip, times in
// seconds since the signal. Exits after the last flip.
//   node dist/bench/flipper.js --admin URL --data URL --upstream shop --flips 3000:green,6000:blue
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { httpRequest, servedBy } from './lib/http.js';

const { values } = parseArgs({
  options: { admin: { type: 'string' }, data: { type: 'string' }, upstream: { type: 'string', default: 'shop' }, flips: { type: 'string' } },
});
if (!values.admin || !values.data || !values.flips) {
  process.stderr.write('flipper: --admin, --data and --flips are required\n');
  process.exit(2);
}
const plan = values.flips.split(',').map((s) => {
  const [ms, to] = s.split(':');
  return { atMs: Number(ms), to: to! };
});

// A pending signal keeps nothing alive: a timer holds the loop open until it comes.
const hold = setInterval(() => {}, 60_000);
const started = new Promise<number>((resolve) =>
  process.once('SIGUSR1', () => {
    clearInterval(hold);
    resolve(performance.now());
  }),
);
process.stdout.write('flipper ready\n');
const t0 = await started;
const since = () => (performance.now() - t0) / 1000;
for (const { atMs, to } of plan) {
  const wait = atMs - (performance.now() - t0);
  if (wait > 0) await sleep(wait);
  const sentS = since();
  const res = await httpRequest(`${values.admin}/upstreams/${values.upstream}/flip`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to }),
    timeoutMs: 10_000,
  }).catch((err: Error) => ({ status: 0, error: err.message }));
  const ackS = since();
  const ok = res.status === 200 && (await servedBy(`${values.data}/`, to, 5000));
  process.stdout.write(`${JSON.stringify({ to, sentS, ackS, status: res.status, servedS: ok ? since() : null })}\n`);
}
