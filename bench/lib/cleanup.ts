// Cleanups that are not child processes of lib/spawn.ts (an etcd cluster from
// test/helpers/etcd.ts, etcd clients, scratch dirs): registered while in use,
// run by the scenario when it is done and by run.ts on errors and signals.
const pending = new Map<number, { what: string; fn: () => Promise<void> | void }>();
let seq = 0;

/** Registers `fn`; the returned function runs it (once) and unregisters it. */
export function onCleanup(what: string, fn: () => Promise<void> | void): () => Promise<void> {
  const id = seq++;
  pending.set(id, { what, fn });
  return async () => {
    const e = pending.get(id);
    if (!e) return;
    pending.delete(id);
    await e.fn();
  };
}

/** Runs every registered cleanup (newest first); never throws. */
export async function runCleanups(log: (msg: string) => void = () => undefined): Promise<void> {
  const all = [...pending.entries()].reverse();
  pending.clear();
  for (const [, e] of all) {
    try {
      await e.fn();
    } catch (err) {
      log(`cleanup ${e.what}: ${(err as Error).message}`);
    }
  }
}
