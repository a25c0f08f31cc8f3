// `switchyard routes ...` and `switchyard upstreams ...`: a thin client of the
// admin API (CONTRACT §3). Exit codes: 0 ok, 1 the API refused or could not be
// reached, 2 usage errors (commander, mapped in src/cli.ts).

import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import YAML from 'yaml';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';
const REQUEST_TIMEOUT_MS = 30000;

export interface CommonOptions {
  admin: string;
  json?: boolean;
  ifMatch?: number;
}

interface KindDef {
  plural: 'routes' | 'upstreams';
  singular: 'route' | 'upstream';
  key: 'id' | 'name';
  keyArg: 'ID' | 'NAME';
  table(items: Record<string, unknown>[]): string;
}

/** An error already worded for the user; printed as `error: <message>`. */
export class CliError extends Error {
  constructor(message: string, readonly detailLines: string[] = []) {
    super(message);
  }
}

function normalizeAdminUrl(v: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${v}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`must be an http:// or https:// URL: ${v}`);
  return url.href.replace(/\/+$/, '');
}

function parseRevision(v: string): number {
  const m = /^\s*"?(\d{1,15})"?\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be a store revision (a non-negative integer)');
  return Number(m[1]);
}

export function addCommon(cmd: Command, { ifMatch = false } = {}): Command {
  cmd.addOption(
    new Option('--admin <url>', 'admin API URL').env('SWITCHYARD_ADMIN_URL').default(DEFAULT_ADMIN_URL).argParser(normalizeAdminUrl),
  );
  cmd.option('--json', 'print the raw JSON response (for scripts)');
  if (ifMatch) cmd.option('--if-match <revision>', 'only if the resource is still at this store revision (412 otherwise)', parseRevision);
  return cmd;
}

interface ApiResponse {
  status: number;
  body: unknown;
}

/** `/routes/ID`, refusing ids that URL parsing would turn into another path. */
function resourcePath(k: KindDef, id: string): string {
  if (id === '' || id === '.' || id === '..') throw new CliError(`${JSON.stringify(id)} is not a valid ${k.singular} ${k.key}`);
  return `/${k.plural}/${encodeURIComponent(id)}`;
}

export async function callApi(opts: CommonOptions, method: string, path: string, body?: unknown, ifMatch?: number): Promise<ApiResponse> {
  const base = normalizeAdminUrl(opts.admin);
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = process.env.SWITCHYARD_ADMIN_TOKEN;
  if (token) headers.authorization = `Bearer ${token}`;
  if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`;
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(base + path, init);
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new CliError(`cannot reach the admin API at ${base} (${why}); is the gateway running? (--admin URL or SWITCHYARD_ADMIN_URL)`);
  }
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  if (res.status >= 400) throw apiError(res.status, parsed);
  return { status: res.status, body: parsed };
}

function apiError(status: number, body: unknown): CliError {
  if (typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') {
    const b = body as { error: string; message?: string; details?: { field?: string; message?: string }[]; currentRevision?: number };
    const lines: string[] = [];
    for (const d of Array.isArray(b.details) ? b.details : []) lines.push(`  ${d.field || '(body)'}: ${d.message ?? ''}`);
    if (typeof b.currentRevision === 'number') lines.push(`  current revision: ${b.currentRevision}`);
    if (status === 401) lines.push('  (set SWITCHYARD_ADMIN_TOKEN to the gateway\'s --admin-token)');
    return new CliError(`${b.error}: ${b.message ?? `HTTP ${status}`}`, lines);
  }
  const text = typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body);
  return new CliError(`HTTP ${status}: ${text}`);
}

async function readInput(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
}

function parseResourceFile(text: string, file: string): unknown {
  try {
    return YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new CliError(`${file === '-' ? 'stdin' : file} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const str = (v: unknown, dflt = '-'): string => (v === undefined || v === null || v === '' ? dflt : String(v));

function routeMatchText(match: unknown): string {
  if (typeof match !== 'object' || match === null) return '-';
  const m = match as { port?: unknown; host?: unknown; methods?: unknown; path?: unknown };
  const parts: string[] = [];
  if (m.port !== undefined) parts.push(`:${String(m.port)}`);
  if (m.host !== undefined) parts.push(String(m.host));
  if (Array.isArray(m.methods)) parts.push(m.methods.map(String).join(','));
  parts.push(str(m.path));
  return parts.join(' ');
}

function poolsText(u: Record<string, unknown>): string {
  const pools = u.pools;
  if (typeof pools !== 'object' || pools === null) return '-';
  const weights = (typeof u.weights === 'object' && u.weights !== null ? u.weights : {}) as Record<string, unknown>;
  return Object.keys(pools).map((p) => `${p}:${str(weights[p], '0')}`).join(',') || '-';
}

const KINDS: KindDef[] = [
  {
    plural: 'routes',
    singular: 'route',
    key: 'id',
    keyArg: 'ID',
    table: (items) =>
      table(
        ['ID', 'MATCH', 'UPSTREAM', 'STATUS'],
        items.map((r) => [str(r.id), routeMatchText(r.match), str(r.upstream), str(r.status)]),
      ),
  },
  {
    plural: 'upstreams',
    singular: 'upstream',
    key: 'name',
    keyArg: 'NAME',
    table: (items) =>
      table(
        ['NAME', 'POOLS', 'BALANCER'],
        items.map((u) => [str(u.name), poolsText(u), str(u.balancer, u.errors ? '-' : 'round-robin')]),
      ),
  },
];

/** Runs an action; API and I/O failures print `error: ...` and exit 1. */
export function run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CliError) {
        process.stderr.write(`error: ${err.message}\n${err.detailLines.map((l) => l + '\n').join('')}`);
      } else {
        process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
      }
      process.exitCode = 1;
    }
  };
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

