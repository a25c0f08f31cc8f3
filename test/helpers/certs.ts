import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A throwaway CA and leaf certificates made with openssl: `leaf(name, sans)`
 * writes NAME.crt and NAME.key into `dir`, signed by the CA (ca.crt).
 */
export function makeCa(dir: string): { caFile: string; leaf(name: string, sans: string[], outDir?: string, days?: number): { cert: string; key: string } } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.crt');
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=switchyard test CA');
  let serial = 1;
  return {
    caFile,
    leaf(name, sans, outDir = dir, days = 2) {
      const key = path.join(outDir, `${name}.key`);
      const cert = path.join(outDir, `${name}.crt`);
      const csr = path.join(dir, `${name}-${serial}.csr`);
      const ext = path.join(dir, `${name}-${serial}.ext`);
      writeFileSync(ext, `subjectAltName=${sans.map((s) => (/^\d/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',')}\n`);
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${sans[0]}`);
      ssl('x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++), '-out', cert, '-days', String(days), '-extfile', ext);
      return { cert, key };
    },
  };
}
