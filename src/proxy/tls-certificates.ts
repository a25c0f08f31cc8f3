import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';

/** Mozilla "intermediate": TLS 1.2+ with forward-secret AEAD suites only (TLS 1.3 suites are fixed by OpenSSL). */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsFiles {
  /** The default certificate (served when no SNI name matches). */
  cert: string | null;
  key: string | null;
  /** A directory of NAME.crt + NAME.key pairs, chosen by the names they cover. */
  dir: string | null;
}

interface Loaded {
  names: string[];
  context: tls.SecureContext;
  file: string;
}

const POLL_MS = 1000;

/**
 * The certificates of the TLS listeners, chosen per connection by SNI
 * (exact name, then `*.` wildcard, then the default), reloaded when their
 * files change: no restart. A file that fails to load is reported and the
 * previous certificates keep serving.
 */
export class CertificateStore {
  readonly #files: TlsFiles;
  readonly #logger: Logger;
  #exact = new Map<string, tls.SecureContext>();
  #wildcard = new Map<string, tls.SecureContext>();
  #default: tls.SecureContext | null = null;
  #watched = new Set<string>();
  #reloadTimer: NodeJS.Timeout | null = null;
  /** Loads so far (tests and logs watch it move). */
  generation = 0;

  constructor(files: TlsFiles, logger: Logger) {
    this.#files = files;
    this.#logger = logger;
    this.#load(true);
  }

  /** The SNICallback of the TLS listeners. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const name = servername.toLowerCase();
    let ctx = this.#exact.get(name);
    if (!ctx) {
      const dot = name.indexOf('.');
      if (dot > 0) ctx = this.#wildcard.get(name.slice(dot + 1));
    }
    ctx ??= this.#default ?? undefined;
    if (ctx) cb(null, ctx);
    else cb(new Error(`no certificate for ${servername}`));
  };

  get hasDefault(): boolean {
    return this.#default !== null;
  }

  #context(certFile: string, keyFile: string): Loaded {
    const cert = readFileSync(certFile);
    const key = readFileSync(keyFile);
    const x509 = new X509Certificate(cert);
    const names = (x509.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    const context = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true });
    return { names, context, file: certFile };
  }

  /** Reads every certificate; on startup a failure is fatal, later it is logged and the old set kept. */
  #load(initial: boolean): void {
    const exact = new Map<string, tls.SecureContext>();
    const wildcard = new Map<string, tls.SecureContext>();
    let def: tls.SecureContext | null = null;
    const files: string[] = [];
    try {
      const add = (l: Loaded) => {
        for (const n of l.names) {
          if (n.startsWith('*.')) wildcard.set(n.slice(2), l.context);
          else exact.set(n, l.context);
        }
      };
      if (this.#files.cert && this.#files.key) {
        const l = this.#context(this.#files.cert, this.#files.key);
        def = l.context;
        add(l);
        files.push(this.#files.cert, this.#files.key);
      }
      if (this.#files.dir) {
        const dir = this.#files.dir;
        for (const name of readdirSync(dir).sort()) {
          if (!/\.(crt|pem)$/.test(name)) continue;
          const base = name.replace(/\.(crt|pem)$/, '');
          const keyFile = path.join(dir, `${base}.key`);
          try {
            statSync(keyFile);
          } catch {
            continue; // a CA bundle or a cert without its key
          }
          const l = this.#context(path.join(dir, name), keyFile);
          def ??= l.context;
          add(l);
          files.push(path.join(dir, name), keyFile);
        }
        files.push(dir);
      }
    } catch (err) {
      if (initial) throw new Error(`cannot load TLS certificates: ${(err as Error).message}`);
      this.#logger.error({ err: (err as Error).message }, 'TLS certificates changed but could not be loaded; the previous ones keep serving');
      return;
    }
    if (!def) {
      if (initial) throw new Error('no TLS certificate: give --tls-cert and --tls-key, or --tls-cert-dir with NAME.crt and NAME.key files');
      this.#logger.error({}, 'TLS certificates changed but none is left; the previous ones keep serving');
      return;
    }
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#default = def;
    this.generation++;
    if (!initial) this.#logger.info({ names: [...exact.keys(), ...[...wildcard.keys()].map((w) => `*.${w}`)] }, 'TLS certificates reloaded');
    this.#watch(files);
  }

  #watch(files: string[]): void {
    for (const f of files) {
      if (this.#watched.has(f)) continue;
      this.#watched.add(f);
      watchFile(f, { interval: POLL_MS, persistent: false }, () => this.#scheduleReload());
    }
  }

  #scheduleReload(): void {
    // A cert and its key are usually replaced together: wait for both.
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(() => this.#load(false), 200);
    this.#reloadTimer.unref();
  }

  close(): void {
    for (const f of this.#watched) unwatchFile(f);
    this.#watched.clear();
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
  }
}
