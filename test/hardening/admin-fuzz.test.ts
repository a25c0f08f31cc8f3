// Property tests (fast-check) of the admin API against a real gateway: random
// bodies for every endpoint that takes one never get a 5xx, and every refused
// one (4xx) writes nothing (the store revision and the deployment list stay
// as they were). Fixed seed and few runs in `npm test`; `node
// scripts/fuzz.mjs` runs them longer (FUZZ_RUNS).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { putRoute, putUpstream } from '../helpers/config.js';
import { fuzzParams, fuzzTimeout } from '../helpers/fuzz.js';
import { admin, startGateway, type GatewayProcess } from '../helpers/gateway.js';

const params = fuzzParams(60);
const timeout = fuzzTimeout(params, 40);

const anyJson = fc.jsonValue({ maxDepth: 3 });
/** A plausible value or, as often, anything at all. */
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof(a, anyJson);
const extraKeys = fc.dictionary(fc.string({ maxLength: 12 }), anyJson, { maxKeys: 2 });

function withExtra<T extends object>(shape: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.tuple(shape, extraKeys, fc.boolean()).map(([s, extra, add]) => (add ? { ...s, ...extra } : s));
}

const routeBody = withExtra(
  fc.record(
    {
      id: maybe(fc.constantFrom('fz-route', 'other', '', 'UPPER', 'x'.repeat(200))),
      match: maybe(
        fc.record(
          {
            path: maybe(fc.constantFrom('/', '/a', 'a', '/../x', '', '/%zz', '/a/./b')),
            host: maybe(fc.constantFrom('a.example.com', '*.example.com', 'a b', '*', 'a.com:80', '')),
            port: maybe(fc.integer({ min: -1, max: 70000 })),
            methods: maybe(fc.array(fc.constantFrom('GET', 'get', '', 'P OST', 'POST'), { maxLength: 3 })),
          },
          { requiredKeys: [] },
        ),
      ),
      upstream: maybe(fc.constantFrom('fz', 'nope', '', '../x')),
      stripPrefix: maybe(fc.boolean()),
      timeoutMs: maybe(fc.integer({ min: -10, max: 4_000_000 })),
      retries: maybe(fc.integer({ min: -5, max: 20 })),
      maxBodyBytes: maybe(fc.oneof(fc.integer({ min: -10, max: 2 ** 31 }), fc.double(), fc.constant(2 ** 60))),
    },
    { requiredKeys: [] },
  ),
);

// No `process` source with a plausible command: a valid one would start processes.
const poolBody = fc.record(
  {
    targets: maybe(fc.array(fc.constantFrom('http://127.0.0.1:1', 'ftp://x', 'http://a/b', '', 'http://u:p@h:1'), { maxLength: 3 })),
    dns: maybe(fc.record({ name: maybe(fc.constantFrom('a.invalid', 'bad name', '')), port: maybe(fc.integer({ min: -1, max: 70000 })) }, { requiredKeys: [] })),
    registry: maybe(fc.boolean()),
    process: fc.constantFrom(1, 'node', [], { command: 42 }),
  },
  { requiredKeys: [] },
);
const upstreamBody = withExtra(
  fc.record(
    {
      name: maybe(fc.constantFrom('fz-up', 'other', '')),
      pools: maybe(fc.dictionary(fc.constantFrom('blue', 'green', 'bad name', ''), maybe(poolBody), { maxKeys: 3 })),
      weights: maybe(fc.dictionary(fc.constantFrom('blue', 'green', 'x'), maybe(fc.integer({ min: -10, max: 1000 })), { maxKeys: 3 })),
      balancer: maybe(fc.constantFrom('round-robin', 'least-request', 'random')),
      healthCheck: maybe(fc.record({ path: maybe(fc.constantFrom('/h', 'h')), intervalMs: maybe(fc.integer()), timeoutMs: maybe(fc.integer()) }, { requiredKeys: [] })),
      slowStartMs: maybe(fc.integer()),
      drainTimeoutMs: maybe(fc.integer()),
    },
    { requiredKeys: [] },
  ),
);
const flipBody = withExtra(
  fc.record(
    { to: maybe(fc.constantFrom('green', 'blue', 'nope', '')), rampMs: maybe(fc.integer()), drainTimeoutMs: maybe(fc.integer()), force: maybe(fc.boolean()) },
    { requiredKeys: [] },
  ),
);
const drainBody = withExtra(
  fc.record({ target: maybe(fc.constantFrom('http://127.0.0.1:1', 'http://127.0.0.1:2', 'nope', '')), drain: maybe(fc.boolean()) }, { requiredKeys: [] }),
);
const deploymentBody = withExtra(
  fc.record(
    {
      upstream: maybe(fc.constantFrom('fz', 'nope', '')),
      pool: maybe(fc.constantFrom('green', 'nope', '')),
      steps: maybe(fc.array(fc.record({ weight: maybe(fc.integer({ min: -1, max: 200 })), holdMs: maybe(fc.integer()) }, { requiredKeys: [] }), { maxLength: 3 })),
      readyTimeoutMs: maybe(fc.integer()),
      maxErrorRate: maybe(fc.double()),
      minRequests: maybe(fc.integer()),
    },
    { requiredKeys: [] },
  ),
);

