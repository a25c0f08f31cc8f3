// The shapes a scenario module (bench/scenarios/*.ts) and a candidate module
// (bench/candidates/*.ts) provide. run.ts drives them; nothing else is needed
// to add a scenario.
import type { LoadRequest } from './load.js';

/** Settings of one bench invocation that candidates need. */
export interface BenchEnv {
  /** --pin: proxies on CPU 1, load generator and upstream on CPU 0. */
  pin: boolean;
  /** CPU for proxy processes (taskset), null when not pinned. */
  proxyCpu: number | null;
  /** CPU for the upstream, null when not pinned. */
  upstreamCpu: number | null;
  /** --cpu-prof DIR: proxies that support it run with node --cpu-prof into DIR. */
  cpuProfDir: string | null;
  /** Scratch directory of this invocation, removed at the end. */
  tmpRoot: string;
}

export interface UpstreamSpec {
  /** Response body size in bytes. */
  bodyBytes: number;
  /** Whether nginx may serve this scenario when it is on PATH (GET-only scenarios). */
  nginxOk: boolean;
}

export interface RunningUpstream {
  kind: 'node' | 'nginx';
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface ScenarioContext {
  env: BenchEnv;
  upstream: RunningUpstream;
  scenario: Scenario;
}

export interface CandidateContext extends ScenarioContext {
  /** 1-based round number. */
  round: number;
}

export interface RunningCandidate {
  /** Base URL the load generator targets. */
  url: string;
  /** Process charged for proxy CPU; null for `direct`. */
  pid: number | null;
  /** Stops every process this start created. */
  stop(): Promise<void>;
}

export interface Candidate {
  /** Unique within a scenario; `direct` and `bare-undici` are the ratio references. */
  readonly name: string;
  /** Once per scenario before the first round (e.g. seed a store). */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** A fresh instance in its own process(es), ready to serve `scenario.request`. */
  start(ctx: CandidateContext): Promise<RunningCandidate>;
  /** Once per scenario after the last round, also after errors. */
  cleanup?(): Promise<void>;
}

export interface Scenario {
  /** --scenario name; also the results file prefix. */
  readonly name: string;
  /** One line for the report header. */
  readonly title: string;
  readonly upstream: UpstreamSpec;
  readonly request: LoadRequest;
  /** Candidates in the order each round runs them. */
  readonly candidates: Candidate[];
}

/** What a bench/scenarios/*.ts module exports. */
export interface ScenarioModule {
  readonly name: string;
  readonly summary: string;
  create(): Scenario;
}

/** Reference candidates the ratios are computed against. */
export const DIRECT = 'direct';
export const BARE = 'bare-undici';
