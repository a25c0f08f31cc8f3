// `switchyard tap ROUTE`: prints one line per proxied request of a route,
// live, from the admin API's GET /debug/tap (server-sent events).

import { Command, InvalidArgumentError } from 'commander';
import { addCommon, CliError, run, type CommonOptions } from './admin-commands.js';

interface TapEvent {
  time: string;
  method: string;
  path: string;
  status: number;
  target: string;
  durationMs: number;
  requestId: string;
}

export function formatTapLine(e: TapEvent): string {
  return `${e.time}  ${String(e.status).padEnd(3)}  ${e.method.padEnd(6)} ${e.path}  -> ${e.target || '-'}  ${e.durationMs.toFixed(1)} ms  ${e.requestId}`;
}

export function registerTapCommand(program: Command): void {
  addCommon(
    program
      .command('tap')
      .description('print live lines for every proxied request of ROUTE (sampled and capped by the gateway)')
      .argument('<route>')
      .option('--sample <rate>', 'share of requests to show, (0, 1]', (v) => {
        const n = Number(v);
        if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('must be a number in (0, 1]');
        return n;
      })
      .option('--max <n>', 'at most this many lines per second', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
        return n;
      }),
  ).action(run(async (route: string, o: CommonOptions & { sample?: number; max?: number }) => {
    const qs = new URLSearchParams({ route });
    if (o.sample !== undefined) qs.set('sample', String(o.sample));
    if (o.max !== undefined) qs.set('max', String(o.max));
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (process.env.SWITCHYARD_ADMIN_TOKEN) headers.authorization = `Bearer ${process.env.SWITCHYARD_ADMIN_TOKEN}`;
    let res: Response;
    try {
      res = await fetch(`${o.admin.replace(/\/+$/, '')}/debug/tap?${qs}`, { headers });
    } catch (err) {
      throw new CliError(`cannot reach the admin API at ${o.admin}: ${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      throw new CliError(`${body.error ?? `HTTP ${res.status}`}: ${body.message ?? ''}`);
    }
    process.stderr.write(`tapping route ${route} (Ctrl-C to stop)\n`);
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of block.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const e = JSON.parse(line.slice(6)) as TapEvent;
          process.stdout.write((o.json ? JSON.stringify(e) : formatTapLine(e)) + '\n');
        }
      }
    }
  }));
}
