// The issue 8 flags: each one with a bad value (as a flag, and for some as an
// environment variable or a --config key) makes `switchyard start` exit 2
// with a message naming the flag; good values resolve as documented.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readConfigFile, resolveOptions } from '../../src/config.js';
import { DEFAULT_LIMITS } from '../../src/proxy/limits.js';
import { CLI, tempDir } from '../helpers/gateway.js';

interface Run {
  code: number | null;
  stderr: string;
}

/**
 * `switchyard start` with `args` (and env). Killed once it prints a listening
 * line (a bad value got through), or after 60 s (a loaded machine can take
 * many seconds just to start node).
 */
function start(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = ['--store', `file:${tempDir()}`, '--state-dir', tempDir('switchyard-state-'), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHYARD_')) clean[k] = v;
  const child = spawn(process.execPath, [CLI, 'start', ...base, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (/listening on/.test(d)) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

/** [flag, bad value, what the message must say] */
const BAD: [string, string, RegExp][] = [
  ['--max-header-size', 'big', /--max-header-size: "big" must be bytes from 1024/],
  ['--max-header-size', '100', /--max-header-size: "100"/],
  ['--max-header-size', '99999999999', /--max-header-size/],
  ['--max-header-count', '0', /--max-header-count: "0" must be a number of header fields from 1 to 10000/],
  ['--max-header-count', '1.5', /--max-header-count/],
  ['--max-body-size', '-1', /--max-body-size: "-1" must be bytes \(0 = unlimited\)/],
  ['--max-body-size', '10MB', /--max-body-size/],
  ['--headers-timeout-ms', '0', /--headers-timeout-ms: "0" must be milliseconds from 100/],
  ['--headers-timeout-ms', 'soon', /--headers-timeout-ms/],
  ['--request-timeout-ms', 'never', /--request-timeout-ms: "never" must be milliseconds \(0 = off\)/],
  ['--request-timeout-ms', '500', /--request-timeout-ms: 500 is below --headers-timeout-ms 30000/],
  ['--keep-alive-timeout-ms', '-5', /--keep-alive-timeout-ms/],
  ['--keep-alive-timeout-ms', '1e3', /--keep-alive-timeout-ms: "1e3"/],
  ['--max-connections', 'lots', /--max-connections: "lots" must be connections \(0 = unlimited\)/],
  ['--max-connections', '-1', /--max-connections/],
  ['--max-inflight', 'none', /--max-inflight: "none" must be requests \(0 = unlimited\)/],
  ['--max-inflight', '', /--max-inflight/],
  ['--max-upstream-header-size', '512', /--max-upstream-header-size: "512" must be bytes from 1024/],
  ['--trust-proxy', '999.1.1.1', /--trust-proxy: "999.1.1.1" is not an IP address or CIDR block/],
  ['--trust-proxy', '10.0.0.0/33', /--trust-proxy: "10.0.0.0\/33": the prefix length must be 0 to 32/],
  ['--trust-proxy', '::1/129', /--trust-proxy: "::1\/129": the prefix length must be 0 to 128/],
  ['--trust-proxy', 'localhost', /--trust-proxy: "localhost" is not an IP address/],
  ['--trust-proxy', ',', /--trust-proxy: no address given/],
];

describe('issue 8 flags: bad values exit 2 with a clear message', () => {
  it('every bad flag value', { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    // A few at a time: each is a node process start.
    for (let i = 0; i < BAD.length; i += 4) {
      await Promise.all(
        BAD.slice(i, i + 4).map(async ([flag, value, message]) => {
          const r = await start([flag, value]);
          if (r.code !== 2 || !message.test(r.stderr)) failures.push(`${flag} ${JSON.stringify(value)}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
        }),
      );
    }
    assert.deepEqual(failures, []);
  });

  it('bad values through the environment and a --config file too', { timeout: 200_000 }, async () => {
    const env = await start([], { SWITCHYARD_MAX_INFLIGHT: 'abc' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /--max-inflight: "abc"/);
    const tp = await start([], { SWITCHYARD_TRUST_PROXY: '10.0.0.0/8,nope' });
    assert.equal(tp.code, 2);
    assert.match(tp.stderr, /--trust-proxy: "nope"/);
    const file = path.join(tempDir(), 'config.yaml');
    writeFileSync(file, 'max-header-count: 0\n');
    const cfg = await start(['--config', file]);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /--max-header-count: "0"/);
  });

  it('defaults, and values from flags, env names and config keys resolve', () => {
    const d = resolveOptions({}).limits;
    assert.deepEqual({ ...d, trustProxy: null }, { ...DEFAULT_LIMITS });
    assert.equal(d.trustProxy, null);
    const o = resolveOptions({
      maxHeaderSize: '2048',
      maxHeaderCount: '7',
      maxBodySize: '1048576',
      headersTimeoutMs: '1000',
      requestTimeoutMs: '0',
      keepAliveTimeoutMs: '250',
      maxConnections: '0',
      maxInflight: '5',
      maxUpstreamHeaderSize: '65536',
      trustProxy: ' 10.0.0.0/8 , ::1 ,192.168.1.7',
    }).limits;
    assert.equal(o.maxHeaderSize, 2048);
    assert.equal(o.maxHeaderCount, 7);
    assert.equal(o.maxBodySize, 1048576);
    assert.equal(o.headersTimeoutMs, 1000);
    assert.equal(o.requestTimeoutMs, 0);
    assert.equal(o.keepAliveTimeoutMs, 250);
    assert.equal(o.maxConnections, 0);
    assert.equal(o.maxInflight, 5);
    assert.equal(o.maxUpstreamHeaderSize, 65536);
    assert.deepEqual(o.trustProxy!.entries, ['10.0.0.0/8', '::1', '192.168.1.7']);
    assert.ok(o.trustProxy!.has('10.200.1.1'));
    assert.ok(o.trustProxy!.has('::1'));
    assert.ok(o.trustProxy!.has('::ffff:10.1.2.3'), 'IPv4-mapped peers of a dual-stack listener');
    assert.ok(o.trustProxy!.has('192.168.1.7'));
    assert.ok(!o.trustProxy!.has('192.168.1.8'));
    assert.ok(!o.trustProxy!.has('127.0.0.1'));
    assert.ok(!o.trustProxy!.has(undefined));
    // Config files take camelCase and kebab-case keys.
    const file = path.join(tempDir(), 'limits.json');
    writeFileSync(file, JSON.stringify({ 'max-inflight': 9, keepAliveTimeoutMs: 1234, 'trust-proxy': '127.0.0.1' }));
    const fromFile = resolveOptions(readConfigFile(file)).limits;
    assert.equal(fromFile.maxInflight, 9);
    assert.equal(fromFile.keepAliveTimeoutMs, 1234);
    assert.ok(fromFile.trustProxy!.has('127.0.0.1'));
  });
});
