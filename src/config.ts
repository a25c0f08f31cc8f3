import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parse as parseYaml } from 'yaml';
import type { ListenAddress } from './proxy/listeners.js';
import type { TlsFiles } from './proxy/tls-certificates.js';
import { TrustedProxies, type DataPlaneLimits } from './proxy/limits.js';

/** Resolved `switchyard start` settings (CONTRACT §1). */
export interface GatewayOptions {
  listen: ListenAddress[];
  portRange: { from: number; to: number } | null;
  admin: { host: string; port: number };
  adminToken: string | null;
  store: string;
  prefix: string;
  nodeId: string;
  group: string;
  workers: number;
  logLevel: string;
  graceMs: number;
  /** Local state of a node on a remote store (the last-known-good table). */
  stateDir: string;
  /** TLS termination (--tls-listen with certificates) and the CA for https:// targets. */
  tls: {
    listen: ListenAddress[];
    files: TlsFiles;
    upstreamCa: Buffer | null;
    /** The admin API's own certificate and key; null = plain HTTP. */
    admin: { cert: Buffer; key: Buffer } | null;
  };
  /** Access log destination: a file path, or '-' for stdout; null = off. */
  accessLog: string | null;
  /** OpenTelemetry collector base URL for span export (OTLP/HTTP JSON); null = off. */
  otlpEndpoint: string | null;
  /** Data-plane limits and --trust-proxy (issue 8). */
  limits: DataPlaneLimits;
}

/** Thrown for a bad setting; the CLI prints it and exits 2. */
export class ConfigError extends Error {}

/** flag name -> [env var, default]. Order is the help order. */
export const SETTINGS = {
  listen: ['SWITCHYARD_LISTEN', '8080'],
  portRange: ['SWITCHYARD_PORT_RANGE', undefined],
  admin: ['SWITCHYARD_ADMIN', '127.0.0.1:9901'],
  adminToken: ['SWITCHYARD_ADMIN_TOKEN', undefined],
  store: ['SWITCHYARD_STORE', 'file:./.switchyard'],
  prefix: ['SWITCHYARD_PREFIX', '/switchyard/'],
  nodeId: ['SWITCHYARD_NODE_ID', undefined],
  group: ['SWITCHYARD_GROUP', 'default'],
  workers: ['SWITCHYARD_WORKERS', '1'],
  config: ['SWITCHYARD_CONFIG', undefined],
  logLevel: ['SWITCHYARD_LOG_LEVEL', 'info'],
  graceMs: ['SWITCHYARD_GRACE_MS', '30000'],
  stateDir: ['SWITCHYARD_STATE_DIR', './.switchyard-state'],
  accessLog: ['SWITCHYARD_ACCESS_LOG', undefined],
  tlsListen: ['SWITCHYARD_TLS_LISTEN', undefined],
  tlsCert: ['SWITCHYARD_TLS_CERT', undefined],
  tlsKey: ['SWITCHYARD_TLS_KEY', undefined],
  tlsCertDir: ['SWITCHYARD_TLS_CERT_DIR', undefined],
  upstreamCa: ['SWITCHYARD_UPSTREAM_CA', undefined],
  adminTlsCert: ['SWITCHYARD_ADMIN_TLS_CERT', undefined],
  adminTlsKey: ['SWITCHYARD_ADMIN_TLS_KEY', undefined],
  otlpEndpoint: ['SWITCHYARD_OTLP_ENDPOINT', undefined],
  maxHeaderSize: ['SWITCHYARD_MAX_HEADER_SIZE', '32768'],
  maxHeaderCount: ['SWITCHYARD_MAX_HEADER_COUNT', '100'],
  maxBodySize: ['SWITCHYARD_MAX_BODY_SIZE', '0'],
  headersTimeoutMs: ['SWITCHYARD_HEADERS_TIMEOUT_MS', '30000'],
  requestTimeoutMs: ['SWITCHYARD_REQUEST_TIMEOUT_MS', '300000'],
  keepAliveTimeoutMs: ['SWITCHYARD_KEEP_ALIVE_TIMEOUT_MS', '5000'],
  maxConnections: ['SWITCHYARD_MAX_CONNECTIONS', '10000'],
  maxInflight: ['SWITCHYARD_MAX_INFLIGHT', '10000'],
  maxUpstreamHeaderSize: ['SWITCHYARD_MAX_UPSTREAM_HEADER_SIZE', '32768'],
  trustProxy: ['SWITCHYARD_TRUST_PROXY', undefined],
} as const satisfies Record<string, readonly [string, string | undefined]>;

export type SettingName = keyof typeof SETTINGS;
export type RawSettings = Partial<Record<SettingName, string>>;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const KEBAB: Record<string, SettingName> = Object.fromEntries(
  (Object.keys(SETTINGS) as SettingName[]).map((k) => [k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()), k]),
);

