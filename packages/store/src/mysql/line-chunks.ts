/**
 * Line bytes in the database: `line_chunks(entry_seq, part, bytes)`, each line (without its newline)
 * in parts of at most 1 MiB. One request and one row are bounded (PlanetScale's request size,
 * MariaDB's 16 MiB default `max_allowed_packet`), and a line can be a 64 MB base64 image. A line that
 * arrives in pieces gets one more part per piece; nothing stored is rewritten.
 */
import type { MysqlClient, MysqlQueryable, SqlValue } from "./client.ts"

export const PART_BYTES = 1024 * 1024

export interface ChunkRow {
  readonly seq: number
  readonly part: number
  readonly bytes: Uint8Array
}

/** `bytes` as parts numbered from `firstPart` (views, not copies). An empty line has no part. */
export function partsOf(seq: number, bytes: Uint8Array, firstPart: number): ChunkRow[] {
  const rows: ChunkRow[] = []
  for (let at = 0, part = firstPart; at < bytes.length; at += PART_BYTES, part++) {
    rows.push({ seq, part, bytes: bytes.subarray(at, Math.min(bytes.length, at + PART_BYTES)) })
  }
  return rows
}

/** Multi-row INSERTs of at most `maxBytes` of line bytes each (at least one row each). */
export async function insertChunks(q: MysqlQueryable, rows: readonly ChunkRow[], maxBytes: number): Promise<void> {
  let i = 0
  while (i < rows.length) {
    const params: SqlValue[] = []
    let bytes = 0
    let n = 0
    while (i < rows.length && (n === 0 || bytes + rows[i]!.bytes.length <= maxBytes)) {
      const r = rows[i++]!
      params.push(r.seq, r.part, r.bytes)
      bytes += r.bytes.length
      n++
    }
    await q.query(
      `INSERT INTO line_chunks (entry_seq, part, bytes) VALUES ${"(?, ?, ?), ".repeat(n).slice(0, -2)}`,
      params,
    )
  }
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

/** The bytes of each line, in the order given; lines are fetched in runs of about `maxBytes`. */
export async function readLines(
  q: MysqlQueryable,
  lines: readonly StoredLine[],
  maxBytes: number,
): Promise<Uint8Array[]> {
  const bySeq = new Map<number, Uint8Array[]>()
  let i = 0
  while (i < lines.length) {
    const seqs: number[] = []
    let bytes = 0
    while (i < lines.length && (seqs.length === 0 || bytes + lines[i]!.raw_len <= maxBytes)) {
      seqs.push(lines[i]!.seq)
      bytes += lines[i]!.raw_len
      i++
    }
    for (const row of await chunksOf(q, seqs)) {
      const parts = bySeq.get(row.entry_seq)
      if (parts) parts.push(row.bytes)
      else bySeq.set(row.entry_seq, [row.bytes])
    }
  }
  return lines.map((l) => concatParts(bySeq.get(l.seq) ?? [], l.raw_len))
}

async function chunksOf(
  q: MysqlQueryable,
  seqs: readonly number[],
): Promise<{ entry_seq: number; part: number; bytes: Uint8Array }[]> {
  return (
    await q.query<{ entry_seq: number; part: number; bytes: Uint8Array }>(
      `SELECT entry_seq, part, bytes FROM line_chunks WHERE entry_seq IN (${seqs.map(() => "?").join(", ")}) ORDER BY entry_seq, part`,
      seqs,
    )
  ).rows
}

const NEWLINE = new Uint8Array([0x0a])
const EXPORT_PAGE_ROWS = 500

/**
 * A file's live lines, newlines included, in byte order: keyset pages of entries, their bytes
 * fetched in runs of at most `maxBytes` (a long line part by part), so memory stays bounded
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
        // One long line: its parts a few at a time.
        const partsPerRead = Math.max(1, Math.floor(maxBytes / PART_BYTES))
        for (let part = 0; ; part += partsPerRead) {
          const chunk = await client.query<{ bytes: Uint8Array }>(
            "SELECT bytes FROM line_chunks WHERE entry_seq = ? AND part >= ? ORDER BY part LIMIT ?",
            [line.seq, part, partsPerRead],
          )
          for (const c of chunk.rows) yield c.bytes
          if (chunk.rows.length < partsPerRead) break
        }
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
