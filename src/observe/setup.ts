import type { GatewayOptions } from '../config.js';
import { createAccessLog } from './access-log.js';
import { OtlpExporter } from './otlp-exporter.js';
import { observers } from './request-observers.js';

/** Turns on the access log and trace export of a process that serves traffic. */
export function setupRequestSinks(options: GatewayOptions): { close(): Promise<void> } {
  const log = options.accessLog ? createAccessLog(options.accessLog) : null;
  const otlp = options.otlpEndpoint ? new OtlpExporter(options.otlpEndpoint) : null;
  if (log) observers.addSink(log.sink);
  if (otlp) observers.addSink(otlp.sink);
  return {
    async close() {
      log?.flush();
      await otlp?.close();
    },
  };
}
