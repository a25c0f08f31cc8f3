// Self-registration keys (CONTRACT §4), shared by `switchyard register` and
// the gateway's registry watch:
//
//   <prefix>registry/<upstream>/<pool>/<encodeURIComponent(origin)>
//   value: {"target": "http://10.1.2.3:3000", "draining": false, ...}
//
// The key is attached to the registrar's lease, so it vanishes within the
// TTL after the registrar dies. `draining: true` takes the target out of
// rotation on every node while its in-flight requests finish.
import { ID_RE } from '../../resources.js';

export const REGISTRY_DIR = 'registry/';

export interface RegisteredTarget {
  upstream: string;
  pool: string;
  /** Origin of the target URL. */
  target: string;
  draining: boolean;
  /** `<upstream>/<pool>/<encoded origin>`: the key below `<prefix>registry/`, and the name in drain reports. */
  id: string;
}

/** The origin of an http(s) target URL; throws on anything else. */
export function targetOrigin(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${url}: must be an http:// or https:// URL`);
  return u.origin;
}

export function registryId(upstream: string, pool: string, target: string): string {
  return `${upstream}/${pool}/${encodeURIComponent(targetOrigin(target))}`;
}

/** Parses a key below `<prefix>registry/` and its value; null for anything that is not a registration. */
export function parseRegistration(id: string, value: string): RegisteredTarget | null {
  const parts = id.split('/');
  if (parts.length !== 3) return null;
  const [upstream, pool, enc] = parts as [string, string, string];
  if (!ID_RE.test(upstream) || !ID_RE.test(pool)) return null;
  let target: string;
  try {
    target = targetOrigin(decodeURIComponent(enc));
  } catch {
    return null;
  }
  let draining = false;
  try {
    const v = JSON.parse(value) as { draining?: unknown };
    draining = v?.draining === true;
  } catch {
    /* a bare value registers the target too */
  }
  return { upstream, pool, target, draining, id };
}
