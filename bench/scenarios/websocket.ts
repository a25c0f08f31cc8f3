// (h) WebSocket echo: N connections (--connections), each with one 64-byte
// binary message in flight, echoed by bench/ws-upstream.ts; direct vs through
// Switchyard (HTTP upgrade, then the two sockets spliced). The load generator
// is a child process (bench/ws-load.ts, `ws`), so its CPU is not the bench's.
// "msg/s" counts echoes received; latency is send -> echo per message.
import WebSocket from 'ws';
import { direct } from '../candidates/direct.js';
import { switchyard } from '../candidates/switchyard.js';
import type { LoadOptions, LoadResult } from '../lib/load.js';
import { benchScript } from '../lib/paths.js';
import { startProcess } from '../lib/spawn.js';
import type { ScenarioModule } from '../lib/types.js';

const MESSAGE_BYTES = 64;

const wsUrl = (url: string, path: string) => url.replace(/^http/, 'ws') + path;

async function wsLoad(opts: LoadOptions): Promise<LoadResult> {
  const p = await startProcess({
    name: 'ws-load',
    command: process.execPath,
    args: [
      benchScript('ws-load'),
      '--url', wsUrl(opts.url, opts.request.path),
      '--connections', String(opts.connections),
      '--duration', String(opts.durationS),
      '--size', String(MESSAGE_BYTES),
    ],
    ready: [/^RESULT (.*)$/m],
    timeoutMs: opts.durationS * 1000 + 30_000,
  }).catch((err: Error) => {
    // Keep the child's own error on the first line (progress lines and notes show only that).
    const m = /^ERROR (.*)$/m.exec(err.message);
    throw new Error(m ? `ws-load: ${m[1]}` : err.message.replace(/:\n/, ': ').replace(/\n/g, ' | '));
  });
  try {
    return JSON.parse(p.matches[0]![1]!) as LoadResult;
  } finally {
    await p.stop();
  }
}

/** One message must come back unchanged. */
function echoCheck(url: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url, path), { perMessageDeflate: false });
    const t = setTimeout(() => {
      ws.terminate();
      reject(new Error(`check ${wsUrl(url, path)}: no echo within 5 s`));
    }, 5000);
    ws.once('error', (err) => {
      clearTimeout(t);
      reject(new Error(`check ${wsUrl(url, path)}: ${err.message}`));
    });
    ws.once('open', () => ws.send('ping-check'));
    ws.once('message', (data) => {
      clearTimeout(t);
      ws.close();
      if (String(data) === 'ping-check') resolve();
      else reject(new Error(`check ${wsUrl(url, path)}: echo was ${String(data).slice(0, 50)}`));
    });
  });
}

export const websocket: ScenarioModule = {
  name: 'websocket',
  summary: 'WebSocket echo, one 64-byte message in flight per connection; direct, switchyard',
  create: () => ({
    name: 'websocket',
    title: `WebSocket echo: one ${MESSAGE_BYTES}-byte binary message in flight per connection, load generator in a child process`,
    upstream: { bodyBytes: 13, nginxOk: false, script: 'ws-upstream' },
    request: { method: 'GET', path: '/' },
    unit: 'msg',
    load: wsLoad,
    check: echoCheck,
    candidates: [direct(), switchyard()],
  }),
};
