// validate.ts in process: defaults, listener policy, stored values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStoredRoute, parseStoredUpstream, validateRoute, validateUpstream } from '../../src/control/validate.js';
import type { ListenerPolicy } from '../../src/resources.js';

const policy: ListenerPolicy = { listenPorts: new Set([8080, 8443]), portRange: { from: 20000, to: 20010 } };

test('route defaults are applied and the result is a fresh object', () => {
  const input = { match: { path: '/a', methods: ['GET'] }, upstream: 'u' };
  const r = validateRoute(input, policy, 'a');
  assert.ok(r.ok);
  assert.deepEqual(r.value, { id: 'a', match: { path: '/a', methods: ['GET'] }, upstream: 'u', stripPrefix: false, timeoutMs: 30000, retries: 1 });
  input.match.methods.push('POST');
  assert.deepEqual(r.value.match.methods, ['GET']);
});

test('route port: listen ports and the port range are allowed, others are not', () => {
  const at = (port: number, p: ListenerPolicy | null) => validateRoute({ id: 'a', match: { path: '/', port }, upstream: 'u' }, p);
  assert.ok(at(8080, policy).ok);
  assert.ok(at(20000, policy).ok);
  assert.ok(at(20010, policy).ok);
  const out = at(20011, policy);
  assert.ok(!out.ok);
  assert.deepEqual(out.errors.map((e) => e.field), ['/match/port']);
  assert.match(out.errors[0]!.message, /20011.*--port-range 20000-20010/);
  const noRange = at(9000, { listenPorts: new Set([8080]), portRange: null });
  assert.ok(!noRange.ok);
  assert.match(noRange.errors[0]!.message, /no --port-range/);
  assert.ok(at(9000, null).ok, 'a null policy skips the check');
});

test('route host: hostname or wildcard, any case, no port', () => {
  for (const host of ['shop.example.com', 'SHOP.Example.COM', '*.example.com', 'localhost', 'a-b.c1']) {
    assert.ok(validateRoute({ id: 'a', match: { path: '/', host }, upstream: 'u' }, null).ok, host);
  }
  for (const host of ['', 'a:80', '*.', '*', 'a..b', '-a.com', 'a_b.com', 'exa mple.com', 'a.*.com', 'http://a']) {
    const r = validateRoute({ id: 'a', match: { path: '/', host }, upstream: 'u' }, null);
    assert.ok(!r.ok && r.errors.some((e) => e.field === '/match/host'), host);
  }
});

test('the id comes from the path when the body has none; all errors are reported at once', () => {
  const none = validateRoute({ match: { path: '/' }, upstream: 'u' }, null);
  assert.ok(!none.ok);
  assert.deepEqual(none.errors, [{ field: '/id', message: 'is required' }]);
  const many = validateRoute({ id: 'x', match: { path: 'a', colour: 1 }, upstream: 'U', retries: 99 }, null, 'y');
  assert.ok(!many.ok);
  assert.deepEqual(many.errors.map((e) => e.field).sort(), ['/id', '/match/colour', '/match/path', '/retries', '/upstream']);
});

test('upstream defaults: balancer, and weights (equal when absent, 0 for pools left out)', () => {
  const pools = { blue: { targets: ['http://127.0.0.1:1'] }, green: { dns: { name: 'g.svc' } } };
  const a = validateUpstream({ pools }, 'u');
  assert.ok(a.ok);
  assert.deepEqual(a.value.weights, { blue: 100, green: 100 });
  assert.equal(a.value.balancer, 'round-robin');
  assert.equal(a.value.name, 'u');
  const b = validateUpstream({ name: 'u', pools, weights: { green: 5 } });
  assert.ok(b.ok);
  assert.deepEqual(b.value.weights, { blue: 0, green: 5 });
});

test('upstream targets must be http(s) origins', () => {
  for (const t of ['http://10.0.0.1:3000', 'https://a.example.com', 'http://[::1]:8080', 'http://a/']) {
    assert.ok(validateUpstream({ pools: { p: { targets: [t] } } }, 'u').ok, t);
  }
  for (const t of ['10.0.0.1:3000', 'ftp://a', 'http://a/x', 'http://a?x=1', 'http://a#f', 'http://u:p@a', 'http://a:70000', 'http://', '']) {
    const r = validateUpstream({ pools: { p: { targets: [t] } } }, 'u');
    assert.ok(!r.ok && r.errors.some((e) => e.field === '/pools/p/targets/0'), t);
  }
});

test('stored values: JSON errors name field "", the store key fills and checks the id', () => {
  const bad = parseStoredRoute('{"id": ', policy, 'a');
  assert.ok(!bad.ok);
  assert.equal(bad.errors[0]!.field, '');
  assert.match(bad.errors[0]!.message, /^not valid JSON: /);
  const ok = parseStoredRoute('{"match": {"path": "/"}, "upstream": "u"}', policy, 'a');
  assert.ok(ok.ok);
  assert.equal(ok.value.id, 'a');
  const mismatch = parseStoredUpstream('{"name": "b", "pools": {"p": {"registry": true}}}', 'a');
  assert.ok(!mismatch.ok);
  assert.equal(mismatch.errors[0]!.field, '/name');
  const up = parseStoredUpstream('{"name": "b", "pools": {"p": {"registry": true}}}');
  assert.ok(up.ok);
  assert.deepEqual(up.value, { name: 'b', pools: { p: { registry: true } }, weights: { p: 100 }, balancer: 'round-robin' });
});
