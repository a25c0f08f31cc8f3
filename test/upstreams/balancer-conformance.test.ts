// One conformance suite that every balancer runs (STYLE §13): never picks a
// non-ready target, handles an empty pool, exact shares for static weights,
// an even spread for equal ones, readiness and slow start read at pick time,
// and the `exclude` argument honoured. Real Target objects (their undici pools
// never connect: nothing is dispatched), destroyed after every test.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createBalancer, type BalancerKind } from '../../src/upstreams/balancers/balancer.js';
import { DEFAULT_TARGET_POOL_OPTIONS, Target } from '../../src/upstreams/target.js';

const KINDS: BalancerKind[] = ['round-robin', 'least-request'];

let made: Target[] = [];
function targets(n: number): Target[] {
  const ts = Array.from({ length: n }, (_, i) => new Target(`http://127.0.0.1:${20000 + made.length + i}`, DEFAULT_TARGET_POOL_OPTIONS));
  made.push(...ts);
  return ts;
}

/** Deterministic PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 0x1_0000_0000;
  };
}

function counts(ts: readonly Target[], picks: (Target | null)[]): number[] {
  return ts.map((t) => picks.filter((p) => p === t).length);
}

/** Puts `t` in slow start at `factor` of its weight (rampFactor(now) ~= factor for the next few ms of a long ramp). */
function rampAt(t: Target, factor: number, rampMs = 1_000_000): void {
  const now = performance.now();
  t.rampStart = now - factor * rampMs;
  t.rampEnd = t.rampStart + rampMs;
}

afterEach(async () => {
  await Promise.all(made.map((t) => t.destroy().catch(() => {})));
  made = [];
});

