// Issue 9: "10 taps open under load change throughput by less than 5 %".
// Interleaved rounds of autocannon against one gateway, with no tap and with
// 10 debug taps (server-sent event readers) open on the benchmarked route;
// prints req/s per round and the median ratio. Run: node dist/bench/tap-overhead.js
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { admin, startGateway } from '../test/helpers/gateway.js';

const ROUNDS = Number(process.env.ROUNDS ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 5);

async function load(url: string): Promise<number> {
  const r = await autocannon({ url, connections: 50, duration: SECONDS });
  return r.requests.average;
}

function openTaps(adminUrl: string, n: number): http.ClientRequest[] {
  return Array.from({ length: n }, () => {
    const req = http.get(`${adminUrl}/debug/tap?route=bench`, (res) => res.resume());
    req.on('error', () => {});
    return req;
  });
}

export async function main(): Promise<void> {
  const up = http.createServer((_q, s) => s.end('hello world!\n'));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const gw = await startGateway();
  try {
    await admin(gw, 'PUT', '/upstreams/bench', { name: 'bench', pools: { main: { targets: [`http://127.0.0.1:${(up.address() as AddressInfo).port}`] } } });
    await admin(gw, 'PUT', '/routes/bench', { id: 'bench', match: { path: '/' }, upstream: 'bench' });
    const url = `${gw.dataUrls[0]}/`;
    await load(url); // warm-up
    const ratios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so a drifting machine does not favour one.
      const measureWith = async () => {
        const taps = openTaps(gw.adminUrl, 10);
        await new Promise((r) => setTimeout(r, 300)); // let the taps connect
        const v = await load(url);
        for (const t of taps) t.destroy();
        return v;
      };
      let without: number;
      let withTaps: number;
      if (i % 2 === 0) {
        without = await load(url);
        withTaps = await measureWith();
      } else {
        withTaps = await measureWith();
        without = await load(url);
      }
      ratios.push(withTaps / without);
      console.log(`round ${i + 1}: no tap ${without.toFixed(0)} req/s, 10 taps ${withTaps.toFixed(0)} req/s, ratio ${(withTaps / without).toFixed(3)}`);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    console.log(`median throughput with 10 taps / without: ${median.toFixed(3)} (${((1 - median) * 100).toFixed(1)} % change; goal < 5 %)`);
  } finally {
    await gw.stop();
    up.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
