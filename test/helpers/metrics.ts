// Reading the gateway's Prometheus text in tests.
import { admin } from './gateway.js';

/** GET /metrics as text. */
export async function scrape(gw: { adminUrl: string }): Promise<string> {
  const r = await admin(gw, 'GET', '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics -> ${r.status}`);
  return String(r.body);
}

/**
 * The value of the sample `name` whose labels include every one of `labels`
 * (other labels may be present); undefined when there is none, the sum when
 * several match.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let found: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) found = (found ?? 0) + Number(m[3]);
  }
  return found;
}