for (const kind of KINDS) {
  describe(`balancer conformance: ${kind}`, () => {
    it('an empty pool picks null, with or without exclude', () => {
      const b = createBalancer(kind, []);
      assert.equal(b.pick(null), null);
      const [other] = targets(1);
      assert.equal(b.pick(other!), null);
    });

    it('picks null when no target is ready, or the only ready one is excluded', () => {
      const ts = targets(3);
      const b = createBalancer(kind, ts);
      for (const t of ts) t.ready = false;
      for (let i = 0; i < 10; i++) assert.equal(b.pick(null), null, 'nothing is ready');
      ts[1]!.ready = true;
      for (let i = 0; i < 10; i++) assert.equal(b.pick(ts[1]!), null, 'the only ready target is excluded');
      assert.equal(b.pick(null), ts[1], 'readiness is read at pick time, no rebuild');
    });

    for (const n of [2, 5, 40]) {
      it(`never picks a non-ready target (pool of ${n}, readiness flipping between picks)`, () => {
        const ts = targets(n);
        const b = createBalancer(kind, ts, ts.map((_, i) => 1 + (i % 3)));
        const rnd = prng(n);
        let picked = 0;
        for (let i = 0; i < 5000; i++) {
          if (i % 7 === 0) for (const t of ts) t.ready = rnd() < 0.7;
          if (i % 11 === 0) rampAt(ts[(rnd() * n) | 0]!, rnd());
          const exclude = rnd() < 0.3 ? ts[(rnd() * n) | 0]! : null;
          const p = b.pick(exclude);
          const readyOthers = ts.filter((t) => t.ready && t !== exclude).length;
          if (p === null) {
            assert.equal(readyOthers, 0, `pick ${i}: null while ${readyOthers} targets were ready`);
          } else {
            assert.ok(p.ready, `pick ${i}: picked a non-ready target ${p.origin}`);
            assert.notEqual(p, exclude, `pick ${i}: picked the excluded target`);
            assert.ok(ts.includes(p), 'picked a target of the pool');
            picked++;
          }
        }
        assert.ok(picked > 2500, `the scenario must mostly have ready targets (${picked} picks of 5000)`);
      });
    }

    it('weights 3:1 split exactly 3:1, in every window of 4 picks', () => {
      const ts = targets(2);
      const b = createBalancer(kind, ts, [3, 1]);
      const picks = Array.from({ length: 400 }, () => b.pick(null));
      assert.deepEqual(counts(ts, picks), [300, 100]);
      for (let i = 0; i < picks.length; i += 4) assert.deepEqual(counts(ts, picks.slice(i, i + 4)), [3, 1], `window at pick ${i}`);
    });

    it('weights 3:1 among others: 3:1:2 for 3:1:2 and smooth interleaving (no burst longer than the weight)', () => {
      const ts = targets(3);
      const b = createBalancer(kind, ts, [3, 1, 2]);
      const picks = Array.from({ length: 600 }, () => b.pick(null));
      assert.deepEqual(counts(ts, picks), [300, 100, 200]);
      let run = 1;
      for (let i = 1; i < picks.length; i++) {
        run = picks[i] === picks[i - 1] ? run + 1 : 1;
        assert.ok(run <= 2, `smooth: ${run} picks of the same target in a row at ${i}`);
      }
    });

    it('equal weights spread evenly: every prefix within one pick of even', () => {
      const ts = targets(4);
      const b = createBalancer(kind, ts);
      const seen = [0, 0, 0, 0];
      for (let i = 0; i < 400; i++) {
        seen[ts.indexOf(b.pick(null)!)]!++;
        assert.ok(Math.max(...seen) - Math.min(...seen) <= 1, `uneven after ${i + 1} picks: ${seen}`);
      }
    });

    it('a non-ready target is skipped and its share goes to the others; it comes back when ready again', () => {
      const ts = targets(3);
      const b = createBalancer(kind, ts);
      ts[0]!.ready = false;
      const off = counts(ts, Array.from({ length: 300 }, () => b.pick(null)));
      assert.deepEqual(off, [0, 150, 150]);
      ts[0]!.ready = true;
      const on = counts(ts, Array.from({ length: 300 }, () => b.pick(null)));
      assert.deepEqual(on, [100, 100, 100]);
    });

    it('exclude: never the excluded target, the rest still split by weight', () => {
      const ts = targets(3);
      const b = createBalancer(kind, ts, [1, 3, 1]);
      const picks = Array.from({ length: 400 }, () => b.pick(ts[0]!));
      assert.deepEqual(counts(ts, picks), [0, 300, 100]);
    });

    it('slow start: a target at ramp factor f takes f/(1+f) of two equal targets, and its full share after the ramp', () => {
      for (const f of [0.1, 0.25, 0.5, 0.8]) {
        const ts = targets(2);
        const b = createBalancer(kind, ts);
        rampAt(ts[0]!, f);
        const picks = Array.from({ length: 2000 }, () => b.pick(null));
        const share = counts(ts, picks)[0]! / picks.length;
        const want = f / (1 + f);
        assert.ok(Math.abs(share - want) < 0.01, `factor ${f}: share ${share.toFixed(3)}, expected ${want.toFixed(3)}`);
      }
      // The ramp is over: back to an even split (and rampEnd cleared). The
      // switch from the weighted path back to the plain rotation may cost one
      // extra pick, never more.
      const ts = targets(2);
      const b = createBalancer(kind, ts);
      ts[0]!.rampStart = performance.now() - 2000;
      ts[0]!.rampEnd = ts[0]!.rampStart + 1000;
      const [a, c] = counts(ts, Array.from({ length: 100 }, () => b.pick(null)));
      assert.ok(Math.abs(a! - c!) <= 2, `even after the ramp: ${a}:${c}`);
      assert.equal(ts[0]!.rampEnd, 0, 'a finished ramp is cleared');
    });

    it('slow start in a pool of 20 (least-request switches to two random choices above 16): an idle ramping target at f = 0.5 takes f/(19+f)', () => {
      const ts = targets(20);
      const b = createBalancer(kind, ts);
      rampAt(ts[0]!, 0.5);
      const picks = 40_000;
      let n = 0;
      for (let i = 0; i < picks; i++) if (b.pick(null) === ts[0]) n++;
      const share = n / picks;
      const want = 0.5 / 19.5;
      assert.ok(
        Math.abs(share - want) <= 0.15 * want + 0.002,
        `slow start ignored: the ramping target took ${(share * 100).toFixed(2)} % of the picks, the line says ${(want * 100).toFixed(2)} % (an even share is 5 %). ` +
          'CONTRACT §2 slowStartMs: a target that starts receiving traffic ramps linearly from 0 to its full share',
      );
    });

    it('slow start multiplies the static weight: weights 3:1 with the heavy one at factor 1/3 split 1:1', () => {
      const ts = targets(2);
      const b = createBalancer(kind, ts, [3, 1]);
      rampAt(ts[0]!, 1 / 3);
      const share = counts(ts, Array.from({ length: 2000 }, () => b.pick(null)))[0]! / 2000;
      assert.ok(Math.abs(share - 0.5) < 0.01, `share ${share}`);
    });
  });
}

describe('least-request specifics', () => {
  it('prefers the target with the fewest requests in flight (per unit of weight)', () => {
    const ts = targets(3);
    const b = createBalancer('least-request', ts);
    ts[0]!.inflight = 5;
    ts[1]!.inflight = 1;
    ts[2]!.inflight = 3;
    for (let i = 0; i < 10; i++) assert.equal(b.pick(null), ts[1]);
    const w = createBalancer('least-request', ts, [1, 1, 6]);
    assert.equal(w.pick(null), ts[2], '3 in flight at weight 6 beats 1 at weight 1');
    ts[1]!.ready = false;
    for (let i = 0; i < 10; i++) assert.equal(b.pick(null), ts[2], 'the least loaded ready one');
  });

  it('large pools (two random choices) still prefer the less loaded target', () => {
    const ts = targets(40);
    const b = createBalancer('least-request', ts);
    for (let i = 0; i < ts.length; i++) ts[i]!.inflight = i < 20 ? 10 : 0;
    const idle = Array.from({ length: 2000 }, () => b.pick(null)).filter((t) => ts.indexOf(t!) >= 20).length;
    // Both choices busy has probability 1/4: ~75 % go to idle targets, never less than ~70 %.
    assert.ok(idle > 1400, `${idle} of 2000 picks went to idle targets`);
  });
});
