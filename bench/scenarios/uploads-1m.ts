// (c) 1 MiB uploads: `POST /` with a 1 MiB body (autocannon sends the same
// prebuilt request, content-length framed); the node upstream reads every body
// to the end and answers 200 with 13 bytes and `x-received-bytes`. Request
// body streaming cost: client socket -> proxy -> upstream pool connection.
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { switchyard } from '../candidates/switchyard.js';
import { httpRequest } from '../lib/http.js';
import type { CandidateSummary } from '../lib/report.js';
import type { ScenarioModule } from '../lib/types.js';

const BODY_BYTES = 1024 * 1024;

function mbps(rps: number): number {
  return (rps * BODY_BYTES) / 1e6;
}

export const uploads1m: ScenarioModule = {
  name: 'uploads-1m',
  summary: 'POST / with a 1 MiB body; direct, switchyard, bare-undici',
  create: () => {
    const body = Buffer.alloc(BODY_BYTES, 'u');
    const headers = { 'content-type': 'application/octet-stream' };
    return {
      name: 'uploads-1m',
      title: '1 MiB uploads: `POST /` with a 1 048 576-byte body, 200 with 13 bytes, keep-alive',
      upstream: { bodyBytes: 13, nginxOk: false },
      request: { method: 'POST', path: '/', headers, body },
      candidates: [direct(), switchyard(), bareUndici()],
      check: async (url, path) => {
        const res = await httpRequest(url + path, { method: 'POST', headers, body, timeoutMs: 10_000 });
        if (res.status !== 200) throw new Error(`check POST ${url}${path}: status ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
        const got = Number(res.headers['x-received-bytes']);
        if (got !== BODY_BYTES) throw new Error(`check POST ${url}${path}: the upstream received ${got} bytes, expected ${BODY_BYTES}`);
      },
      extraMarkdown: (summary: CandidateSummary[]) =>
        [
          '| candidate | uploaded MB/s | CPU µs/req | CPU ms per GB uploaded |',
          '| --- | --: | --: | --: |',
          ...summary
            .filter((s) => s.rounds > 0)
            .map(
              (s) =>
                `| ${s.candidate} | ${mbps(s.rps).toFixed(0)} | ${Number.isFinite(s.cpuMicrosPerReq) ? s.cpuMicrosPerReq.toFixed(0) : '—'} | ` +
                `${Number.isFinite(s.cpuMicrosPerReq) ? ((s.cpuMicrosPerReq / 1000) * (1e9 / BODY_BYTES)).toFixed(0) : '—'} |`,
            ),
          '',
          'MB/s = req/s × 1 MiB (10⁶ bytes per MB), request bodies only.',
        ].join('\n'),
    };
  },
};
