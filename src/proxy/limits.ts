// Data-plane limits (issue 8, part 2) and the per-listener facts the request
// path reads: everything here is decided when the gateway starts or a
// listener opens, never per request.

import { BlockList, isIP } from 'node:net';

/** The `switchyard start` limit flags, resolved (src/config.ts). */
export interface DataPlaneLimits {
  /** Request line + headers, bytes (Node's maxHeaderSize); more -> 431. */
  maxHeaderSize: number;
  /** Header fields per request; more -> 431. */
  maxHeaderCount: number;
  /** Request body bytes for routes without `maxBodyBytes`; 0 = unlimited. */
  maxBodySize: number;
  /** Time to receive a request's headers (slowloris), ms. */
  headersTimeoutMs: number;
  /** Time to receive a whole request (headers and body), ms; 0 = off. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Open connections per listener; further ones are closed at once. 0 = unlimited. */
  maxConnections: number;
  /** Proxied requests in flight per process; more -> 503 overloaded. 0 = unlimited. */
  maxInflight: number;
  /** Upstream response headers, bytes (undici maxHeaderSize); more -> 502. */
  maxUpstreamHeaderSize: number;
  /** Peers whose x-forwarded-* / forwarded headers are kept; null = nobody. */
  trustProxy: TrustedProxies | null;
}

/**
 * Defaults, after nginx and Envoy: 32 KiB of headers (nginx's 4 x 8 KiB
 * large_client_header_buffers), 100 header fields (Envoy's
 * max_headers_count), no body limit (Envoy, HAProxy, Traefik and APISIX
 * stream bodies unbounded by default; a route sets its own), 30 s to send
 * the headers, 300 s for the whole request (Node's default), 5 s keep-alive,
 * 10 000 connections per listener, 10 000 requests in flight per process.
 */
export const DEFAULT_LIMITS: DataPlaneLimits = Object.freeze({
  maxHeaderSize: 32 * 1024,
  maxHeaderCount: 100,
  maxBodySize: 0,
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
  maxInflight: 10_000,
  maxUpstreamHeaderSize: 32 * 1024,
  trustProxy: null,
});

/** `--trust-proxy`: a comma list of IP addresses and CIDR blocks, v4 or v6. */
export class TrustedProxies {
  readonly #list = new BlockList();
  /** The entries as given, normalised (for logs and the help text). */
  readonly entries: readonly string[];

  /** Throws an Error naming the bad entry. */
  constructor(spec: string) {
    const entries: string[] = [];
    for (const part of spec.split(',')) {
      const s = part.trim();
      if (s === '') continue;
      const slash = s.indexOf('/');
      const ip = slash < 0 ? s : s.slice(0, slash);
      const family = isIP(ip);
      if (family === 0) throw new Error(`"${s}" is not an IP address or CIDR block`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) this.#list.addAddress(ip, type);
      else {
        const bits = s.slice(slash + 1);
        const max = family === 4 ? 32 : 128;
        if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new Error(`"${s}": the prefix length must be 0 to ${max}`);
        this.#list.addSubnet(ip, Number(bits), type);
      }
      entries.push(s);
    }
    if (entries.length === 0) throw new Error('no address given');
    this.entries = entries;
  }

  /** Whether a peer address (as net.Socket reports it) is trusted. */
  has(address: string | undefined): boolean {
    if (!address) return false;
    const family = isIP(address);
    return family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Set on a data-plane socket when it connects, when --trust-proxy names its peer. */
export const TRUSTED_PEER = Symbol('switchyard.trustedPeer');

/** What a request handler knows about the listener it came in on. */
export interface ListenerContext {
  readonly port: number;
  /** 'http' (and 'https' once TLS termination exists). */
  readonly proto: string;
  /** 2 x max header count: compared with rawHeaders.length. */
  readonly maxRawHeaders: number;
  /** Proxied requests in flight per process before 503 (MAX_SAFE_INTEGER = no limit). */
  readonly maxInflight: number;
  /** --trust-proxy is set: read the socket's TRUSTED_PEER mark. */
  readonly trustProxy: boolean;
  /** The request came through 'checkContinue': answer 100 only once it is routed. */
  readonly expectContinue: boolean;
  /** Where `redirectHttps` routes send plain-HTTP clients (port 0: no TLS listener). Shared by every listener. */
  readonly https: { port: number };
}

/** Proxied requests in flight in this process (Exchange construction to its record). */
export const inflight = { count: 0 };
