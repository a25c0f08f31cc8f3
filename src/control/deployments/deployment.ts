import type { ConfigErrorDetail } from '../../resources.js';

/** CONTRACT §4 phases. */
export type Phase = 'pending' | 'waiting-ready' | 'flooding' | 'draining' | 'succeeded' | 'rolling-back' | 'rolled-back' | 'failed';

export const TERMINAL: ReadonlySet<Phase> = new Set(['succeeded', 'rolled-back', 'failed']);

export interface Step {
  weight: number;
  holdMs: number;
}

export interface HistoryEntry {
  at: string;
  phase: Phase;
  /** Step index for flooding entries. */
  step?: number;
  node: string;
  reason: string;
}

/** What POST /deployments asks for (CONTRACT §4), defaults applied. */
export interface DeploymentRequest {
  upstream: string;
  pool: string;
  steps: Step[];
  readyTimeoutMs: number;
  maxErrorRate: number;
  minRequests: number;
  drainTimeoutMs: number;
}

/** A staged deployment as stored under `deployments/<id>`. */
export interface Deployment extends DeploymentRequest {
  id: string;
  phase: Phase;
  /** Index of the current flood step; -1 before the first. */
  step: number;
  /** The node driving it now. */
  coordinator: string | null;
  createdAt: string;
  /** Epoch ms the current phase (or step) started: every node derives timers from it. */
  phaseStartedAt: number;
  /** The upstream's weights when the deployment was created: what a rollback restores. */
  before: Record<string, number>;
  /** Request/error counters of the new pool summed over nodes when the current step started. */
  baseline: { requests: number; errors: number } | null;
  abortRequested: boolean;
  history: HistoryEntry[];
}

const MAX_MS = 24 * 3600 * 1000;
const KNOWN = new Set(['upstream', 'pool', 'steps', 'readyTimeoutMs', 'maxErrorRate', 'minRequests', 'drainTimeoutMs']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a POST /deployments body; defaults as CONTRACT §4's example. */
export function validateDeploymentRequest(body: unknown): { ok: true; value: DeploymentRequest } | { ok: false; errors: ConfigErrorDetail[] } {
  const errors: ConfigErrorDetail[] = [];
  if (!isObj(body)) return { ok: false, errors: [{ field: '', message: 'a JSON object is required' }] };
  for (const k of Object.keys(body)) if (!KNOWN.has(k)) errors.push({ field: `/${k}`, message: 'unknown field' });
  if (typeof body.upstream !== 'string' || !body.upstream) errors.push({ field: '/upstream', message: 'must be the name of an upstream' });
  if (typeof body.pool !== 'string' || !body.pool) errors.push({ field: '/pool', message: 'must be the name of a pool' });
  const steps: Step[] = [];
  if (!Array.isArray(body.steps) || body.steps.length === 0 || body.steps.length > 100) {
    errors.push({ field: '/steps', message: 'must be a list of 1 to 100 steps {weight, holdMs}' });
  } else {
    body.steps.forEach((s: unknown, i: number) => {
      if (!isObj(s)) return errors.push({ field: `/steps/${i}`, message: 'must be an object {weight, holdMs}' });
      for (const k of Object.keys(s)) if (k !== 'weight' && k !== 'holdMs') errors.push({ field: `/steps/${i}/${k}`, message: 'unknown field' });
      const w = s.weight;
      const h = s.holdMs ?? 0;
      if (!Number.isInteger(w) || (w as number) < 1 || (w as number) > 100) errors.push({ field: `/steps/${i}/weight`, message: 'must be an integer from 1 to 100' });
      else if (i > 0 && (w as number) <= steps[i - 1]!.weight) errors.push({ field: `/steps/${i}/weight`, message: `must be above the previous step's ${steps[i - 1]!.weight}: steps must increase` });
      if (!Number.isInteger(h) || (h as number) < 0 || (h as number) > MAX_MS) errors.push({ field: `/steps/${i}/holdMs`, message: `must be an integer from 0 to ${MAX_MS}` });
      steps.push({ weight: w as number, holdMs: h as number });
    });
    if (errors.length === 0 && steps[steps.length - 1]!.weight !== 100) errors.push({ field: `/steps/${steps.length - 1}/weight`, message: 'the last step must reach 100' });
  }
  const int = (k: string, def: number, min: number, max: number): number => {
    const v = body[k] ?? def;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) errors.push({ field: `/${k}`, message: `must be an integer from ${min} to ${max}` });
    return v as number;
  };
  const readyTimeoutMs = int('readyTimeoutMs', 60000, 0, MAX_MS);
  const minRequests = int('minRequests', 20, 0, 1_000_000_000);
  const drainTimeoutMs = int('drainTimeoutMs', 30000, 0, MAX_MS);
  const maxErrorRate = body.maxErrorRate ?? 0.05;
  if (typeof maxErrorRate !== 'number' || !(maxErrorRate >= 0 && maxErrorRate <= 1)) errors.push({ field: '/maxErrorRate', message: 'must be a number from 0 to 1' });
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { upstream: body.upstream as string, pool: body.pool as string, steps, readyTimeoutMs, maxErrorRate: maxErrorRate as number, minRequests, drainTimeoutMs } };
}

/**
 * The pool weights of step `weight` (percent of traffic to the new pool): the
 * new pool gets `weight`, the old pools share the rest in proportion to their
 * weights before the deployment. Integer weights summing to 100 when the old
 * pools had any weight.
 */
export function stepWeights(before: Record<string, number>, pool: string, weight: number): Record<string, number> {
  const out: Record<string, number> = {};
  const others = Object.keys(before).filter((p) => p !== pool);
  const oldTotal = others.reduce((s, p) => s + (before[p] ?? 0), 0);
  let left = 100 - weight;
  others.forEach((p, i) => {
    const share = oldTotal === 0 ? 0 : i === others.length - 1 ? left : Math.round(((100 - weight) * (before[p] ?? 0)) / oldTotal);
    out[p] = Math.max(0, Math.min(left, share));
    left -= out[p];
  });
  out[pool] = weight;
  return out;
}
