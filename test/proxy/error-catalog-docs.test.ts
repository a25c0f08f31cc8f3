import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CATALOG } from '../../src/proxy/error-catalog.js';
import { REPO_ROOT } from '../helpers/gateway.js';

describe('error catalog and docs/errors.md', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1]!, Number(m[2]));

  it('documents every code with its status', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      assert.equal(rows.get(code), entry.status, `docs/errors.md has no row for ${code} with status ${entry.status}`);
    }
  });

  it('documents no code the gateway does not have', () => {
    for (const code of rows.keys()) assert.ok(code in ERROR_CATALOG, `docs/errors.md lists unknown code ${code}`);
  });
});