function parsePort(s: string, what: string, allowZero: boolean): number {
  if (!/^\d+$/.test(s)) throw new ConfigError(`${what}: "${s}" is not a port number`);
  const n = Number(s);
  if (n > 65535 || (n === 0 && !allowZero)) throw new ConfigError(`${what}: port ${n} is out of range`);
  return n;
}

/** `HOST:PORT`, `[v6]:PORT` or `PORT`. */
export function parseHostPort(s: string, what: string, allowZero = true): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s.trim());
  if (m) return { host: m[1] ?? (m[2] || undefined), port: parsePort(m[3]!, what, allowZero) };
  return { host: undefined, port: parsePort(s.trim(), what, allowZero) };
}

/** Reads a YAML or JSON settings file: keys are flag names (camelCase or kebab-case). */
export function readConfigFile(file: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError(`--config: ${file} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`--config: ${file} must hold a mapping of settings`);
  const out: RawSettings = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const name = (key in SETTINGS ? key : KEBAB[key]) as SettingName | undefined;
    if (!name || name === 'config') throw new ConfigError(`--config: unknown setting "${key}" in ${file}`);
    if (value === null || typeof value === 'object') {
      if (Array.isArray(value) && name === 'listen') out.listen = value.join(',');
      else throw new ConfigError(`--config: setting "${key}" must be a string or number`);
    } else out[name] = String(value);
  }
  return out;
}

/** Turns raw strings (already layered flags > env > file > defaults) into options. */
export function resolveOptions(raw: RawSettings): GatewayOptions {
  const get = (k: SettingName): string | undefined => raw[k] ?? SETTINGS[k][1];
  const listen = get('listen')!
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => parseHostPort(s, '--listen'));
  if (listen.length === 0) throw new ConfigError('--listen: at least one port is required');

  let portRange: GatewayOptions['portRange'] = null;
  const pr = get('portRange');
  if (pr !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(pr.trim());
    if (!m) throw new ConfigError(`--port-range: "${pr}" is not of the form A-B`);
    const from = parsePort(m[1]!, '--port-range', false);
    const to = parsePort(m[2]!, '--port-range', false);
    if (from > to) throw new ConfigError(`--port-range: ${from} is above ${to}`);
    portRange = { from, to };
  }

  const a = parseHostPort(get('admin')!, '--admin');
  const admin = { host: a.host ?? '127.0.0.1', port: a.port };
  const adminToken = get('adminToken') || null;
  if (!adminToken && !isLoopback(admin.host)) {
    throw new ConfigError(`--admin ${admin.host}:${admin.port} is not a loopback address: set --admin-token (or SWITCHYARD_ADMIN_TOKEN)`);
  }

  const store = get('store')!;
  if (!/^file:.+/.test(store) && !/^etcds?:\/\/.+/.test(store)) {
    throw new ConfigError(`--store: "${store}" must be file:DIR or etcd://HOST:PORT[,HOST:PORT...]`);
  }

  const w = get('workers')!;
  let workers: number;
  if (w === 'auto') workers = os.availableParallelism();
  else if (/^\d+$/.test(w) && Number(w) >= 1 && Number(w) <= 256) workers = Number(w);
  else throw new ConfigError(`--workers: "${w}" must be a whole number from 1 to 256, or auto`);

  const logLevel = get('logLevel')!;
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`--log-level: "${logLevel}" must be one of ${[...LOG_LEVELS].join(', ')}`);

  const g = get('graceMs')!;
  if (!/^\d+$/.test(g) || Number(g) > 3_600_000) throw new ConfigError(`--grace-ms: "${g}" must be milliseconds from 0 to 3600000`);

  const nodeId = get('nodeId') || `${os.hostname()}-${process.pid}`;
  const group = get('group')!;
  if (!/^[a-z0-9][a-z0-9._-]{0,127}$/i.test(group)) throw new ConfigError(`--group: "${group}" is not a valid group name`);
  const prefix = get('prefix')!;
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new ConfigError(`--prefix: "${prefix}" must start and end with "/"`);

  const stateDir = get('stateDir')!;
  const accessLog = get('accessLog') || null;
  const otlpEndpoint = get('otlpEndpoint') || null;
  if (otlpEndpoint !== null) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(otlpEndpoint).protocol);
    } catch {
      /* reported below */
    }
    if (!ok) throw new ConfigError(`--otlp-endpoint: "${otlpEndpoint}" must be an http(s) URL such as http://127.0.0.1:4318`);
  }
  const limits = resolveLimits(get);
  const tls = resolveTls(get);
  return { listen, portRange, admin, adminToken, store, prefix, nodeId, group, workers, logLevel, graceMs: Number(g), stateDir, limits, accessLog, otlpEndpoint, tls };
}

