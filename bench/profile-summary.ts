// Top self-time functions of .cpuprofile files (from `npm run bench -- --cpu-prof DIR`
// or any `node --cpu-prof` run).
//   node dist/bench/profile-summary.js FILE.cpuprofile... [--top 20]
import { parseArgs } from 'node:util';
import { formatTopSelfTime } from './lib/cpuprofile.js';

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile... [--top 20]\n');
  process.exit(2);
}
for (const f of positionals) process.stdout.write(formatTopSelfTime(f, Number(values.top)) + '\n\n');
