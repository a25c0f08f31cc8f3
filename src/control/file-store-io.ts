// On-disk encoding of the file store (src/control/file-store.ts) and the
// durable-write primitives it needs. Two files:
//
//   wal.jsonl      one line per write, appended and fdatasync'ed before the
//                  write is acknowledged:
//                  {"rev":7,"op":"put","kind":"routes","id":"a","raw":"{...}","crc":"1a2b3c4d"}
//                  (deletes carry no raw). `crc` is the CRC-32 of the line
//                  without its `,"crc":...` tail, so a torn or bit-flipped
//                  line is told apart from a real one.
//   snapshot.json  the compacted state at one revision, written to a temp
//                  file, fsync'ed and renamed over:
//                  {"format":1,"revision":R,"routes":{id:{raw,modRevision}},
//                   "upstreams":{...},"checksum":"sha256:<hex of the text before it>"}
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { ResourceKind } from '../resources.js';
import { StoreError, type StoredEntry } from './store.js';

export interface LogRecord {
  rev: number;
  op: 'put' | 'delete';
  kind: ResourceKind;
  id: string;
  raw?: string;
}

export const corrupt = (file: string, why: string): StoreError =>
  new StoreError(
    `file store: ${file} is corrupt (${why}); refusing to open rather than serve an empty or partial table. ` +
      'Restore it from a backup, or move the store directory away to start empty.',
    'store_corrupt',
  );

const crcHex = (text: string): string => crc32(text).toString(16).padStart(8, '0');
const CRC_TAIL = /,"crc":"([0-9a-f]{8})"\}$/;

export function encodeRecord(rec: LogRecord): string {
  const body = JSON.stringify(rec);
  return `${body.slice(0, -1)},"crc":"${crcHex(body)}"}\n`;
}

function decodeRecord(line: string): LogRecord | null {
  const m = CRC_TAIL.exec(line);
  if (!m) return null;
  const body = `${line.slice(0, m.index)}}`;
  if (crcHex(body) !== m[1]) return null;
  try {
    const r = JSON.parse(body) as LogRecord;
    const shapeOk =
      Number.isSafeInteger(r.rev) && r.rev > 0 && typeof r.id === 'string' &&
      (r.kind === 'routes' || r.kind === 'upstreams') &&
      (r.op === 'delete' || (r.op === 'put' && typeof r.raw === 'string'));
    return shapeOk ? r : null;
  } catch {
    return null;
  }
}

/**
 * Parses the log. A bad or unterminated line with nothing valid after it is a
 * write torn by a crash (never acknowledged: the fdatasync did not return), so
 * it is cut off at `goodBytes`. A bad line followed by valid ones is damage to
 * acknowledged data and is refused.
 */
export function parseLog(buf: Buffer, file: string): { records: LogRecord[]; goodBytes: number } {
  const records: LogRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) break;
    const rec = decodeRecord(buf.toString('utf8', pos, nl));
    if (!rec) {
      for (let p = nl + 1, n; p < buf.length && (n = buf.indexOf(0x0a, p)) !== -1; p = n + 1) {
        if (decodeRecord(buf.toString('utf8', p, n))) throw corrupt(file, `damaged line at byte ${pos}`);
      }
      break;
    }
    records.push(rec);
    pos = nl + 1;
  }
  return { records, goodBytes: pos };
}

export interface DecodedSnapshot {
  revision: number;
  routes: Map<string, StoredEntry>;
  upstreams: Map<string, StoredEntry>;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const CHECKSUM_TAIL = /,"checksum":"sha256:([0-9a-f]{64})"\}\n?$/;

export function encodeSnapshot(revision: number, routes: ReadonlyMap<string, StoredEntry>, upstreams: ReadonlyMap<string, StoredEntry>): string {
  return [...snapshotChunks(revision, routes, upstreams)].join('');
}

/**
 * The snapshot text in pieces of about 64 KiB, hashed as they are made: a
 * 100 000-route table is written without ever holding its whole text (tens
 * of MB, several times over) in memory. JSON.parse defines own properties,
 * so even an id like "__proto__" survives the round trip.
 */
export function* snapshotChunks(revision: number, routes: ReadonlyMap<string, StoredEntry>, upstreams: ReadonlyMap<string, StoredEntry>): Generator<string> {
  const hash = createHash('sha256');
  let text = `{"format":1,"revision":${JSON.stringify(revision)}`;
  for (const [kind, entries] of [['routes', routes], ['upstreams', upstreams]] as const) {
    text += `,"${kind}":{`;
    let first = true;
    for (const e of entries.values()) {
      text += `${first ? '' : ','}${JSON.stringify(e.id)}:{"raw":${JSON.stringify(e.raw)},"modRevision":${JSON.stringify(e.modRevision)}}`;
      first = false;
      if (text.length >= 65536) {
        hash.update(text);
        yield text;
        text = '';
      }
    }
    text += '}';
  }
  hash.update(`${text}}`); // the checksum covers the object as it would close without it
  yield `${text},"checksum":"sha256:${hash.digest('hex')}"}\n`;
}

export function decodeSnapshot(text: string, file: string): DecodedSnapshot {
  const m = CHECKSUM_TAIL.exec(text);
  if (!m) throw corrupt(file, 'no checksum: truncated or not written by switchyard');
  const body = `${text.slice(0, m.index)}}`;
  if (sha256(body) !== m[1]) throw corrupt(file, 'checksum mismatch');
  const s = JSON.parse(body) as { format: unknown; revision: number; routes: unknown; upstreams: unknown };
  if (s.format !== 1 || !Number.isSafeInteger(s.revision) || s.revision < 0) throw corrupt(file, 'unknown format');
  const toMap = (o: unknown): Map<string, StoredEntry> => {
    if (typeof o !== 'object' || o === null) throw corrupt(file, 'bad entry table');
    const out = new Map<string, StoredEntry>();
    for (const [id, e] of Object.entries(o as Record<string, { raw: unknown; modRevision: unknown }>)) {
      if (typeof e?.raw !== 'string' || !Number.isSafeInteger(e.modRevision)) throw corrupt(file, `bad entry ${JSON.stringify(id)}`);
      out.set(id, Object.freeze({ id, raw: e.raw, modRevision: e.modRevision as number }));
    }
    return out;
  };
  return { revision: s.revision, routes: toMap(s.routes), upstreams: toMap(s.upstreams) };
}

/** write() may write less than asked (signals, quotas); loop until all is out. */
export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
}

/** `text` may come in pieces (written one after the other). */
export async function writeFileDurable(file: string, text: string | Iterable<string>): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    for (const piece of typeof text === 'string' ? [text] : text) await writeAll(fh, Buffer.from(piece));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A create, rename or unlink is durable only once its directory is fsync'ed. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (process.platform !== 'win32') throw err; // Windows cannot open or fsync directories
  } finally {
    await fh?.close();
  }
}

export const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Replaces `file` atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, text: string | Iterable<string>): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFileDurable(tmp, text);
  await fsp.rename(tmp, file);
  await syncDir(path.dirname(file));
}
