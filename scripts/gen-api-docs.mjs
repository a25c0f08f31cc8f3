#!/usr/bin/env node
// Generates docs/api.md, the admin API reference, from the OpenAPI document
// every gateway serves at GET /openapi.json (the same JSON Schemas that
// validate admin writes). `npm run docs` runs this.
//
//   node scripts/gen-api-docs.mjs                      start a throwaway gateway (dist/src/cli.js), read its document
//   node scripts/gen-api-docs.mjs --from URL           a running gateway: its admin URL or the /openapi.json URL
//                                                      (token from SWITCHYARD_ADMIN_TOKEN)
//   node scripts/gen-api-docs.mjs --from FILE.json     a saved document
//   ... --out FILE                                     where to write (default docs/api.md; "-" = stdout)
//   ... --check                                        write nothing; exit 1 when --out differs from what would be written
//
// The output depends on the document only (no dates, no versions, nothing
// from the token), so a test can regenerate it and fail when docs/api.md is
// stale (test/packaging/api-docs.test.ts).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/src/cli.js');

function usage(msg) {
  process.stderr.write(`gen-api-docs: ${msg}\nusage: node scripts/gen-api-docs.mjs [--from URL|FILE] [--out FILE|-] [--check]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { from: null, out: path.join(ROOT, 'docs/api.md'), check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') o.check = true;
    else if (a === '--from' || a === '--out') {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      o[a.slice(2)] = v;
    } else if (a === '-h' || a === '--help') usage('help');
    else usage(`unknown argument ${a}`);
  }
  return o;
}

// ---- getting the document ------------------------------------------------

async function fetchDocument(url) {
  const u = new URL(url);
  if (!u.pathname.endsWith('/openapi.json')) u.pathname = u.pathname.replace(/\/*$/, '') + '/openapi.json';
  const headers = { accept: 'application/json' };
  if (process.env.SWITCHYARD_ADMIN_TOKEN) headers.authorization = `Bearer ${process.env.SWITCHYARD_ADMIN_TOKEN}`;
  const res = await fetch(u, { headers, signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error(`GET ${u} -> ${res.status} ${await res.text()}`);
  return res.json();
}

/** Starts `switchyard start` on ephemeral loopback ports with a throwaway store, reads the document, stops it. */
async function documentFromFreshGateway() {
  if (!existsSync(CLI)) throw new Error(`${path.relative(process.cwd(), CLI)} does not exist: build first (npm run build)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-api-docs-'));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SWITCHYARD_')) delete env[k];
  const child = spawn(
    process.execPath,
    [CLI, 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--store', `file:${path.join(dir, 'store')}`, '--state-dir', path.join(dir, 'state'), '--log-level', 'warn'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  try {
    const adminUrl = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${out}`)), 30000);
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        const m = /admin listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (${code ?? signal}) before it listened:\n${out}`));
      });
    });
    return await fetchDocument(adminUrl);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loadDocument(from) {
  if (from === null) return documentFromFreshGateway();
  if (/^https?:\/\//i.test(from)) return fetchDocument(from);
  return JSON.parse(readFileSync(from, 'utf8'));
}

// ---- rendering ------------------------------------------------------------

/** Table cell text: one line, pipes escaped. */
function cell(s) {
  return String(s ?? '').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

function code(s) {
  const t = String(s);
  return t.includes('`') ? `\`\` ${t} \`\`` : `\`${t}\``;
}

function refName(ref) {
  return ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '');
}

function anchor(name) {
  return name.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

function schemaLink(ref) {
  const n = refName(ref);
  return `[${n}](#${anchor(n)})`;
}

/** A short type: `string`, `integer`, `array of string`, `one of "a", "b"`, a link to a component. */
function typeOf(s) {
  if (!s || typeof s !== 'object') return '';
  if (s.$ref) return schemaLink(s.$ref);
  if (Array.isArray(s.enum)) return s.enum.length === 1 ? `${s.type ?? ''} (${s.enum.map((v) => JSON.stringify(v)).join(', ')})`.trim() : `one of ${s.enum.map((v) => code(JSON.stringify(v))).join(', ')}`;
  if (s.type === 'array') return `array of ${typeOf(s.items ?? {}) || 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) return `map of ${typeOf(s.additionalProperties) || 'any'}`;
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.type ?? '';
}

/** Validation rules worth stating: ranges, lengths, patterns, counts. */
function rules(s) {
  const r = [];
  if (s.minimum !== undefined && s.maximum !== undefined) r.push(`${s.minimum} to ${s.maximum}`);
  else if (s.minimum !== undefined) r.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined) r.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined && s.minLength > 0) r.push(`at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
  if (s.maxLength !== undefined) r.push(`at most ${s.maxLength} character${s.maxLength === 1 ? '' : 's'}`);
  if (s.minItems !== undefined) r.push(`at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
  if (s.maxItems !== undefined) r.push(`at most ${s.maxItems} items`);
  if (s.uniqueItems) r.push('no duplicates');
  if (s.minProperties !== undefined && s.maxProperties !== undefined && s.minProperties === s.maxProperties) r.push(`exactly ${s.minProperties} key${s.minProperties === 1 ? '' : 's'}`);
  else {
    if (s.minProperties !== undefined) r.push(`at least ${s.minProperties} key${s.minProperties === 1 ? '' : 's'}`);
    if (s.maxProperties !== undefined) r.push(`at most ${s.maxProperties} keys`);
  }
  if (s.pattern !== undefined) r.push(`matches ${code(s.pattern)}`);
  if (s.type === 'array' && s.items && typeof s.items === 'object' && !s.items.$ref) {
    const inner = rules(s.items);
    if (inner.length) r.push(`each item: ${inner.join('; ')}`);
  }
  const v = s.additionalProperties;
  if (s.type === 'object' && v && typeof v === 'object' && !v.properties && !v.$ref) {
    const inner = rules(v);
    if (inner.length) r.push(`each value: ${inner.join('; ')}`);
  }
  return r;
}

/**
 * One row per field, nested objects flattened to dotted paths: `match.path`,
 * `pools.<key>.targets`, `steps[].weight`.
 */
function fieldRows(schema, prefix = '', rows = []) {
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  for (const [name, s] of Object.entries(props)) {
    const p = prefix + name;
    const desc = [s.description, s['x-message'] && !s.description ? s['x-message'] : null].filter(Boolean).join(' ');
    rows.push({ field: p, type: typeOf(s), required: required.has(name), def: s.default, rules: rules(s), desc });
    if (s.type === 'object' && s.properties) fieldRows(s, `${p}.`, rows);
    if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') {
      const keyRule = s.propertyNames ? rules(s.propertyNames) : [];
      const v = s.additionalProperties;
      if (v.properties) {
        rows.push({ field: `${p}.<key>`, type: 'object', required: false, def: undefined, rules: [...keyRule.map((k) => `key ${k}`), ...rules(v)], desc: v.description ?? v['x-message'] ?? '' });
        fieldRows(v, `${p}.<key>.`, rows);
      } else if (keyRule.length) rows[rows.length - 1].rules.push(...keyRule.map((k) => `key ${k}`));
    }
    if (s.type === 'array' && s.items?.type === 'object' && s.items.properties) fieldRows(s.items, `${p}[].`, rows);
  }
  return rows;
}

function fieldTable(schema) {
  const rows = fieldRows(schema);
  if (rows.length === 0) return '';
  const lines = ['| field | type | required | default | rules | description |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    lines.push(`| ${code(r.field)} | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${r.def === undefined ? '' : code(JSON.stringify(r.def))} | ${cell(r.rules.join('; '))} | ${cell(r.desc)} |`);
  }
  return lines.join('\n');
}

function jsonSchemaOf(content) {
  return content?.['application/json']?.schema ?? null;
}

function isOpen(op) {
  return Array.isArray(op.security) && op.security.length === 0;
}

function responseBody(schema) {
  if (!schema) return '';
  if (schema.$ref) return schemaLink(schema.$ref);
  if (schema.type === 'object' && schema.additionalProperties === true && !schema.properties) return 'JSON object';
  return typeOf(schema);
}

function renderOperation(method, p, op) {
  const out = [];
  out.push(`### \`${method.toUpperCase()} ${p}\``, '');
  if (op.summary) out.push(`${op.summary.trim().replace(/\.?$/, '.')}`, '');
  if (op.description) out.push(op.description.trim(), '');
  out.push(isOpen(op) ? 'Auth: none (always open).' : 'Auth: `Authorization: Bearer <token>` when the gateway runs with `--admin-token`.', '');

  const params = op.parameters ?? [];
  if (params.length) {
    out.push('| parameter | in | type | required | description |', '| --- | --- | --- | --- | --- |');
    for (const prm of params) {
      const rs = rules(prm.schema ?? {});
      const desc = [prm.description, rs.length ? `(${rs.join('; ')})` : ''].filter(Boolean).join(' ');
      out.push(`| ${code(prm.name)} | ${prm.in} | ${cell(typeOf(prm.schema ?? {}))} | ${prm.required ? 'yes' : ''} | ${cell(desc)} |`);
    }
    out.push('');
  }

  const body = op.requestBody;
  if (body) {
    const schema = jsonSchemaOf(body.content);
    const req = body.required ? 'required' : 'optional';
    if (schema?.$ref) out.push(`Request body (${req}, \`application/json\`): ${/^[AEIOU]/i.test(refName(schema.$ref)) ? 'an' : 'a'} ${schemaLink(schema.$ref)} object.`, '');
    else if (schema) {
      out.push(`Request body (${req}, \`application/json\`)${schema.description ? `: ${schema.description}` : ''}:`, '');
      const t = fieldTable(schema);
      if (t) out.push(t, '');
    }
  }

  const responses = Object.entries(op.responses ?? {});
  if (responses.length) {
    out.push('| status | meaning | body |', '| --- | --- | --- |');
    for (const [status, r] of responses) {
      const desc = r.description === 'Default Response' ? 'OK' : r.description;
      out.push(`| ${status} | ${cell(desc)} | ${cell(responseBody(jsonSchemaOf(r.content)))} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

const PREAMBLE = `# Admin API reference

<!-- Generated by scripts/gen-api-docs.mjs from the OpenAPI document the gateway serves at GET /openapi.json. Do not edit by hand: run \`npm run docs\` (test/packaging/api-docs.test.ts fails when this file is stale). -->

The admin API listens on \`--admin\` (default \`127.0.0.1:9901\`) and speaks JSON.
Every gateway serves its OpenAPI 3.1 document at \`GET /openapi.json\`; this
page is generated from it, so the field rules below are the ones that
validate writes.

Conventions that hold for every endpoint:

- **Authentication.** With \`--admin-token\` (or \`SWITCHYARD_ADMIN_TOKEN\`),
  every endpoint except \`/healthz\` and \`/readyz\` needs
  \`Authorization: Bearer <token>\`; a missing or wrong token gets 401
  \`unauthorized\`. The token is required when the admin address is not
  loopback.
- **Revisions.** Every write answers with the store revision it produced, as
  the body field \`revision\` and the \`etag\` header. Send it back as
  \`If-Match: <revision>\` to make a write conditional (412
  \`precondition_failed\`, with \`currentRevision\`, when the resource changed
  since); \`If-Match: *\` means "must exist", \`If-None-Match: *\` "create only".
- **Errors.** Failures are \`{"error": CODE, "message": ..., "details": [...]}\`
  ([ErrorBody](#errorbody)). Bad input is 400 \`invalid_config\` with
  \`details\` naming each field (\`{"field": "/match/path", "message": ...}\`)
  and nothing is written; a body that is not JSON is 400 \`invalid_json\`, one
  that is not \`application/json\` 415, one over 1 MiB 413. Unknown resource
  404 \`not_found\`, conflicting state 409 \`conflict\`, a store that cannot be
  reached 503 \`store_unavailable\` (the write was not acknowledged; see
  [operations](operations.md#etcd-outages)). Data-plane errors are a
  different list: [errors.md](errors.md).
- **Consistency.** Reads on any node see writes made on any other node within
  1 s.
`;

export function renderMarkdown(doc) {
  if (!doc || typeof doc !== 'object' || !doc.paths) throw new Error('not an OpenAPI document (no "paths")');
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'patch', 'delete']) {
      const op = item[method];
      if (op) ops.push({ method, path: p, op, tag: op.tags?.[0] ?? 'general' });
    }
  }
  const tags = [...new Set(ops.map((o) => o.tag))];
  const title = (t) => t.charAt(0).toUpperCase() + t.slice(1);
  const out = [PREAMBLE];

  out.push('## Endpoints', '', '| method and path | does | token |', '| --- | --- | --- |');
  for (const t of tags) {
    for (const o of ops.filter((x) => x.tag === t)) {
      const heading = `${o.method.toUpperCase()} ${o.path}`;
      out.push(`| [\`${heading}\`](#${anchor(heading)}) | ${cell(o.op.summary ?? '')} | ${isOpen(o.op) ? 'no' : 'yes'} |`);
    }
  }
  out.push('');

  for (const t of tags) {
    out.push(`## ${title(t)}`, '');
    for (const o of ops.filter((x) => x.tag === t)) out.push(renderOperation(o.method, o.path, o.op));
  }

  const schemas = Object.entries(doc.components?.schemas ?? {});
  if (schemas.length) {
    out.push('## Schemas', '');
    for (const [name, s] of schemas) {
      out.push(`### ${name}`, '');
      if (s.description) out.push(s.description.trim().replace(/\.?$/, '.'), '');
      if (s.additionalProperties === false) out.push('Unknown fields are rejected.', '');
      out.push(fieldTable(s), '');
    }
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const doc = await loadDocument(o.from);
  const md = renderMarkdown(doc);
  if (o.check) {
    const current = existsSync(o.out) ? readFileSync(o.out, 'utf8') : '';
    if (current !== md) {
      process.stderr.write(`${path.relative(process.cwd(), o.out)} is stale: run npm run docs\n`);
      process.exit(1);
    }
    return;
  }
  if (o.out === '-') process.stdout.write(md);
  else {
    writeFileSync(o.out, md);
    process.stderr.write(`wrote ${path.relative(process.cwd(), o.out)}\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`gen-api-docs: ${err.message}\n`);
    process.exit(1);
  });
}
