import { Pool } from 'undici';
import type { HealthCheckSpec } from '../resources.js';

export const HEALTH_DEFAULTS = { intervalMs: 1000, timeoutMs: 500, healthy: 2, unhealthy: 2 };

/**
 * Active HTTP health check of one target: GET `path` right away, then every
 * `intervalMs` (never overlapping), over its own connection so probes never
 * queue behind traffic. 2xx and 3xx pass; anything else, a timeout or a
 * connection error fails. Results go to `onResult`; thresholds are the
 * target's business.
 */
export class HealthChecker {
  readonly #pool: Pool;
  readonly #spec: Required<HealthCheckSpec>;
  readonly #onResult: (ok: boolean) => void;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(origin: string, spec: HealthCheckSpec, onResult: (ok: boolean) => void) {
    this.#spec = { ...HEALTH_DEFAULTS, ...spec };
    this.#onResult = onResult;
    this.#pool = new Pool(origin, { connections: 1, connectTimeout: this.#spec.timeoutMs, keepAliveTimeout: this.#spec.intervalMs * 2 });
    void this.#probe();
  }

  async #probe(): Promise<void> {
    if (this.#stopped) return;
    let ok = false;
    try {
      const res = await this.#pool.request({
        path: this.#spec.path,
        method: 'GET',
        headers: { 'user-agent': 'switchyard-health-check' },
        headersTimeout: this.#spec.timeoutMs,
        bodyTimeout: this.#spec.timeoutMs,
        signal: AbortSignal.timeout(this.#spec.timeoutMs),
      });
      await res.body.dump();
      ok = res.statusCode >= 200 && res.statusCode < 400;
    } catch {
      ok = false;
    }
    if (this.#stopped) return;
    this.#onResult(ok);
    this.#timer = setTimeout(() => void this.#probe(), this.#spec.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    void this.#pool.destroy().catch(() => {});
  }
}
