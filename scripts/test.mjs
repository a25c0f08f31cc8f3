#!/usr/bin/env node
// `npm test`: build, make sure the test prerequisites exist, run every suite.
import { spawnSync } from 'node:child_process';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.']);
const files = process.argv.slice(2);
run(process.execPath, ['--test', '--test-concurrency=2', ...(files.length ? files : ['dist/test/'])]);
