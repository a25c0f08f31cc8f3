// Replays a Dockerfile without a Docker engine (none is reachable on the
// machines these tests run on): every stage gets its own directory standing
// for the image's root filesystem, COPY copies into it, RUN runs there, ENV,
// WORKDIR, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT and CMD are recorded, and
// the final stage can be started as the unprivileged user it names.
//
// What cannot be replayed is said, never guessed:
// - the base image is the host's Node.js, whatever `FROM node:...` names;
// - RUN only runs commands from a short list of known, relative-path forms
//   (npm ci, npx tsc, rm/cp/mkdir of relative paths). Anything else, or an
//   absolute path, fails the replay: a RUN line must never touch the host.
// - `npm cache clean --force` is skipped (it would empty the host's cache;
//   in an image it only saves space).
// Stages run concurrently, as BuildKit runs them; `COPY --from` waits for
// the stage it names.
import { spawn } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';

export interface Instruction {
  op: string;
  /** The instruction's text after its keyword, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  index: number;
  name: string | null;
  base: string;
  instructions: Instruction[];
}

/** Instructions by stage; comments, parser directives and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      l = l.replace(/\\\s*$/, ' ');
      i++;
      if (/^\s*#/.test(lines[i]!)) continue; // comment lines inside a continuation are dropped
      l += lines[i]!;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*?)\s*$/.exec(l);
    if (!m) throw new Error(`Dockerfile line ${startLine}: cannot parse "${l}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ');
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+ )?(\S+)(?: AS (\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile line ${startLine}: cannot parse FROM ${args}`);
      stages.push({ index: stages.length, name: f[2] ?? null, base: f[1]!, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile line ${startLine}: ${op} before FROM`);
    stage.instructions.push({ op, args, line: startLine });
  }
  return stages;
}

/** `K=V K2="v 2"` -> pairs (the legacy `ENV K V` form too). */
export function parseEnv(args: string): [string, string][] {
  const out: [string, string][] = [];
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+) (.*)$/.exec(args);
    if (!m) throw new Error(`cannot parse ENV ${args}`);
    return [[m[1]!, m[2]!]];
  }
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of args.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
  return out;
}

export interface Healthcheck {
  options: Record<string, string>;
  /** argv: exec form as given, shell form as ['/bin/sh', '-c', text]. */
  command: string[];
}

export function parseHealthcheck(args: string): Healthcheck {
  const options: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)=(\S+) (.*)$/.exec(rest);
    if (!m) break;
    options[m[1]!] = m[2]!;
    rest = m[3]!;
  }
  const c = /^CMD (.*)$/.exec(rest);
  if (!c) throw new Error(`HEALTHCHECK ${args}: only the CMD form is replayed`);
  const text = c[1]!;
  return { options, command: text.startsWith('[') ? (JSON.parse(text) as string[]) : ['/bin/sh', '-c', text] };
}

/** The unprivileged user the final stage's USER maps to on this host. */
export interface RunAs {
  /** argv prefix that drops privileges, e.g. setpriv ...; [] when not root. */
  prefix: string[];
  uid: number;
  gid: number;
}

