// The dashboard's static files (HTML, one vanilla JS file, CSS, an icon),
// kept as plain files under src/control/dashboard/assets/ and read once at
// startup.
//
// Where they are found: tsc compiles this module to
// dist/src/control/dashboard/assets.js but does not copy non-TypeScript
// files, so the directory is looked up in order:
//   1. `assets/` next to this module: running from the source tree, or a
//      build that copied the directory next to the compiled module (a
//      container image that ships only dist/ must do so:
//      `COPY src/control/dashboard/assets dist/src/control/dashboard/assets`);
//   2. the source tree of the package this module was compiled from
//      (dist/src/control/dashboard -> ../../../../src/control/dashboard/assets),
//      which is where `npm run build` and the tests find it.
// The first directory that holds every file wins. If none does, the gateway
// still starts; the dashboard answers 503 and the error names the paths tried.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  /** URL path it is served at. */
  urlPath: string;
  contentType: string;
  body: Buffer;
  etag: string;
}

/** URL path -> file name under the assets directory. */
const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', contentType: 'text/css; charset=utf-8' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', contentType: 'image/svg+xml' },
};

export const ASSET_PATHS: readonly string[] = Object.keys(FILES);

/** Directories searched, best first. */
export function assetDirCandidates(moduleUrl: string = import.meta.url): string[] {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const candidates = [path.join(here, 'assets'), path.resolve(here, '../../../../src/control/dashboard/assets')];
  return [...new Set(candidates)];
}

export type LoadedAssets = { ok: true; dir: string; assets: Map<string, Asset> } | { ok: false; tried: string[] };

export function loadAssets(dirs: string[] = assetDirCandidates()): LoadedAssets {
  for (const dir of dirs) {
    if (!Object.values(FILES).every(({ file }) => existsSync(path.join(dir, file)))) continue;
    const assets = new Map<string, Asset>();
    for (const [urlPath, { file, contentType }] of Object.entries(FILES)) {
      const body = readFileSync(path.join(dir, file));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(urlPath, { urlPath, contentType, body, etag });
    }
    return { ok: true, dir, assets };
  }
  return { ok: false, tried: dirs };
}
