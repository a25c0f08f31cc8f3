#!/usr/bin/env node
// Makes sure the Chromium the dashboard browser tests drive is installed
// (`npm test` runs this before the suites). Like ensure-etcd.mjs: as root with
// apt-get it installs Debian's chromium itself and says so; otherwise it exits
// 1 with instructions. Never a silent skip.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = process.env.SWITCHYARD_TEST_CHROMIUM || '/usr/bin/chromium';
if (existsSync(wanted)) process.exit(0);

function fail(why) {
  console.error(`\n${why}\n\nThe dashboard tests drive a headless Chromium. Install it, then run the tests again:\n`
    + '  Debian/Ubuntu:  sudo apt-get install chromium\n'
    + 'or point SWITCHYARD_TEST_CHROMIUM at a Chromium or Chrome binary.\n');
  process.exit(1);
}

if (process.env.SWITCHYARD_TEST_CHROMIUM) fail(`SWITCHYARD_TEST_CHROMIUM=${wanted} does not exist.`);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
if (!isRoot || !hasApt) fail(`${wanted} not found${hasApt ? ' (not root, so not installing it with apt-get)' : ''}.`);

console.log("chromium not found: installing Debian's chromium with apt-get");
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const apt = (...args) => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'inherit', env }).status === 0;
if (!apt('install', '-y', 'chromium')) {
  console.log('apt-get install failed; running apt-get update and trying once more');
  if (!apt('update') || !apt('install', '-y', 'chromium')) fail('apt-get install -y chromium failed.');
}
if (!existsSync(wanted)) fail(`${wanted} is still missing after the install.`);
