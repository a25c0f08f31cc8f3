import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './gateway.js';

export interface AutocannonResult {
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

/** autocannon in its own process, as a real client would be; stopped by pid if the test ends first. */
export function runAutocannon(url: string, args: string[]): { done: Promise<AutocannonResult>; pid: number; kill(): void } {
  const bin = path.join(REPO_ROOT, 'node_modules/autocannon/autocannon.js');
  const child = spawn(process.execPath, [bin, '--json', ...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const done = new Promise<AutocannonResult>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.slice(-500)}`));
      resolve(JSON.parse(out) as AutocannonResult);
    });
  });
  return { done, pid: child.pid!, kill: () => void child.kill('SIGKILL') };
}