export function unprivileged(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [], uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  // `nobody`/`nogroup`: the standard unprivileged ids (65534) on Debian and Ubuntu.
  return { prefix: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'], uid: 65534, gid: 65534 };
}

export interface StageResult {
  stage: Stage;
  /** Directory standing for the stage's `/`. */
  fsRoot: string;
  workdir: string;
  env: Record<string, string>;
  user: string | null;
  expose: string[];
  healthcheck: Healthcheck | null;
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** Milliseconds per step, for the report. */
  timings: { step: string; ms: number }[];
}

export interface ReplayOptions {
  dockerfile: string;
  /** The build context (the repository root). */
  context: string;
  /** Where the stages' filesystems go. */
  root: string;
  /** Who the image's `USER` becomes, and which image users the host knows (for HOME and --chown). */
  runAs: RunAs;
  /**
   * A RUN command (one `&&` part) of the build stage that the caller replaces,
   * e.g. the full `npm ci` by a link to an existing node_modules. Return true
   * when handled.
   */
  substitute?: (part: string, stage: Stage, workdir: string) => boolean;
  /** Extra environment for RUN (e.g. npm_config_prefer_offline). */
  runEnv?: Record<string, string>;
  log?: (line: string) => void;
}

/** Users of the official node images, and their homes. */
const IMAGE_USERS: Record<string, string> = { node: '/home/node', root: '/root' };

function isRelativeSafe(p: string): boolean {
  return !path.isAbsolute(p) && !p.split('/').includes('..') && !/[$`*?~{}]/.test(p);
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

export class DockerfileReplay {
  readonly stages: Stage[];
  readonly #o: ReplayOptions;
  readonly #results = new Map<string, Promise<StageResult>>();

  constructor(o: ReplayOptions, text: string) {
    this.#o = o;
    this.stages = parseDockerfile(text);
    if (this.stages.length === 0) throw new Error('the Dockerfile has no FROM');
  }

  /** Replays every stage (concurrently); resolves with every stage's result, the final (the image) last. */
  async build(): Promise<StageResult[]> {
    const all = this.stages.map((s) => {
      const p = this.#runStage(s);
      this.#results.set(String(s.index), p);
      if (s.name) this.#results.set(s.name, p);
      return p;
    });
    return Promise.all(all);
  }

  /** Maps a path inside the stage's image to the host. */
  static hostPath(r: Pick<StageResult, 'fsRoot' | 'workdir'>, p: string): string {
    return path.isAbsolute(p) ? path.join(r.fsRoot, p) : path.join(r.fsRoot, r.workdir, p);
  }

  async #runStage(stage: Stage): Promise<StageResult> {
    const o = this.#o;
    const log = o.log ?? (() => {});
    if (!/^node:/.test(stage.base)) throw new Error(`stage ${stage.name ?? stage.index}: base image ${stage.base} cannot be replayed (only node:* images, standing in for the host's Node.js)`);
    const fsRoot = path.join(o.root, `stage-${stage.name ?? stage.index}`);
    mkdirSync(fsRoot, { recursive: true, mode: 0o755 });
    // What the node images have: a home for the `node` user, owned by it.
    const home = path.join(fsRoot, IMAGE_USERS.node!);
    mkdirSync(home, { recursive: true, mode: 0o755 });
    if (o.runAs.uid >= 0 && process.getuid?.() === 0) chownSync(home, o.runAs.uid, o.runAs.gid);
    const r: StageResult = { stage, fsRoot, workdir: '/', env: {}, user: null, expose: [], healthcheck: null, entrypoint: null, cmd: null, timings: [] };
    const timed = async <T>(step: string, f: () => Promise<T> | T): Promise<T> => {
      const t0 = performance.now();
      const v = await f();
      const ms = Math.round(performance.now() - t0);
      r.timings.push({ step, ms });
      log(`[${stage.name ?? stage.index}] ${step} (${ms} ms)`);
      return v;
    };
    const mapEnvValue = (v: string): string => v.replace(/^(file:)?(\/.*)$/, (_m, scheme: string | undefined, p: string) => `${scheme ?? ''}${path.join(fsRoot, p)}`);

    for (const ins of stage.instructions) {
      const where = `Dockerfile line ${ins.line}`;
      switch (ins.op) {
        case 'WORKDIR': {
          r.workdir = path.posix.resolve(r.workdir, ins.args);
          mkdirSync(path.join(fsRoot, r.workdir), { recursive: true, mode: 0o755 });
          break;
        }
        case 'ENV':
          // Values that name image paths point into this stage's filesystem.
          for (const [k, v] of parseEnv(ins.args)) r.env[k] = mapEnvValue(v);
          break;
        case 'USER':
          if (!(ins.args in IMAGE_USERS)) throw new Error(`${where}: USER ${ins.args} is not a user of the node images`);
          r.user = ins.args;
          break;
        case 'EXPOSE':
          r.expose.push(...ins.args.split(' '));
          break;
        case 'HEALTHCHECK':
          r.healthcheck = parseHealthcheck(ins.args);
          break;
        case 'ENTRYPOINT':
        case 'CMD': {
          if (!ins.args.startsWith('[')) throw new Error(`${where}: ${ins.op} in shell form is not replayed (use the exec form)`);
          const argv = JSON.parse(ins.args) as string[];
          if (ins.op === 'ENTRYPOINT') r.entrypoint = argv;
          else r.cmd = argv;
          break;
        }
        case 'COPY': {
          const words = ins.args.split(' ');
          let from: string | null = null;
          let chown: string | null = null;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift()!;
            const fm = /^--from=(\S+)$/.exec(flag);
            const cm = /^--chown=([^:]+)(?::\S+)?$/.exec(flag);
            if (fm) from = fm[1]!;
            else if (cm) chown = cm[1]!;
            else throw new Error(`${where}: COPY ${flag} is not replayed`);
          }
          const dest = words.pop()!;
          const srcs = words;
          await timed(`COPY ${ins.args}`, async () => {
            let srcRoot: (p: string) => string;
            if (from !== null) {
              const other = this.#results.get(from);
              if (!other) throw new Error(`${where}: COPY --from=${from}: no such stage before this one`);
              const o2 = await other;
              srcRoot = (p) => DockerfileReplay.hostPath(o2, p);
            } else {
              srcRoot = (p) => {
                if (!isRelativeSafe(p)) throw new Error(`${where}: COPY source ${p} must be a relative path inside the context`);
                return path.join(o.context, p);
              };
            }
            const destHost = DockerfileReplay.hostPath(r, dest);
            const intoDir = dest.endsWith('/') || srcs.length > 1;
            for (const s of srcs) {
              const src = srcRoot(s);
              if (!existsSync(src)) throw new Error(`${where}: COPY source ${s} does not exist (${src})`);
              // A directory source copies its contents, never the directory itself.
              const target = statSync(src).isDirectory() || !intoDir ? destHost : path.join(destHost, path.basename(s));
              mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
              cpSync(src, target, { recursive: true });
              if (chown !== null) {
                if (!(chown in IMAGE_USERS)) throw new Error(`${where}: --chown=${chown} is not a user of the node images`);
                if (process.getuid?.() === 0 && chown !== 'root') chownTree(target, o.runAs.uid, o.runAs.gid);
              }
            }
          });
          break;
        }
        case 'RUN': {
          if (ins.args.startsWith('[')) throw new Error(`${where}: RUN in exec form is not replayed`);
          const cwd = path.join(fsRoot, r.workdir);
          for (const raw of ins.args.split('&&')) {
            const part = raw.trim();
            if (o.substitute?.(part, stage, cwd)) {
              log(`[${stage.name ?? stage.index}] RUN ${part}: substituted by the caller`);
              continue;
            }
            if (/^npm cache clean --force$/.test(part)) {
              log(`[${stage.name ?? stage.index}] RUN ${part}: skipped (it would empty the host's npm cache)`);
              continue;
            }
            await timed(`RUN ${part}`, async () => {
              const words = part.split(' ');
              const known =
                /^npm ci( --[a-z-]+(=\S+)?)*$/.test(part) ||
                /^npx tsc( -p \S+| --outDir \S+)*$/.test(part) ||
                (/^(rm -rf|mkdir -p|cp -r|cp -R|cp)$/.test(words.slice(0, words[1]?.startsWith('-') ? 2 : 1).join(' ')) && words.slice(words[1]?.startsWith('-') ? 2 : 1).every(isRelativeSafe));
              if (!known) throw new Error(`${where}: the replay does not know how to run "${part}" safely; teach test/packaging/dockerfile-replay.ts`);
              const env: NodeJS.ProcessEnv = { ...process.env, ...r.env, ...o.runEnv };
              const res = await run('/bin/sh', ['-c', part], cwd, env);
              if (res.code !== 0) throw new Error(`${where}: RUN ${part} exited ${res.code}:\n${res.out.slice(-4000)}`);
            });
          }
          break;
        }
        case 'LABEL':
        case 'STOPSIGNAL':
          break;
        default:
          throw new Error(`${where}: ${ins.op} is not replayed; teach test/packaging/dockerfile-replay.ts`);
      }
    }
    return r;
  }
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

/** Every file under `dir`, relative, with `/` separators. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

/** A build-stage `npm ci` replaced by a link to an already installed node_modules of the same lockfile. */
export function linkNodeModules(from: string): (part: string, stage: Stage, workdir: string) => boolean {
  return (part, _stage, workdir) => {
    if (!/^npm ci\b/.test(part) || /--omit[= ]dev|--production/.test(part)) return false;
    symlinkSync(from, path.join(workdir, 'node_modules'), 'dir');
    return true;
  };
}
