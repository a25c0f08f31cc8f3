import type { Logger } from 'pino';
import type { GatewayOptions } from '../config.js';
import { FileStore } from './file-store.js';
import type { Store } from './store.js';

/** The Store named by --store. */
export async function openStore(options: GatewayOptions, logger: Logger): Promise<Store> {
  if (options.store.startsWith('file:')) return FileStore.open(options.store.slice('file:'.length), { logger });
  throw new Error(`store "${options.store}" is not supported yet`);
}