/** A whole number in [min, max], or a ConfigError naming the flag. */
function wholeNumber(raw: string, flag: string, min: number, max: number, unit: string): number {
  const s = raw.trim();
  if (!/^\d{1,16}$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new ConfigError(`${flag}: "${raw}" must be ${unit} from ${min} to ${max}`);
  }
  return Number(s);
}

/** --tls-listen and its certificates; --upstream-ca. Files are checked here so a typo exits 2. */
function resolveTls(get: (k: SettingName) => string | undefined): GatewayOptions['tls'] {
  const listenRaw = get('tlsListen');
  const listen = listenRaw ? listenRaw.split(',').filter((x) => x.trim() !== '').map((x) => parseHostPort(x, '--tls-listen')) : [];
  const cert = get('tlsCert') || null;
  const key = get('tlsKey') || null;
  const dir = get('tlsCertDir') || null;
  if ((cert === null) !== (key === null)) throw new ConfigError('--tls-cert and --tls-key go together');
  if (listen.length > 0 && !cert && !dir) throw new ConfigError('--tls-listen needs certificates: --tls-cert and --tls-key, or --tls-cert-dir');
  if (listen.length === 0 && (cert || dir)) throw new ConfigError('TLS certificates given without --tls-listen');
  for (const [flag, f] of [['--tls-cert', cert], ['--tls-key', key], ['--tls-cert-dir', dir]] as const) {
    if (f && !existsSync(f)) throw new ConfigError(`${flag}: ${f} does not exist`);
  }
  const caFile = get('upstreamCa') || null;
  let upstreamCa: Buffer | null = null;
  if (caFile) {
    try {
      upstreamCa = readFileSync(caFile);
    } catch (err) {
      throw new ConfigError(`--upstream-ca: cannot read ${caFile}: ${(err as Error).message}`);
    }
  }
  const adminCert = get('adminTlsCert') || null;
  const adminKey = get('adminTlsKey') || null;
  if ((adminCert === null) !== (adminKey === null)) throw new ConfigError('--admin-tls-cert and --admin-tls-key go together');
  let admin: { cert: Buffer; key: Buffer } | null = null;
  if (adminCert && adminKey) {
    try {
      admin = { cert: readFileSync(adminCert), key: readFileSync(adminKey) };
    } catch (err) {
      throw new ConfigError(`--admin-tls-cert/--admin-tls-key: ${(err as Error).message}`);
    }
  }
  return { listen, files: { cert, key, dir }, upstreamCa, admin };
}

/** The data-plane limit flags (issue 8); see src/proxy/limits.ts for the defaults' reasons. */
function resolveLimits(get: (k: SettingName) => string | undefined): DataPlaneLimits {
  const MIB = 1024 * 1024;
  const headersTimeoutMs = wholeNumber(get('headersTimeoutMs')!, '--headers-timeout-ms', 100, 3_600_000, 'milliseconds');
  const requestTimeoutMs = wholeNumber(get('requestTimeoutMs')!, '--request-timeout-ms', 0, 86_400_000, 'milliseconds (0 = off)');
  if (requestTimeoutMs > 0 && requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(`--request-timeout-ms: ${requestTimeoutMs} is below --headers-timeout-ms ${headersTimeoutMs} (the whole request includes its headers)`);
  }
  let trustProxy: TrustedProxies | null = null;
  const tp = get('trustProxy');
  if (tp !== undefined) {
    try {
      trustProxy = new TrustedProxies(tp);
    } catch (err) {
      throw new ConfigError(`--trust-proxy: ${(err as Error).message} (expected a comma list of IP addresses and CIDR blocks, e.g. 10.0.0.0/8,::1)`);
    }
  }
  return {
    maxHeaderSize: wholeNumber(get('maxHeaderSize')!, '--max-header-size', 1024, 16 * MIB, 'bytes'),
    maxHeaderCount: wholeNumber(get('maxHeaderCount')!, '--max-header-count', 1, 10_000, 'a number of header fields'),
    maxBodySize: wholeNumber(get('maxBodySize')!, '--max-body-size', 0, Number.MAX_SAFE_INTEGER, 'bytes (0 = unlimited)'),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: wholeNumber(get('keepAliveTimeoutMs')!, '--keep-alive-timeout-ms', 100, 3_600_000, 'milliseconds'),
    maxConnections: wholeNumber(get('maxConnections')!, '--max-connections', 0, 10_000_000, 'connections (0 = unlimited)'),
    maxInflight: wholeNumber(get('maxInflight')!, '--max-inflight', 0, 10_000_000, 'requests (0 = unlimited)'),
    maxUpstreamHeaderSize: wholeNumber(get('maxUpstreamHeaderSize')!, '--max-upstream-header-size', 1024, 16 * MIB, 'bytes'),
    trustProxy,
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
