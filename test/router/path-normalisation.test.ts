import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizePath, splitPathAndQuery, stripPrefix } from '../../src/router/normalize-path.js';

const normalise: [string, string | null][] = [
  // unchanged (fast path)
  ['/', '/'],
  ['/a/b', '/a/b'],
  ['/a/b/', '/a/b/'],
  ['/...', '/...'],
  ['/.hidden/x', '/.hidden/x'],
  ['/a..b/..c/c..', '/a..b/..c/c..'],
  ['/a/b.', '/a/b.'],
  // dot segments
  ['/a/./b', '/a/b'],
  ['/a/../b', '/b'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/a/..', '/'],
  ['/.', '/'],
  ['/./', '/'],
  ['/public/../admin/x', '/admin/x'],
  ['/a/b/../../c/./d/', '/c/d/'],
  // climbing above the root
  ['/..', null],
  ['/../', null],
  ['/../a', null],
  ['/a/../..', null],
  ['/a/../../b', null],
  // unreserved escapes decoded
  ['/%41%42c', '/ABc'],
  ['/%7e%7E', '/~~'],
  ['/%2d%2E%5f%30', '/-._0'],
  ['/%61pi', '/api'],
  // reserved / other escapes kept, hex upper-cased
  ['/%2F', '/%2F'],
  ['/a%2fb', '/a%2Fb'],
  ['/%25', '/%25'],
  ['/%2541', '/%2541'],
  ['/%20x', '/%20x'],
  ['/%e2%82%ac', '/%E2%82%AC'],
  ['/%3f', '/%3F'],
  // encoded dot segments count as dot segments
  ['/a/%2e%2e/b', '/b'],
  ['/a/%2E%2e/b', '/b'],
  ['/a/%2e/b', '/a/b'],
  ['/a/.%2e/b', '/b'],
  ['/public/%2e%2e/admin', '/admin'],
  ['/%2e%2e', null],
  ['/a/%2e%2e/%2E%2E/x', null],
  ['/%2e', '/'],
  ['/a%2e%2e', '/a..'],
  // bad escapes
  ['/%', null],
  ['/a%4', null],
  ['/%zz', null],
  ['/%4g', null],
  ['/%%41', null],
  // must start with '/'
  ['', null],
  ['a/b', null],
  ['*', null],
  ['http://x/y', null],
  // slashes merged (before dot resolution)
  ['//', '/'],
  ['///', '/'],
  ['//a', '/a'],
  ['//admin', '/admin'],
  ['/a//b', '/a/b'],
  ['/a//', '/a/'],
  ['/a//../b', '/b'],
  ['/a/.//b', '/a/b'],
];

test('normalizePath', async (t) => {
  for (const [input, want] of normalise) {
    await t.test(JSON.stringify(input), () => assert.equal(normalizePath(input), want));
  }
});

test('normalizePath returns clean input as is', () => {
  const p = '/api/v1/orders/123.json';
  assert.equal(normalizePath(p), p);
});

test('normalizePath output is normal and stable (property)', () => {
  const seg = fc.constantFrom('a', 'B', '.', '..', '', '%2e', '%2E%2e', '%41', '%2f', '%7E', 'x.y', '...');
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 8 }), (segs) => {
      const out = normalizePath('/' + segs.join('/'));
      if (out === null) return;
      assert.equal(out[0], '/');
      assert.equal(normalizePath(out), out, 'idempotent');
      for (const s of out.split('/').slice(1, -1)) assert.ok(s !== '' && s !== '.' && s !== '..', out);
      assert.doesNotMatch(out, /%(2[eE]|4[1]|7[eE]|2f)/, 'unreserved decoded, hex upper-case');
    }),
    { seed: 42, numRuns: 2000 },
  );
});

test('splitPathAndQuery', async (t) => {
  const cases: [string, string, string][] = [
    ['/a?b=1', '/a', '?b=1'],
    ['/a', '/a', ''],
    ['/a?', '/a', '?'],
    ['/?x?y', '/', '?x?y'],
    ['/p/../q?r=/../s', '/p/../q', '?r=/../s'],
    ['', '', ''],
  ];
  for (const [url, path, query] of cases) {
    await t.test(url, () => assert.deepEqual(splitPathAndQuery(url), { path, query }));
  }
});

test('stripPrefix', async (t) => {
  const cases: [string, string, string][] = [
    ['/api/x', '/api', '/x'],
    ['/api', '/api', '/'],
    ['/api/', '/api', '/'],
    ['/api/x/y', '/api', '/x/y'],
    ['/api/v2/x', '/api/v2', '/x'],
    ['/api/x', '/', '/api/x'],
    ['/', '/', '/'],
    ['/api/x', '/api/', '/x'],
    ['/api/', '/api/', '/'],
    ['/apix', '/api', '/apix'], // not a segment match: untouched
    ['/other', '/api', '/other'],
    ['/api/x', '/%61pi', '/x'], // prefix normalised like the route table does
    ['/api/x', '//api/./', '/x'],
  ];
  for (const [path, prefix, want] of cases) {
    await t.test(`${prefix} on ${path}`, () => assert.equal(stripPrefix(path, prefix), want));
  }
});
