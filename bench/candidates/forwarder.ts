// A candidate that is one node script taking `--target URL` and printing
// `<label> listening on http://HOST:PORT` (bench/bare-forwarder.ts,
// bench/servers/*.ts).
import { benchScript } from '../lib/paths.js';
import { startProcess } from '../lib/spawn.js';
import type { Candidate } from '../lib/types.js';
import { nodeFlags } from './node-flags.js';

export function forwarder(name: string, script: string, extraArgs: string[] = []): Candidate {
  const ready = new RegExp(`${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} listening on (http://\\S+)`);
  return {
    name,
    async start(ctx) {
      const p = await startProcess({
        name,
        command: process.execPath,
        args: [...nodeFlags(ctx.env, name), benchScript(script), '--target', ctx.upstream.url, ...extraArgs],
        ready: [ready],
        cpu: ctx.env.proxyCpu,
      });
      return { url: p.matches[0]![1]!, pid: p.pid, stop: () => p.stop() };
    },
  };
}
