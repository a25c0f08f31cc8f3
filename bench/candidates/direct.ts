// `direct`: the load generator straight at the upstream. No proxy process, so
// no proxy CPU; its req/s and p99 are what the other candidates are held to.
import { DIRECT, type Candidate } from '../lib/types.js';

export function direct(): Candidate {
  return {
    name: DIRECT,
    async start(ctx) {
      return { url: ctx.upstream.url, pid: null, stop: async () => undefined };
    },
  };
}
