// OverlayMap: every version answers like a plain Map with the same changes
// applied, older versions never change, and layers/folds are invisible.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { OverlayMap } from '../../src/control/overlay-map.js';
import { fuzzParams, fuzzTimeout } from '../helpers/fuzz.js';

const params = fuzzParams(200);

const sorted = (m: ReadonlyMap<string, number>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

test('every version equals a plain map with the same changes, read at once or later; earlier versions stay as they were', { timeout: fuzzTimeout(params, 5) }, () => {
  const key = fc.nat(40).map((n) => `k${n}`);
  const change = fc.tuple(key, fc.option(fc.nat(1000), { nil: undefined }));
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.nat(1000)), { maxLength: 30 }), fc.array(fc.tuple(fc.array(change, { maxLength: 12 }), fc.boolean()), { maxLength: 40 }), (initial, batches) => {
      let model = new Map(initial);
      let map = OverlayMap.of(new Map(model));
      const history: [OverlayMap<string, number>, [string, number][]][] = [];
      for (const [batch, readNow] of batches) {
        history.push([map, sorted(model)]);
        map = map.with(batch);
        model = new Map(model);
        for (const [k, v] of batch) {
          if (v === undefined) model.delete(k);
          else model.set(k, v);
        }
        if (!readNow) continue; // read later, after newer versions (unread versions resolve from their own changes)
        assert.equal(map.size, model.size);
        assert.deepEqual(sorted(map), sorted(model));
        for (let n = 0; n <= 40; n++) {
          assert.equal(map.get(`k${n}`), model.get(`k${n}`));
          assert.equal(map.has(`k${n}`), model.has(`k${n}`));
        }
      }
      assert.deepEqual(sorted(map), sorted(model));
      assert.equal(map.size, model.size);
      for (const [old, entries] of history.reverse()) assert.deepEqual(sorted(old), entries);
    }),
    params,
  );
});

test('a long stream of small changes on a large map folds and stays exact', () => {
  const base = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) base.set(`r${i}`, i);
  let map = OverlayMap.of(base);
  const model = new Map(base);
  for (let i = 0; i < 6000; i++) {
    const k = `r${(i * 7919) % 25_000}`;
    const v = i % 5 === 0 ? undefined : -i;
    map = map.with([[k, v]]);
    if (v === undefined) model.delete(k);
    else model.set(k, v);
  }
  assert.equal(map.size, model.size);
  assert.deepEqual(sorted(map), sorted(model));
  assert.equal(base.size, 20_000, 'the wrapped base is never changed');
});
