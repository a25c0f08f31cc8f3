// `dns` pools (CONTRACT §2): the targets are the A and AAAA records of a
// name, re-resolved every `refreshMs`; without a `port`, the name's SRV
// records give the hosts and ports instead. A changed answer swaps the whole
// set (removed targets finish their in-flight requests: the registry closes
// them gracefully). A failed or empty answer keeps the last good set and is
// reported (log and status): a DNS outage never empties a pool.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import type { DnsSource as DnsSpec } from '../../resources.js';
import type { SourceContext, SourceSettings, SourceStatus, TargetSource } from './target-source.js';

export const DEFAULT_REFRESH_MS = 5000;

/**
 * `SWITCHYARD_DNS_SERVERS`: comma list of `host`, `host:port` or
 * `[v6]:port` that every DNS pool asks instead of the system resolvers
 * (tests point it at a server on loopback). Empty: the system's.
 */
export function dnsServersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | null {
  const raw = env.SWITCHYARD_DNS_SERVERS?.trim();
  if (!raw) return null;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Codes that mean "the server answered: no such record", not "the lookup failed". */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

function urlOf(address: string, port: number): string {
  return net.isIPv6(address) ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

export class DnsTargetSource implements TargetSource {
  targets: readonly string[] = [];
  readonly draining: readonly string[] = [];
  settled = false;
  readonly #ctx: SourceContext;
  readonly #spec: DnsSpec;
  readonly #resolver: Resolver;
  #refreshMs: number;
  #timer: NodeJS.Timeout | null = null;
  #error: string | null = null;
  #lastOkAt: string | null = null;
  #closed = false;

  constructor(ctx: SourceContext, spec: DnsSpec, servers: string[] | null) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#refreshMs = spec.refreshMs ?? DEFAULT_REFRESH_MS;
    // Short per-try timeouts: a dead server must not stall the refresh loop past its interval.
    this.#resolver = new Resolver({ timeout: Math.min(2000, Math.max(200, Math.floor(this.#refreshMs / 2))), tries: 2 });
    if (servers) {
      try {
        this.#resolver.setServers(servers);
      } catch (err) {
        this.#error = `SWITCHYARD_DNS_SERVERS=${servers.join(',')}: ${(err as Error).message}`;
        ctx.logger.error({ upstream: ctx.upstream, pool: ctx.pool, err: this.#error }, 'dns pool: bad resolver address');
      }
    }
    void this.#refresh();
  }

  update(settings: SourceSettings): void {
    const ms = settings.spec.dns?.refreshMs ?? DEFAULT_REFRESH_MS;
    if (ms === this.#refreshMs) return;
    this.#refreshMs = ms;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#refresh(), this.#refreshMs);
    this.#timer.unref();
  }

  async #addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([this.#resolver.resolve4(name), this.#resolver.resolve6(name)]);
    const out: string[] = [];
    const errors: string[] = [];
    for (const r of [v4, v6]) {
      if (r.status === 'fulfilled') out.push(...r.value);
      else if (!NO_RECORDS.has((r.reason as NodeJS.ErrnoException).code ?? '')) errors.push(`${(r.reason as NodeJS.ErrnoException).code ?? (r.reason as Error).message}`);
    }
    // One family failing outright (timeout, refused) makes the answer incomplete: not good enough to replace the set.
    if (errors.length) throw new Error(`resolving ${name}: ${errors.join(', ')}`);
    return out;
  }

  async #lookup(): Promise<string[]> {
    const { name, port } = this.#spec;
    if (port !== undefined) return (await this.#addresses(name)).map((a) => urlOf(a, port));
    let srv;
    try {
      srv = await this.#resolver.resolveSrv(name);
    } catch (err) {
      throw new Error(`resolving SRV ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const urls: string[] = [];
    for (const r of srv) {
      const hosts = net.isIP(r.name) ? [r.name] : await this.#addresses(r.name);
      for (const h of hosts) urls.push(urlOf(h, r.port));
    }
    return urls;
  }

  async #refresh(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    const log = this.#ctx.logger;
    const where = { upstream: this.#ctx.upstream, pool: this.#ctx.pool, name: this.#spec.name };
    try {
      const urls = [...new Set(await this.#lookup())].sort();
      if (this.#closed) return;
      if (urls.length === 0) throw new Error(`${this.#spec.name}: no ${this.#spec.port === undefined ? 'SRV' : 'A/AAAA'} records`);
      if (this.#error) log.info({ ...where, targets: urls }, 'dns pool: resolving works again');
      this.#error = null;
      this.#lastOkAt = new Date().toISOString();
      if (urls.length !== this.targets.length || urls.some((u, i) => u !== this.targets[i])) {
        log.info({ ...where, targets: urls, was: this.targets }, 'dns pool: target set changed');
        this.targets = urls;
        this.#ctx.changed();
      }
    } catch (err) {
      if (this.#closed) return;
      const msg = (err as Error).message;
      if (msg !== this.#error) log.warn({ ...where, err: msg, keeping: this.targets }, 'dns pool: resolution failed; the last good set keeps serving');
      this.#error = msg;
    }
    if (!this.settled) {
      this.settled = true;
      this.#ctx.changed();
    }
    this.#schedule();
  }

  status(): SourceStatus {
    return {
      kind: 'dns',
      state: !this.settled ? 'resolving' : this.#error ? 'failing' : 'ok',
      error: this.#error,
      name: this.#spec.name,
      refreshMs: this.#refreshMs,
      lastResolvedAt: this.#lastOkAt,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#resolver.cancel();
  }
}
