import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  /** Requests received so far. */
  count: number;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, up: TestUpstream) => void;

/**
 * A real HTTP server on 127.0.0.1:0. By default it answers 200 with JSON
 * naming itself and echoing method, url and headers.
 */
export async function startUpstream(name: string, handler?: UpstreamHandler): Promise<TestUpstream> {
  const server = http.createServer();
  const up: TestUpstream = {
    name,
    url: '',
    port: 0,
    server,
    count: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req, res) => {
    up.count++;
    if (handler) return handler(req, res, up);
    const body = JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  (up as { url: string }).url = `http://127.0.0.1:${port}`;
  (up as { port: number }).port = port;
  return up;
}
