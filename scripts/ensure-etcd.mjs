#!/usr/bin/env node
// Makes sure the etcd binary the etcd store tests need is installed
// (`npm test` runs this before the suites). Never skips silently: either etcd
// is there afterwards (exit 0) or this says why not and how to fix it (exit 1).
//
// - `etcd` on PATH (or $SWITCHYARD_TEST_ETCD, the binary test/helpers/etcd.ts
//   runs) -> exit 0.
// - else, as root with apt-get: install Debian's etcd-server, then check again.
// - else: exit 1 with instructions.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The full path of `name` on PATH (or `name` itself when it has a slash), or null. */
function which(name) {
  if (name.includes('/')) return executable(name) ? name : null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

const wanted = process.env.SWITCHYARD_TEST_ETCD || 'etcd';

/** Found and runnable (`etcd --version` exits 0): its path, else null. */
function findEtcd() {
  const bin = which(wanted);
  if (!bin) return null;
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: withoutEtcdVars() });
  return r.status === 0 ? bin : null;
}

/** etcd reads every ETCD_* variable as a flag; keep them away from it. */
function withoutEtcdVars() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
}

function fail(why) {
  console.error(
    `\n${why}\n\n`
    + 'The etcd store tests run a throwaway etcd (3.4 or newer) and need the `etcd` binary on PATH.\n'
    + 'Install it, then run the tests again:\n'
    + '  Debian/Ubuntu:  sudo apt-get install etcd-server\n'
    + '  macOS:          brew install etcd\n'
    + '  other:          https://etcd.io/docs/latest/install/ (put `etcd` on PATH)\n'
    + 'or point SWITCHYARD_TEST_ETCD at an etcd binary.\n',
  );
  process.exit(1);
}

if (findEtcd()) process.exit(0);

if (wanted !== 'etcd') fail(`SWITCHYARD_TEST_ETCD=${wanted} is not an executable etcd binary.`);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const aptGet = which('apt-get');
if (!isRoot || !aptGet) {
  fail(`etcd not found on PATH${!aptGet ? '' : ' (not root, so not installing it with apt-get)'}.`);
}

console.log("etcd not found: installing Debian's etcd-server with apt-get");
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const apt = (...args) => spawnSync(aptGet, ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'inherit', env: aptEnv }).status === 0;

if (!apt('install', '-y', 'etcd-server')) {
  console.log('apt-get install failed; running apt-get update and trying once more');
  if (!apt('update')) fail('apt-get update failed; could not install etcd-server.');
  if (!apt('install', '-y', 'etcd-server')) fail('apt-get install -y etcd-server failed.');
}

const bin = findEtcd();
if (!bin) fail('etcd-server was installed, but no runnable `etcd` is on PATH.');
const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env: withoutEtcdVars() }).stdout.split('\n')[0];
console.log(`etcd installed: ${bin} (${version})`);
