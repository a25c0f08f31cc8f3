import type { Logger } from 'pino';
import type { GatewayOptions } from '../config.js';
import { urlOf, type Listeners } from './listeners.js';
import { CertificateStore } from './tls-certificates.js';

/**
 * Opens every --listen port, then every --tls-listen port with the
 * certificates (throws on a bad certificate: the CLI reports it and exits).
 * Returns the data-plane URLs in that order.
 */
export async function openDataPlane(listeners: Listeners, options: GatewayOptions, logger: Logger, listenPorts: Set<number>): Promise<{ urls: string[]; certificates: CertificateStore | null }> {
  const urls: string[] = [];
  for (const addr of options.listen) {
    const a = await listeners.listen(addr);
    listenPorts.add(a.port);
    urls.push(urlOf(a));
  }
  let certificates: CertificateStore | null = null;
  if (options.tls.listen.length > 0) {
    certificates = new CertificateStore(options.tls.files, logger);
    for (const addr of options.tls.listen) {
      const a = await listeners.listen(addr, false, certificates);
      listenPorts.add(a.port);
      urls.push(urlOf(a, 'https'));
    }
  }
  return { urls, certificates };
}