/** A request body: a shaped object, any JSON, or bytes that are not JSON at all. */
type Sent = { kind: 'json'; value: unknown } | { kind: 'text'; text: string; type: string };
function bodies(shaped: fc.Arbitrary<unknown>): fc.Arbitrary<Sent> {
  return fc.oneof(
    { weight: 5, arbitrary: shaped.map((value): Sent => ({ kind: 'json', value })) },
    { weight: 2, arbitrary: anyJson.map((value): Sent => ({ kind: 'json', value })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 40 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'))
        .map(([text, type]): Sent => ({ kind: 'text', text, type })),
    },
  );
}

describe('admin API, property tests (fast-check): random bodies', () => {
  let gw: GatewayProcess;
  let hasDeployments = false;

  before(async () => {
    gw = await startGateway({ timeoutMs: 30_000 });
    await putUpstream(gw, 'fz', ['http://127.0.0.1:1'], { pools: { blue: { targets: ['http://127.0.0.1:1'] }, green: { targets: ['http://127.0.0.1:2'] } }, weights: { blue: 100, green: 0 } });
    await putRoute(gw, 'fz-route', { path: '/fz' }, 'fz');
    hasDeployments = (await admin(gw, 'GET', '/deployments')).status === 200;
  });
  after(async () => {
    await gw?.stop();
  });

  /** What a refused request must leave alone. */
  async function state(): Promise<string> {
    const routes = await admin(gw, 'GET', '/routes');
    assert.equal(routes.status, 200);
    const deployments = hasDeployments ? JSON.stringify((await admin(gw, 'GET', '/deployments')).body) : '';
    return `${routes.body.revision}|${deployments}`;
  }

  async function send(method: string, path: string, sent: Sent): Promise<{ status: number; body: unknown }> {
    const init: RequestInit =
      sent.kind === 'json'
        ? { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(sent.value) ?? 'null' }
        : { method, headers: { 'content-type': sent.type }, body: sent.text };
    const res = await fetch(gw.adminUrl + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* keep text */
    }
    return { status: res.status, body };
  }

  const endpoints: [string, string, () => string, fc.Arbitrary<unknown>][] = [
    ['PUT', '/routes/:id', () => '/routes/fz-route', routeBody],
    ['PUT', '/upstreams/:name', () => '/upstreams/fz-up', upstreamBody],
    ['POST', '/upstreams/:name/flip', () => '/upstreams/fz/flip', flipBody],
    ['POST', '/upstreams/:name/targets/drain', () => '/upstreams/fz/targets/drain', drainBody],
    ['POST', '/deployments', () => '/deployments', deploymentBody],
  ];

  for (const [method, label, path, shaped] of endpoints) {
    it(`${method} ${label}: never a 5xx, and a refused body writes nothing`, { timeout }, async () => {
      await fc.assert(
        fc.asyncProperty(bodies(shaped), async (sent) => {
          const before = await state();
          const r = await send(method, path(), sent);
          assert.ok(r.status < 500, `${method} ${path()} ${JSON.stringify(sent)} -> ${r.status} ${JSON.stringify(r.body)}`);
          if (r.status >= 400) {
            assert.equal(typeof (r.body as { error?: unknown }).error, 'string', `error body: ${JSON.stringify(r.body)}`);
            assert.equal(await state(), before, `${method} ${path()} ${JSON.stringify(sent)} -> ${r.status} but wrote`);
          }
        }),
        params,
      );
    });
  }

  it('random resource ids in the URL: never a 5xx, nothing written', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40, unit: 'binary' }), fc.constantFrom('routes', 'upstreams'), async (id, kind) => {
        const before = await state();
        const body = kind === 'routes' ? { match: { path: '/x' }, upstream: 'fz' } : { pools: { main: { targets: ['http://127.0.0.1:1'] } } };
        const r = await send('PUT', `/${kind}/${encodeURIComponent(id)}`, { kind: 'json', value: body });
        assert.ok(r.status < 500, `PUT /${kind}/${JSON.stringify(id)} -> ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status >= 400) assert.equal(await state(), before);
        const g = await admin(gw, 'GET', `/${kind}/${encodeURIComponent(id)}`);
        assert.ok(g.status < 500, `GET /${kind}/${JSON.stringify(id)} -> ${g.status}`);
      }),
      params,
    );
  });

  it('the gateway is still healthy and serving its table', async () => {
    assert.equal((await admin(gw, 'GET', '/healthz')).status, 200);
    assert.equal((await admin(gw, 'GET', '/routes/fz-route')).status, 200);
  });
});
