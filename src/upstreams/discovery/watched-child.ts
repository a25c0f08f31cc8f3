// Spawning a backend process that can never outlive its gateway.
//
// Node has no PR_SET_PDEATHSIG, and a gateway killed with SIGKILL runs no
// cleanup. So every backend is started through a tiny /bin/sh watchdog:
//
//   exec 3<&0                      keep the gateway's stdin pipe (a background
//                                  job's stdin is /dev/null otherwise)
//   ( trap '' TERM INT HUP         the watchdog ignores the signals meant for the app
//     while read -r _; do :; done  blocks until the gateway's end of the pipe closes,
//                                  which the kernel does when the gateway dies, however
//     kill -s TERM 0               then: TERM to the whole process group,
//     sleep GRACE; kill -s KILL 0  KILL after a grace
//   ) <&3 &
//   exec "$@" </dev/null 3<&-      the shell becomes the app (same pid)
//
// The child is spawned `detached`, so it leads its own process group: the
// group holds the app, the watchdog and whatever the app starts, and the
// gateway stops it all with one kill(-pgid). Because `exec` keeps the pid,
// Node's 'exit' event reports the app's own exit code or signal. The
// watchdog costs one idle `sh` (about 1 MB) per backend and no polling. The
// pipe is close-on-exec in the gateway, so no other child holds it open.
// Limit: a backend that moves itself into another process group or session
// (setsid, daemonising) escapes the group kill.
import { spawn, type ChildProcess } from 'node:child_process';

/** How long the watchdog waits between TERM and KILL once the gateway is gone. */
export const ORPHAN_GRACE_S = 2;

const WATCHDOG = [
  'exec 3<&0',
  `( trap '' TERM INT HUP; while read -r _; do :; done; kill -s TERM 0 2>/dev/null; sleep ${ORPHAN_GRACE_S}; kill -s KILL 0 2>/dev/null ) <&3 &`,
  'exec "$@" </dev/null 3<&-',
].join('\n');

export interface WatchedSpawnOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Starts `command args` under the watchdog. stdout and stderr are pipes the
 * caller reads; stdin is the watchdog's lifeline and must stay open (never
 * written, never ended) for as long as the backend should live.
 */
export function spawnWatched(command: string, args: readonly string[], opts: WatchedSpawnOptions): ChildProcess {
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'switchyard-watchdog', command, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin!.on('error', () => {}); // EPIPE once the group is gone: nothing to do
  return child;
}

/** Signals the whole process group of a watched child; false when it is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
