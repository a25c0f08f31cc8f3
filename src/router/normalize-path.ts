// Request-path normalisation for route matching (CONTRACT §2). Decisions:
// - Only escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded;
//   any other escape is kept with upper-case hex, so %2F never turns into a
//   separator and %2f / %2F compare equal.
// - Runs of '/' are merged into one ('//admin' -> '/admin'), like nginx's
//   default merge_slashes, so a route cannot be dodged with extra slashes.
//   The upstream receives the merged path.
// - '.' and '..' segments are resolved after decoding (so %2e%2e counts too)
//   and after merging ('/a//../b' -> '/b'). Climbing above '/' is an error.

const SLASH = 47; // '/'
const DOT = 46; // '.'
const PCT = 37; // '%'
const QMARK = '?';

const HEX = '0123456789ABCDEF';

/** ALPHA / DIGIT / '-' / '.' / '_' / '~' by char code (RFC 3986 §2.3). */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1; // also NaN (past the end)
}

/** Split a request target into path and query ('?...' or ''). No URL parsing. */
export function splitPathAndQuery(url: string): { path: string; query: string } {
  const q = url.indexOf(QMARK);
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) };
}

/**
 * Normalise a request path for matching and forwarding; null means 400
 * (no leading '/', a bad '%' escape, or '..' above the root).
 * A path with no '%', no '//' and no dot segment is returned as is.
 */
export function normalizePath(path: string): string | null {
  if (path.charCodeAt(0) !== SLASH) return null;
  return isClean(path) ? path : slowNormalize(path);
}

/** Char scan: true when nothing in `p` needs decoding, merging or dot resolution. */
function isClean(p: string): boolean {
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const c = p.charCodeAt(i);
    if (c === PCT) return false;
    if (c !== SLASH || i + 1 === n) continue;
    const d = p.charCodeAt(i + 1);
    if (d === SLASH) return false;
    if (d !== DOT) continue;
    const e = i + 2 < n ? p.charCodeAt(i + 2) : SLASH; // '/.' at the end is a dot segment
    if (e === SLASH) return false;
    if (e === DOT && (i + 3 === n || p.charCodeAt(i + 3) === SLASH)) return false;
  }
  return true;
}

function slowNormalize(p: string): string | null {
  const s = p.indexOf('%') === -1 ? p : decodeUnreserved(p);
  if (s === null) return null;
  const segs = s.split('/'); // segs[0] is '' (leading slash)
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '' || seg === '.') continue; // merged slash / current dir
    if (seg === '..') {
      if (out.length === 0) return null; // above the root
      out.pop();
    } else out.push(seg);
  }
  if (out.length === 0) return '/';
  // A path ending in '/', '/.' or '/..' names a directory: keep the trailing slash.
  const last = segs[segs.length - 1];
  const trailing = last === '' || last === '.' || last === '..';
  return '/' + out.join('/') + (trailing ? '/' : '');
}

/** Decode %XX of unreserved chars, upper-case the rest; null on a malformed escape. */
function decodeUnreserved(p: string): string | null {
  let out = '';
  let from = 0;
  for (let i = p.indexOf('%'); i !== -1; i = p.indexOf('%', from)) {
    const hi = hexVal(p.charCodeAt(i + 1));
    const lo = hexVal(p.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return null;
    const code = hi * 16 + lo;
    out += p.slice(from, i) + (UNRESERVED[code] === 1 ? String.fromCharCode(code) : '%' + HEX[hi] + HEX[lo]);
    from = i + 3;
  }
  return out + p.slice(from);
}

/**
 * The path a stripPrefix route forwards: `prefix` (a route's match.path)
 * removed on a segment boundary, never leaving an empty path.
 * '/api' on '/api/x' -> '/x', on '/api' -> '/'; prefix '/' leaves the path alone.
 * A path the prefix does not match segment-wise is returned unchanged.
 */
export function stripPrefix(path: string, prefix: string): string {
  // Normalised like RouteTable indexes it ('/%61pi' is '/api'); '/api/'
  // strips like '/api' so the remainder keeps its leading slash.
  let p = normalizePath(prefix) ?? prefix;
  if (p.charCodeAt(p.length - 1) === SLASH) p = p.slice(0, -1);
  if (p.length === 0) return path;
  if (!path.startsWith(p)) return path;
  if (path.length === p.length) return '/';
  return path.charCodeAt(p.length) === SLASH ? path.slice(p.length) : path;
}
