/**
 * Line bytes in the database: `line_chunks(entry_seq, at, bytes)`, each line (without its newline)
 * in chunks of at most 1 MiB, `at` being where the chunk starts in its line. One request and one row
 * are bounded (PlanetScale's request size, MariaDB's 16 MiB default `max_allowed_packet`), and a line
 * can be a 64 MB base64 image. A line that arrives in pieces gets its new bytes as new chunks at its
 * old length: nothing stored is rewritten, and no count of chunks needs keeping.
 */
import type { MysqlClient, MysqlQueryable, SqlValue } from "./client.ts"

export const CHUNK_BYTES = 1024 * 1024

export interface ChunkRow {
  readonly seq: number
  /** Where the chunk starts in its line. */
  readonly at: number
  readonly bytes: Uint8Array
}

/** `bytes`, which start at `lineAt` in line `seq`, as chunks (views, not copies). Empty bytes make none. */
export function chunksOf(seq: number, bytes: Uint8Array, lineAt: number): ChunkRow[] {
  const rows: ChunkRow[] = []
  for (let from = 0; from < bytes.length; from += CHUNK_BYTES) {
    rows.push({ seq, at: lineAt + from, bytes: bytes.subarray(from, Math.min(bytes.length, from + CHUNK_BYTES)) })
  }
  return rows
}

const insertSql = (n: number) =>
  `INSERT INTO line_chunks (entry_seq, at, bytes) VALUES ${"(?, ?, ?), ".repeat(n).slice(0, -2)}`

/** Rows per prepared statement: powers of two up to this, so a connection prepares at most 7 statements. */
const PREPARED_ROWS = 64

/**
 * Multi-row INSERTs of at most `maxBytes` of line bytes each (at least one row each). Where the driver
 * has prepared statements (mysql2), each run goes as statements of 64, 32, …, 1 rows, bytes as bytes:
 * as hex inside the SQL text (twice the bytes, decoded by the server), this INSERT took 979 of 1,450 ms
 * of the engines benchmark's MariaDB ingest. Interleaved on one server (`engines.ts --mysql2-blobs
 * prepared,text`) ingest went 69–100 MB/s prepared, 42–52 MB/s as hex (load 5.5–5.9), and 31.8–36.8
 * against 19.5–21.4 MB/s (load 4–5). Every distinct row count is one more statement to prepare per
 * connection, which is why the counts are powers of two (sending each group's one multi-row insert
 * prepared had made ingest slower: 38 MB/s). 94 % of the corpus's line bytes are in lines of 1–64 KB, so
 * sending only large chunks prepared would not have helped (6 of its 110 MB are in lines over 256 KB).
 */
export async function insertChunks(q: MysqlQueryable, rows: readonly ChunkRow[], maxBytes: number): Promise<void> {
  let i = 0
  while (i < rows.length) {
    const from = i
    let bytes = 0
    while (i < rows.length && (i === from || bytes + rows[i]!.bytes.length <= maxBytes))
      bytes += rows[i++]!.bytes.length
    if (!q.execute) {
      await q.query(insertSql(i - from), paramsOf(rows, from, i))
      continue
    }
    for (let at = from; at < i; ) {
      let n = PREPARED_ROWS
      while (n > i - at) n >>= 1
      await q.execute(insertSql(n), paramsOf(rows, at, at + n))
      at += n
    }
  }
}

function paramsOf(rows: readonly ChunkRow[], from: number, to: number): SqlValue[] {
  const params: SqlValue[] = []
  for (let k = from; k < to; k++) params.push(rows[k]!.seq, rows[k]!.at, rows[k]!.bytes)
  return params
}

export interface StoredLine {
  readonly seq: number
  readonly raw_len: number
}

function concatParts(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === length) return parts[0]!
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * The bytes of each line, in the order given. Short lines are fetched in runs of about `maxBytes`, a
 * longer one a few chunks at a time: one result is bounded too (PlanetScale: 64 MiB).
 */
export async function readLines(
  q: MysqlQueryable,
  lines: readonly StoredLine[],
  maxBytes: number,
): Promise<Uint8Array[]> {
  const bySeq = new Map<number, Uint8Array[]>()
  const add = (seq: number, bytes: Uint8Array) => {
    const parts = bySeq.get(seq)
    if (parts) parts.push(bytes)
    else bySeq.set(seq, [bytes])
  }
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.raw_len > maxBytes) {
      if (!bySeq.has(line.seq)) for await (const chunk of longLineChunks(q, line.seq, maxBytes)) add(line.seq, chunk)
      i++
      continue
    }
    const seqs: number[] = []
    let bytes = 0
    while (
      i < lines.length &&
      lines[i]!.raw_len <= maxBytes &&
      (seqs.length === 0 || bytes + lines[i]!.raw_len <= maxBytes)
    ) {
      if (!bySeq.has(lines[i]!.seq)) seqs.push(lines[i]!.seq)
      bytes += lines[i]!.raw_len
      i++
    }
    if (seqs.length > 0) for (const row of await storedChunks(q, seqs)) add(row.entry_seq, row.bytes)
  }
  return lines.map((l) => concatParts(bySeq.get(l.seq) ?? [], l.raw_len))
}