function registerKind(program: Command, k: KindDef): void {
  const group = program.command(k.plural).description(`list, show, create/replace and delete ${k.plural}`);

  addCommon(group.command('ls').alias('list').description(`list ${k.plural}`)).action(
    run(async (opts: CommonOptions) => {
      const res = await callApi(opts, 'GET', `/${k.plural}`);
      if (opts.json) return printJson(res.body);
      const items = (res.body as Record<string, unknown>)?.[k.plural];
      process.stdout.write(k.table(Array.isArray(items) ? (items as Record<string, unknown>[]) : []));
    }),
  );

  addCommon(group.command('get').description(`show one ${k.singular}`).argument(`<${k.keyArg}>`, `${k.singular} ${k.key}`)).action(
    run(async (id: string, opts: CommonOptions) => {
      const res = await callApi(opts, 'GET', resourcePath(k, id));
      if (opts.json) return printJson(res.body);
      process.stdout.write(YAML.stringify(res.body));
    }),
  );

  addCommon(
    group
      .command('put')
      .description(`create or replace a ${k.singular} from a YAML or JSON file ('-' = stdin); the ${k.key} is taken from the file`)
      .argument('<FILE>', 'YAML or JSON file, or - for stdin'),
    { ifMatch: true },
  ).action(
    run(async (file: string, opts: CommonOptions) => {
      const doc = parseResourceFile(await readInput(file), file);
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        throw new CliError(`${file === '-' ? 'stdin' : file} must hold one ${k.singular} object`);
      }
      const id = (doc as Record<string, unknown>)[k.key];
      if (typeof id !== 'string' || id === '') {
        throw new CliError(`${file === '-' ? 'stdin' : file} has no "${k.key}" field (the ${k.singular} ${k.key} is taken from it)`);
      }
      const res = await callApi(opts, 'PUT', resourcePath(k, id), doc, opts.ifMatch);
      if (opts.json) return printJson(res.body);
      const rev = (res.body as { revision?: unknown })?.revision;
      process.stdout.write(`${k.singular} ${id} ${res.status === 201 ? 'created' : 'replaced'} (revision ${str(rev)})\n`);
    }),
  );

  addCommon(
    group.command('rm').alias('delete').description(`delete a ${k.singular}`).argument(`<${k.keyArg}>`, `${k.singular} ${k.key}`),
    { ifMatch: true },
  ).action(
    run(async (id: string, opts: CommonOptions) => {
      const res = await callApi(opts, 'DELETE', resourcePath(k, id), undefined, opts.ifMatch);
      if (opts.json) return printJson(res.body);
      const rev = (res.body as { revision?: unknown })?.revision;
      process.stdout.write(`${k.singular} ${id} deleted (revision ${str(rev)})\n`);
    }),
  );
}

export function registerAdminCommands(program: Command): void {
  for (const k of KINDS) registerKind(program, k);
}
