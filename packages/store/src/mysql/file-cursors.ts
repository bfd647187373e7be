/**
 * File cursors for a machine's hello: every file it has, each with its tail (the last 32 bytes before
 * its offset), in two statements per 200 files. A machine with 5,000 files would otherwise cost two
 * requests per file (`loadTails`), minutes over PlanetScale's HTTP.
 */
import type { Sync } from "@overlord/protocol"
import { TAIL_BYTES, TAIL_LINES, tailOf, welcomeCursorOf } from "../ingest/cursors.ts"
import type { FileRow } from "../ingest/dialect.ts"
import { concatBytes } from "../lines.ts"
import type { MysqlQueryable } from "./client.ts"
import { CHUNK_BYTES, decodeChunk } from "./line-chunks.ts"

const FILES_PER_READ = 200

export async function cursorsOf(q: MysqlQueryable, files: readonly FileRow[]): Promise<Sync.FileCursor[]> {
  const tails = await tailsOf(
    q,
    files.filter((f) => f.offset > 0),
  )
  return files.map((file) => welcomeCursorOf(file, tails.get(file.id) ?? new Uint8Array()))
}

/** Each file's tail (`tailOf`) from its last live lines, of which only the chunks reaching their last 32 bytes are read. */
async function tailsOf(q: MysqlQueryable, files: readonly FileRow[]): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>()
  for (let i = 0; i < files.length; i += FILES_PER_READ) {
    const batch = files.slice(i, i + FILES_PER_READ)
    const { rows } = await q.query<{
      file_id: number
      seq: number
      byte_offset: number
      raw_len: number
      is_terminated: number
      block_seq: number | null
      block_at: number
    }>(
      batch
        .map(
          () =>
            "(SELECT file_id, seq, byte_offset, raw_len, is_terminated, block_seq, block_at FROM entries WHERE file_id = ? AND superseded = 0 ORDER BY byte_offset DESC LIMIT ?)",
        )
        .join(" UNION ALL "),
      batch.flatMap((f) => [f.id, TAIL_LINES]),
    )
    if (rows.length === 0) continue
    // A chunk holds at most 1 MiB of its line (stored compressed or not), so only those starting after
    // this can reach a line's last 32 bytes. A line in a block is cut from its block (one row).
    const { rows: chunks } = await q.query<{ entry_seq: number; codec: number; bytes: Uint8Array }>(
      `SELECT entry_seq, codec, bytes FROM line_chunks WHERE ${rows.map(() => "(entry_seq = ? AND at > ?)").join(" OR ")}
       ORDER BY entry_seq, at`,
      rows.flatMap((r) => (r.block_seq === null ? [r.seq, r.raw_len - TAIL_BYTES - CHUNK_BYTES] : [r.block_seq, -1])),
    )
    const stored = new Map<number, Uint8Array>()
    for (const c of chunks) {
      const bytes = decodeChunk(c.codec, c.bytes, c.entry_seq)
      stored.set(c.entry_seq, concatBytes(stored.get(c.entry_seq) ?? new Uint8Array(), bytes))
    }
    const suffix = new Map<number, Uint8Array>()
    for (const r of rows) {
      const bytes = stored.get(r.block_seq ?? r.seq)
      if (!bytes) continue
      suffix.set(r.seq, r.block_seq === null ? bytes : bytes.subarray(r.block_at, r.block_at + r.raw_len))
    }
    const byFile = new Map<number, typeof rows>()
    for (const r of rows) byFile.set(r.file_id, [...(byFile.get(r.file_id) ?? []), r])
    for (const file of batch) {
      const lines = (byFile.get(file.id) ?? []).sort((a, b) => b.byte_offset - a.byte_offset)
      // A suffix shorter than its line holds its last 32 bytes at least: `tailOf` stops there.
      out.set(
        file.id,
        tailOf(
          file,
          lines.map((l) => ({ bytes: suffix.get(l.seq) ?? new Uint8Array(), terminated: l.is_terminated })),
        ),
      )
    }
  }
  return out
}