/** A long line's chunks in order, about `maxBytes` of them at a time (keyset on `at`). */
export async function* longLineChunks(q: MysqlQueryable, seq: number, maxBytes: number): AsyncGenerator<Uint8Array> {
  const perRead = Math.max(1, Math.floor(maxBytes / CHUNK_BYTES))
  for (let from = 0; ; ) {
    const { rows } = await q.query<{ at: number; bytes: Uint8Array }>(
      "SELECT at, bytes FROM line_chunks WHERE entry_seq = ? AND at >= ? ORDER BY at LIMIT ?",
      [seq, from, perRead],
    )
    for (const r of rows) yield r.bytes
    if (rows.length < perRead) return
    from = rows[rows.length - 1]!.at + 1
  }
}

async function storedChunks(
  q: MysqlQueryable,
  seqs: readonly number[],
): Promise<{ entry_seq: number; bytes: Uint8Array }[]> {
  return (
    await q.query<{ entry_seq: number; bytes: Uint8Array }>(
      `SELECT entry_seq, bytes FROM line_chunks WHERE entry_seq IN (${seqs.map(() => "?").join(", ")}) ORDER BY entry_seq, at`,
      seqs,
    )
  ).rows
}

const NEWLINE = new Uint8Array([0x0a])
const EXPORT_PAGE_ROWS = 500

/**
 * A file's live lines, newlines included, in byte order: keyset pages of entries, their bytes
 * fetched in runs of at most `maxBytes` (a long line a few chunks at a time), so memory stays bounded
 * whatever the file's or a line's size, and no statement stays open between pages.
 */
export async function* exportLines(client: MysqlClient, fileId: number, maxBytes: number): AsyncGenerator<Uint8Array> {
  let from = 0
  for (;;) {
    const { rows } = await client.query<{ seq: number; byte_offset: number; raw_len: number; is_terminated: number }>(
      `SELECT seq, byte_offset, raw_len, is_terminated FROM entries WHERE file_id = ? AND superseded = 0 AND byte_offset >= ?
       ORDER BY byte_offset LIMIT ${EXPORT_PAGE_ROWS}`,
      [fileId, from],
    )
    if (rows.length === 0) return
    let i = 0
    while (i < rows.length) {
      const line = rows[i]!
      if (line.raw_len > maxBytes) {
        // One long line: its chunks a few at a time.
        yield* longLineChunks(client, line.seq, maxBytes)
        if (line.is_terminated) yield NEWLINE
        i++
        continue
      }
      const run: typeof rows = []
      let bytes = 0
      while (
        i < rows.length &&
        rows[i]!.raw_len <= maxBytes &&
        (run.length === 0 || bytes + rows[i]!.raw_len <= maxBytes)
      ) {
        run.push(rows[i]!)
        bytes += rows[i]!.raw_len
        i++
      }
      const raws = await readLines(client, run, maxBytes)
      let size = 0
      for (let k = 0; k < run.length; k++) size += raws[k]!.length + run[k]!.is_terminated
      const out = new Uint8Array(size)
      let at = 0
      for (let k = 0; k < run.length; k++) {
        out.set(raws[k]!, at)
        at += raws[k]!.length
        if (run[k]!.is_terminated) out[at++] = 0x0a
      }
      yield out
    }
    from = rows[rows.length - 1]!.byte_offset + 1
  }
}

/** `length` bytes of line `seq` from `from`: the chunks that overlap them, cut (a long line read in parts). */
export async function readLineRange(q: MysqlQueryable, seq: number, from: number, length: number): Promise<Uint8Array> {
  const { rows } = await q.query<{ at: number; bytes: Uint8Array }>(
    "SELECT at, bytes FROM line_chunks WHERE entry_seq = ? AND at < ? AND at + LENGTH(bytes) > ? ORDER BY at",
    [seq, from + length, from],
  )
  const out = new Uint8Array(length)
  for (const c of rows) {
    const start = Math.max(from, c.at)
    const end = Math.min(from + length, c.at + c.bytes.length)
    out.set(c.bytes.subarray(start - c.at, end - c.at), start - from)
  }
  return out
}
