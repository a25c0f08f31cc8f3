// docs/api.md is generated from the admin API's OpenAPI document by
// scripts/gen-api-docs.mjs. These tests regenerate it (into temp files) from a
// real gateway and fail when the committed file is stale: run `npm run docs`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, startGateway, tempDir, type GatewayProcess } from '../helpers/gateway.js';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'scripts/gen-api-docs.mjs');
const DOC = path.join(REPO_ROOT, 'docs/api.md');
const TOKEN = 'api-docs-test-token';

/** Runs the generator; resolves with what it wrote. */
async function generate(args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = path.join(tempDir('switchyard-api-docs-'), 'api.md');
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('SWITCHYARD_')) delete clean[k];
  await run(process.execPath, [SCRIPT, ...args, '--out', out], { cwd: REPO_ROOT, env: { ...clean, ...env }, timeout: 60000 });
  return readFileSync(out, 'utf8');
}

/** Fails with the first line that differs, and how to fix it. */
function assertSameDoc(actual: string, expected: string, how: string): void {
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  assert.fail(
    `docs/api.md is stale (${how}): run \`npm run docs\` (node scripts/gen-api-docs.mjs) and commit the result.\n` +
      `first difference at line ${i + 1}:\n  docs/api.md: ${e[i] ?? '(end of file)'}\n  generated:   ${a[i] ?? '(end of file)'}`,
  );
}

describe('docs/api.md, generated from GET /openapi.json', () => {
  let gw: GatewayProcess;
  let committed: string;

  before(async () => {
    committed = readFileSync(DOC, 'utf8');
    gw = await startGateway({ args: ['--admin-token', TOKEN], timeoutMs: 30000 });
  });
  after(async () => {
    await gw?.stop();
  });

  it('matches what the generator writes from a throwaway gateway (npm run docs)', async () => {
    assertSameDoc(await generate([]), committed, 'from a fresh gateway');
  });

  it('renders the same from a running gateway with a token, by URL and from a saved document', async () => {
    const byUrl = await generate(['--from', gw.adminUrl], { SWITCHYARD_ADMIN_TOKEN: TOKEN });
    assertSameDoc(byUrl, committed, '--from URL');

    const res = await fetch(`${gw.adminUrl}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const saved = path.join(tempDir('switchyard-openapi-'), 'openapi.json');
    writeFileSync(saved, await res.text());
    assertSameDoc(await generate(['--from', saved]), committed, '--from FILE');
  });

  it('documents every operation of the OpenAPI document', async () => {
    const res = await fetch(`${gw.adminUrl}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
        assert.ok(committed.includes(`### \`${method.toUpperCase()} ${p}\``), `docs/api.md has no section for ${method.toUpperCase()} ${p}`);
      }
    }
  });

  it('--check exits 1 on a stale file and 0 on a fresh one', async () => {
    const dir = tempDir('switchyard-api-docs-check-');
    const stale = path.join(dir, 'stale.md');
    writeFileSync(stale, committed.replace('# Admin API reference', '# Admin API reference (edited by hand)'));
    const saved = path.join(dir, 'openapi.json');
    const res = await fetch(`${gw.adminUrl}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    writeFileSync(saved, await res.text());
    await assert.rejects(run(process.execPath, [SCRIPT, '--from', saved, '--out', stale, '--check']), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(String(err.stderr), /stale: run npm run docs/);
      return true;
    });
    const fresh = path.join(dir, 'fresh.md');
    await run(process.execPath, [SCRIPT, '--from', saved, '--out', fresh]);
    await run(process.execPath, [SCRIPT, '--from', saved, '--out', fresh, '--check']);
  });
});
