// The shapes a scenario module (bench/scenarios/*.ts) and a candidate module
// (bench/candidates/*.ts) provide. run.ts drives them; nothing else is needed
// to add a scenario.
import type { Check } from './checks.js';
import type { LoadOptions, LoadRequest, LoadResult } from './load.js';
import type { CandidateSummary, RunRecord, RunSettings } from './report.js';

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
  /** Another node upstream script (dist/bench/<script>.js, same flags and ready line); default `upstream`. */
  script?: string;
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
  /** Process charged for proxy CPU (with its live descendants); null for `direct`. */
  pid: number | null;
  /** Request path for this candidate instead of the scenario's (same upstream answer). */
  path?: string;
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
  /** What one response is ('req' by default; 'msg' for the WebSocket scenario): table headers only. */
  readonly unit?: string;
  /** Load generator instead of autocannon (e.g. the WebSocket child process). */
  readonly load?: (opts: LoadOptions) => Promise<LoadResult>;
  /** Check of one response before the warm-up instead of the default (200 and the upstream's body size). */
  readonly check?: (url: string, path: string) => Promise<void>;
  /**
   * After each measured run, a second one at this fixed offered rate (req/s
   * over all connections, paced: lib/paced.ts): latency at a load every candidate carries, where
   * p99 shows what the proxy adds rather than queueing at saturation.
   */
  readonly fixedRate?: number;
  /** Acceptance targets computed from the results. */
  readonly checks?: (summary: CandidateSummary[], runs: RunRecord[]) => Check[];
  /** Extra markdown under the main table (derived figures). */
  readonly extraMarkdown?: (summary: CandidateSummary[], runs: RunRecord[]) => string;
  /**
   * Runs unpinned even under --pin (load generator, upstream and candidates
   * free on every CPU): for `--workers 2`, which needs both CPUs, next to a
   * load generator pinned to one of them it would only measure contention.
   */
  readonly unpinned?: boolean;
}

/** Settings and helpers a custom scenario gets. */
export interface CustomContext {
  env: BenchEnv;
  settings: RunSettings;
  /** Progress line to stderr. */
  log(msg: string): void;
  /** Whether result files are written (false with --no-write). */
  write: boolean;
  /** UTC start of the invocation, for file names. */
  startedAt: string;
}

export interface CustomReport {
  /** Markdown section (starting with `## name: title`). */
  markdown: string;
  /** Everything measured, for the JSON file. */
  data: unknown;
  checks: Check[];
  /** True when the scenario could not measure what it is for (exit code 1). */
  failed?: boolean;
}

/**
 * A scenario that does not fit "candidates under autocannon": it drives its
 * own processes (etcd, several gateways, flips) and reports itself.
 */
export interface CustomScenario {
  readonly kind: 'custom';
  readonly name: string;
  readonly title: string;
  run(ctx: CustomContext): Promise<CustomReport>;
}

/** What a bench/scenarios/*.ts module exports. */
export interface ScenarioModule {
  readonly name: string;
  readonly summary: string;
  /** Left out of the default run (`all`); selectable with --scenario. */
  readonly optional?: boolean;
  create(): Scenario | CustomScenario;
}

export function isCustom(s: Scenario | CustomScenario): s is CustomScenario {
  return (s as CustomScenario).kind === 'custom';
}

/** Thrown by prepare() or run() when a scenario cannot run on this build; printed as a note, not a failure. */
export class ScenarioSkipped extends Error {}

/** Reference candidates the ratios are computed against. */
export const DIRECT = 'direct';
export const BARE = 'bare-undici';
