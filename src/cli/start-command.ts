import { Command, Option } from 'commander';
import { ConfigError, readConfigFile, resolveOptions, SETTINGS, type RawSettings, type SettingName } from '../config.js';

const HELP: Record<SettingName, [string, string]> = {
  listen: ['--listen <ports>', 'data-plane ports, comma list; HOST:PORT allowed; 0 = ephemeral'],
  portRange: ['--port-range <A-B>', 'ports that port-matched routes may open at run time'],
  admin: ['--admin <host:port>', 'admin API, metrics, dashboard'],
  adminToken: ['--admin-token <token>', 'admin bearer token; required when the admin host is not loopback'],
  store: ['--store <uri>', 'file:DIR (embedded) or etcd://H:P[,H:P...]'],
  prefix: ['--prefix <p>', 'etcd key prefix'],
  nodeId: ['--node-id <id>', "this node's name in /nodes (default hostname-pid)"],
  group: ['--group <g>', 'logical node group'],
  workers: ['--workers <n>', 'data-plane processes on this machine (auto = CPUs)'],
  config: ['--config <file>', 'the same settings as a YAML or JSON file'],
  logLevel: ['--log-level <level>', 'pino log level'],
  graceMs: ['--grace-ms <ms>', 'how long in-flight requests may take to finish on SIGTERM'],
  stateDir: ['--state-dir <dir>', "local state of a node on etcd (its last-known-good table)"],
  tlsListen: ['--tls-listen <ports>', 'TLS-terminating data-plane ports, comma list; HOST:PORT allowed'],
  tlsCert: ['--tls-cert <file>', 'default certificate (PEM) of the TLS listeners'],
  tlsKey: ['--tls-key <file>', 'its private key (PEM)'],
  tlsCertDir: ['--tls-cert-dir <dir>', 'NAME.crt + NAME.key pairs, chosen by SNI from the names they cover; reloaded on change'],
  upstreamCa: ['--upstream-ca <file>', 'extra CA certificates (PEM) to trust for https:// targets'],
  adminTlsCert: ['--admin-tls-cert <file>', 'serve the admin API over TLS with this certificate (PEM)'],
  adminTlsKey: ['--admin-tls-key <file>', 'its private key (PEM)'],
  accessLog: ['--access-log <file>', "one JSON line per proxied request to this file ('-' = stdout); off by default"],
  otlpEndpoint: ['--otlp-endpoint <url>', 'export a span per proxied request to this OpenTelemetry collector (OTLP/HTTP JSON)'],
  maxHeaderSize: ['--max-header-size <bytes>', 'request line + headers; larger requests get 431'],
  maxHeaderCount: ['--max-header-count <n>', 'header fields per request; more get 431'],
  maxBodySize: ['--max-body-size <bytes>', "request body limit of routes without maxBodyBytes (413 above it); 0 = unlimited"],
  headersTimeoutMs: ['--headers-timeout-ms <ms>', 'time a client has to send the request headers (slowloris)'],
  requestTimeoutMs: ['--request-timeout-ms <ms>', 'time a client has to send the whole request; 0 = off'],
  keepAliveTimeoutMs: ['--keep-alive-timeout-ms <ms>', 'idle keep-alive client connections are closed after this'],
  maxConnections: ['--max-connections <n>', 'open connections per data-plane listener; 0 = unlimited'],
  maxInflight: ['--max-inflight <n>', 'proxied requests in flight per process before 503 overloaded; 0 = unlimited'],
  maxUpstreamHeaderSize: ['--max-upstream-header-size <bytes>', 'largest upstream response header block (502 above it)'],
  trustProxy: ['--trust-proxy <list>', 'IPs/CIDRs whose x-forwarded-* and forwarded headers are kept (default: nobody)'],
};

export function registerStartCommand(program: Command): void {
  const cmd = program.command('start').description('run the gateway (flags > env > --config file > defaults)');
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const [flags, help] = HELP[name];
    const [env, def] = SETTINGS[name];
    cmd.addOption(new Option(flags, `${help}${def !== undefined ? ` (default ${def})` : ''}`).env(env));
  }
  cmd.action(async (opts: RawSettings) => {
    let options;
    try {
      const fromFile = opts.config ? readConfigFile(opts.config) : {};
      options = resolveOptions({ ...fromFile, ...stripUndefined(opts) });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`switchyard start: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const { runGateway } = await import('../run-gateway.js');
    await runGateway(options);
  });
}

function stripUndefined(o: RawSettings): RawSettings {
  const out: RawSettings = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k as SettingName] = String(v);
  return out;
}
