// (g) `--workers 1` vs `--workers 2`: small GET, Switchyard only. CPU per
// request is summed over every process of the gateway (the primary and its
// live descendants, read from /proc at the end of each window; the process
// count is in the JSON and the progress lines). Adding a worker may raise
// throughput on a free core; it must not raise the CPU each request costs.
// Skipped, with a note, when this build rejects `--workers 2` or accepts it
// but starts no worker process (found out by the first start of switchyard-w2).
import { switchyard } from '../candidates/switchyard.js';
import { check, cpuRatio, fx, rpsRatio } from '../lib/checks.js';
import { descendants } from '../lib/proc-cpu.js';
import { ScenarioSkipped, type Candidate, type CandidateContext, type ScenarioModule } from '../lib/types.js';

const W1 = 'switchyard-w1';
const W2 = 'switchyard-w2';

/** Live descendants of pid, waiting up to `ms` for at least one to appear. */
async function workersOf(pid: number, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const d = descendants(pid);
    if (d.length > 0 || Date.now() > deadline) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * switchyard-w2 that turns "this build has no workers" into a skip: a start
 * that fails naming --workers, or a gateway with no child process after 3 s.
 */
function skipWithoutWorkers(base: Candidate): Candidate {
  return {
    ...base,
    async start(ctx: CandidateContext) {
      let running;
      try {
        running = await base.start(ctx);
      } catch (err) {
        const msg = (err as Error).message;
        const line = msg.split('\n').find((l) => /workers/i.test(l) && !/^\S+ \(pid \d+\)/.test(l));
        if (line) throw new ScenarioSkipped(`the gateway rejects \`--workers 2\`: ${line.trim()}`);
        throw err;
      }
      if ((await workersOf(running.pid!, 3000)).length === 0) {
        await running.stop();
        throw new ScenarioSkipped('`switchyard start --workers 2` was accepted but runs a single process (no child process after 3 s): nothing to compare yet');
      }
      return running;
    },
  };
}

export const workers: ScenarioModule = {
  name: 'workers',
  summary: 'small GET, switchyard --workers 1 vs --workers 2: CPU/req over all gateway processes, req/s',
  create: () => ({
    name: 'workers',
    title: 'small GET with `--workers 1` and `--workers 2`: `GET /`, 13-byte body; CPU summed over the primary and its workers',
    upstream: { bodyBytes: 13, nginxOk: true },
    request: { method: 'GET', path: '/' },
    // Never pinned, not even under --pin: two workers on one pinned CPU only
    // measure context switches, and a load generator pinned to the other one
    // leaves them a CPU and a half.
    unpinned: true,
    candidates: [
      switchyard({ name: W1, args: ['--workers', '1'], pin: false }),
      skipWithoutWorkers(switchyard({ name: W2, args: ['--workers', '2'], pin: false })),
    ],
    checks: (_summary, runs) => [
      check(`${W2} CPU/req ÷ ${W1}`, cpuRatio(runs, W2, W1), '<=', 1.1, fx(2), 'must not rise; 10 % allowed for within-round noise'),
    ],
    extraMarkdown: (_summary, runs) => {
      const procs = (name: string) => [...new Set(runs.filter((r) => r.candidate === name && r.ok).map((r) => r.procCount ?? 1))].join(', ');
      const split = runs
        .filter((r) => r.candidate === W2 && r.ok && r.cpuByProcess)
        .map((r) => {
          const main = r.cpuByProcess!.filter((p) => p.main).reduce((a, p) => a + p.microsPerReq, 0);
          const kids = r.cpuByProcess!.filter((p) => !p.main).map((p) => p.microsPerReq.toFixed(1));
          return `round ${r.round}: primary ${main.toFixed(1)}, workers ${kids.join(' + ')}`;
        });
      return (
        'Unpinned, even under `--pin`: load generator, upstream and gateway processes free on every CPU. ' +
        `${W2} ÷ ${W1}, same round, median: req/s ${fx(2)(rpsRatio(runs, W2, W1))}, CPU/req ${fx(2)(cpuRatio(runs, W2, W1))}. ` +
        `Processes charged: ${W1} ${procs(W1) || '—'}, ${W2} ${procs(W2) || '—'}.` +
        (split.length ? `\n\n${W2} CPU µs/req by process: ${split.join('; ')}.` : '')
      );
    },
  }),
};
