import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full, compacting garbage collection shortly after a large table went
 * live. Loading or rebuilding 100 000 routes leaves ~100 MB of garbage (store
 * pages, parsed values, the old table) that V8 would otherwise keep as
 * resident pages for a long while; one collection once the burst is over
 * hands them back. One pause (~90 ms with 100 000 routes) per large apply, at
 * most once per QUIET_MS.
 */
const QUIET_MS = 1000;

let gc: (() => void) | null | undefined;
let timer: NodeJS.Timeout | null = null;

function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** (Re)starts the quiet period after which the collection runs. */
export function compactHeapSoon(): void {
  if (timer) timer.refresh();
  else {
    timer = setTimeout(() => {
      timer = null;
      collector()?.();
    }, QUIET_MS);
    timer.unref();
  }
}
