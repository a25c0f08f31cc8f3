import type { Target } from '../target.js';
import { LeastRequestBalancer } from './least-request.js';
import { RoundRobinBalancer } from './round-robin.js';

/**
 * Chooses a target of one pool. Balancers are pure algorithms over an
 * immutable target list built once per config generation; readiness (health,
 * ejection, drain) and slow-start factors are read from the targets at pick
 * time, so a health flip never forces a rebuild.
 */
export interface Balancer {
  /** A ready target other than `exclude`, or null when there is none. Never throws. */
  pick(exclude: Target | null): Target | null;
}

export type BalancerKind = 'round-robin' | 'least-request';

/** `weights[i]` is the static weight of `targets[i]` (default 1 each). */
export function createBalancer(kind: BalancerKind, targets: readonly Target[], weights?: readonly number[]): Balancer {
  const w = Float64Array.from(targets, (_, i) => weights?.[i] ?? 1);
  return kind === 'least-request' ? new LeastRequestBalancer(targets, w) : new RoundRobinBalancer(targets, w);
}

/** True when some target is in slow start, so weights must be computed now. */
export function anyRamping(targets: readonly Target[]): boolean {
  for (let i = 0; i < targets.length; i++) if (targets[i]!.rampEnd !== 0) return true;
  return false;
}
