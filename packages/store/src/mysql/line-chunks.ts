/**
 * Line bytes in the database: `line_chunks(entry_seq, at, codec, bytes)`, each line (without its
 * newline) in chunks of at most 1 MiB of the line, `at` being where the chunk starts in its line. One
 * request and one row are bounded (PlanetScale's request size, MariaDB's 16 MiB default
 * `max_allowed_packet`), and a line can be a 64 MB base64 image. A line that arrives in pieces gets its
 * new bytes as new chunks at its old length: nothing stored is rewritten, and no count of chunks needs
 * keeping.
 *
 * A chunk is stored compressed (`codec` 1: one zstd frame, level 1) when that saves at least an eighth
 * of it, else as it is (`codec` 0, which rows written before migration 8 have too). `at` and every
 * length the readers compute are the line's, never the stored row's. Why: a database's cost is per
 * byte stored and sent. On the engines benchmark's corpora the line bytes take 2.4× less room (110.5 →
 * 46.7 MB, InnoDB's data_length 139 → 53 MB; what a PlanetScale database, billed per GB, holds), the
 * same rows inserted already compressed took 232–310 ms instead of 456–701 ms, mariadbd's CPU per
 * ingest fell by a third (0.60–0.74 → 0.48 s), and a database across a 1 Gbit/s link (125 MB/s) is
 * sent 2.4× less. Compressing costs the server ~0.21 s per 110 MB (~450 MB/s on one core), run while
 * the group's entries insert runs on the server (`encodeChunks`), which takes about as long: store
 * alone, interleaved (load 0.9), 114–133 MB/s against 98–132 before. Chunks under 1 KiB stay raw
 * (`COMPRESS_MIN_BYTES`).
 *
 * Line blocks (migration 9): whole lines of one file with consecutive seqs, each at most `BLOCK_BYTES`,
 * are stored together (as they lay in their payload, newlines included), `BLOCK_BYTES` at most, as one
 * row keyed by the first one's seq (`at` 0); each such line's `entries` row says where it is
 * (`block_seq`, `block_at`). A line left open (it may grow), a longer one and one that arrived in two
 * pieces keep rows of their own, as every line did before, with `block_seq` NULL. Why: JSONL lines
 * repeat their neighbours' keys and values, so a block compresses far better than its lines one by one,
 * and faster. On the 100 MB history slice: 4.96× instead of 2.57×, compressed in 128 ms instead of 196,
 * in 1,363 rows instead of ~20,000; end to end MariaDB went from 41–53 % of SQLite to 55–63 %
 * (BENCHMARKS.md, tenth session). A reader finds a line's block through its entry (`StoredChunks`).
 */
import type { MysqlClient, MysqlQueryable, SqlValue } from "./client.ts"

export const CHUNK_BYTES = 1024 * 1024

/** How a `line_chunks` row's bytes are stored. */
export const CODEC_RAW = 0
export const CODEC_ZSTD = 1
/**
 * Chunks shorter than this stay raw. Each call has a fixed cost: on the engines corpus, the 6,353 chunks
 * of 128 B–1 KiB took 18–20 % of the compression time (254–263 → 207–212 ms) to save 1 MB of 65 (2.42× →
 * 2.37×; the realistic history 2.40× → 2.34×), and chunks under 256 B shrink by 4 %.
 */
const COMPRESS_MIN_BYTES = 1024
/** Level 1: 2.42× on the corpus at ~490 MB/s; level 3 gives 2.49× at ~360 MB/s. */
const ZSTD_LEVEL = 1

export interface ChunkRow {
  readonly seq: number
  /** Where the chunk starts in its line. */
  readonly at: number
  /** The chunk's bytes as they are in the line (never compressed here). */
  readonly bytes: Uint8Array
}

/** A stored chunk that names a codec this server does not know (a newer server wrote it). */
export class UnknownChunkCodec extends Error {
  constructor(
    readonly seq: number | undefined,
    readonly codec: number,
  ) {
    super(`line_chunks row of entry ${seq ?? "?"} has codec ${codec}, which this server cannot read (upgrade it)`)
    this.name = "UnknownChunkCodec"
  }
}

/** `bytes`, which start at `lineAt` in line `seq`, as chunks (views, not copies). Empty bytes make none. */
export function chunksOf(seq: number, bytes: Uint8Array, lineAt: number): ChunkRow[] {
  const rows: ChunkRow[] = []
  for (let from = 0; from < bytes.length; from += CHUNK_BYTES) {
    rows.push({ seq, at: lineAt + from, bytes: bytes.subarray(from, Math.min(bytes.length, from + CHUNK_BYTES)) })
  }
  return rows
}

/** Lines at most this long, of one file, go several to a row; a block holds at most this much. */
export const BLOCK_BYTES = 256 * 1024

/**
 * A new line to store: its bytes are `parts` up to `rawLen`; a terminated line's last part holds its
 * newline too, as a view of the payload it came in (`withNewline` in the ingest core).
 */
export interface NewLineBytes {
  readonly seq: number
  readonly fileId: number
  readonly terminated: boolean
  readonly rawLen: number
  readonly parts: readonly Uint8Array[]
}

/** Where a line's bytes are: in a block (`block_seq`, `block_at`) or in rows of its own (`block_seq` null). */
export interface LinePlace {
  readonly block_seq: number | null
  readonly block_at: number
}

const OWN_ROWS: LinePlace = { block_seq: null, block_at: 0 }

/** `parts` up to `length` bytes, as chunks of a line starting at `lineAt`. */
export function partChunks(seq: number, parts: readonly Uint8Array[], lineAt: number, length: number): ChunkRow[] {
  const rows: ChunkRow[] = []
  let at = 0
  for (const part of parts) {
    const take = Math.min(part.length, length - at)
    if (take <= 0) break
    rows.push(...chunksOf(seq, part.subarray(0, take), lineAt + at))
    at += take
  }
  return rows
}

/**
 * The rows for a group's new lines (in seq order) and where each line is. Runs of whole lines of one
 * file with consecutive seqs, each at most `BLOCK_BYTES`, whose bytes lie one after another in the same
 * payload (each with its newline, as the ingest core hands them), become blocks of at most `BLOCK_BYTES`:
 * a block is that stretch of the payload as it is, newlines included, never copied (copying the lines
 * together was ~8 % of the server's CPU per 100 MB). A run of one line is stored as a line of its own, as
 * is an open line (it may grow: its next bytes are new chunks at its old length), a long one, and one
 * that arrived in two pieces.
 */
export function layoutLines(lines: readonly NewLineBytes[]): { rows: ChunkRow[]; places: LinePlace[] } {
  const rows: ChunkRow[] = []
  const places: LinePlace[] = new Array(lines.length)
  let from = 0
  const flush = (to: number) => {
    if (to - from === 1) {
      const line = lines[from]!
      rows.push(...partChunks(line.seq, line.parts, 0, line.rawLen))
      places[from] = OWN_ROWS
    } else if (to - from > 1) {
      const first = lines[from]!.parts[0]!
      const last = lines[to - 1]!.parts[0]!
      const block = new Uint8Array(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset)
      for (let i = from; i < to; i++) {
        places[i] = { block_seq: lines[from]!.seq, block_at: lines[i]!.parts[0]!.byteOffset - first.byteOffset }
      }
      rows.push({ seq: lines[from]!.seq, at: 0, bytes: block })
    }
    from = to
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const part = line.parts[0]
    const alone = !line.terminated || line.rawLen > BLOCK_BYTES || line.parts.length !== 1
    const prev = lines[i - 1]?.parts[0]
    const joins =
      !alone &&
      i > from &&
      lines[i - 1]!.fileId === line.fileId &&
      lines[i - 1]!.seq + 1 === line.seq &&
      prev!.buffer === part!.buffer &&
      prev!.byteOffset + prev!.length === part!.byteOffset &&
      part!.byteOffset + part!.length - lines[from]!.parts[0]!.byteOffset <= BLOCK_BYTES
    if (!joins) flush(i)
    // A line alone is its own run, so no line joins it.
    if (alone) flush(i + 1)
  }
  flush(lines.length)
  return { rows, places }
}

/** A chunk as it is stored: its codec and stored bytes. */
export interface StoredChunk {
  readonly codec: number
  readonly bytes: Uint8Array
}

/** A chunk as it is stored: compressed when that saves at least an eighth of it, else as it is. */
export function encodeChunk(bytes: Uint8Array): StoredChunk {
  if (bytes.length < COMPRESS_MIN_BYTES) return { codec: CODEC_RAW, bytes }
  const packed = Bun.zstdCompressSync(bytes, { level: ZSTD_LEVEL })
  if (packed.length > bytes.length - (bytes.length >> 3)) return { codec: CODEC_RAW, bytes }
  return { codec: CODEC_ZSTD, bytes: new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength) }
}

/** A stored chunk's line bytes. */
export function decodeChunk(codec: number, bytes: Uint8Array, seq?: number): Uint8Array {
  if (codec === CODEC_RAW) return bytes
  if (codec === CODEC_ZSTD) {
    const raw = Bun.zstdDecompressSync(bytes)
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  }
  throw new UnknownChunkCodec(seq, codec)
}

const insertSql = (n: number) =>
  `INSERT INTO line_chunks (entry_seq, at, codec, bytes) VALUES ${"(?, ?, ?, ?), ".repeat(n).slice(0, -2)}`

/** Rows per prepared statement: powers of two up to this, so a connection prepares at most 7 statements. */
const PREPARED_ROWS = 64

/** A chunk as it goes to `line_chunks`: where it is in its line, its length there, and how it is stored. */
export interface EncodedChunkRow {
  readonly seq: number
  readonly at: number
  /** The chunk's length in its line (its stored bytes may be fewer). */
  readonly length: number
  readonly stored: StoredChunk
}

/**
 * The rows as they are stored. ~450 MB/s on one core (0.21 s per 110 MB): the MySQL ingest runs this
 * while the group's entries insert runs on the server (`MysqlIngestTx.write`), which takes about as long
 * (0.21 s per 22,000 entries), so the compression mostly costs no time.
 */
export function encodeChunks(rows: readonly ChunkRow[]): EncodedChunkRow[] {
  return rows.map((r) => ({ seq: r.seq, at: r.at, length: r.bytes.length, stored: encodeChunk(r.bytes) }))
}

/**
 * Multi-row INSERTs of at most `maxBytes` of line bytes each (at least one row each; a compressed row
 * is never longer than its line bytes, so the bound holds stored). Where the driver has prepared
 * statements (mysql2), each run goes as statements of 64, 32, …, 1 rows, bytes as bytes: as hex inside
 * the SQL text (twice the bytes, decoded by the server), this INSERT took 979 of 1,450 ms of the
 * engines benchmark's MariaDB ingest. Interleaved on one server (`engines.ts --mysql2-blobs
 * prepared,text`) ingest went 69–100 MB/s prepared, 42–52 MB/s as hex (load 5.5–5.9), and 31.8–36.8
 * against 19.5–21.4 MB/s (load 4–5). Every distinct row count is one more statement to prepare per
 * connection, which is why the counts are powers of two (sending each group's one multi-row insert
 * prepared had made ingest slower: 38 MB/s). 94 % of the corpus's line bytes are in lines of 1–64 KB, so
 * sending only large chunks prepared would not have helped (6 of its 110 MB are in lines over 256 KB).
 * (Compressing on Bun's thread pool instead, `Bun.zstdCompress`, cost the server process 0.3–0.4 s more
 * CPU per 100 MB in thread hand-offs, and the end-to-end benchmark got no faster.)
 */
export async function insertChunks(
  q: MysqlQueryable,
  rows: readonly EncodedChunkRow[],
  maxBytes: number,
): Promise<void> {
  let i = 0
  while (i < rows.length) {
    const from = i
    let bytes = 0
    while (i < rows.length && (i === from || bytes + rows[i]!.length <= maxBytes)) bytes += rows[i++]!.length
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

function paramsOf(rows: readonly EncodedChunkRow[], from: number, to: number): SqlValue[] {
  const params: SqlValue[] = []
  for (let k = from; k < to; k++) params.push(rows[k]!.seq, rows[k]!.at, rows[k]!.stored.codec, rows[k]!.stored.bytes)
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
 * longer one a few chunks at a time: one result is bounded too (PlanetScale: 64 MiB). A line in a block
 * is a view of its block's bytes, each block read and decoded once per call.
 */
export async function readLines(
  q: MysqlQueryable,
  lines: readonly StoredLine[],
  maxBytes: number,
): Promise<Uint8Array[]> {
  const fetched = new StoredChunks()
  const longLines = new Map<number, Uint8Array>()
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.raw_len > maxBytes) {
      // Never in a block (a block's lines are at most `BLOCK_BYTES`): its own rows, a few at a time.
      if (!longLines.has(line.seq)) {
        const parts: Uint8Array[] = []
        for await (const chunk of longLineChunks(q, line.seq, maxBytes)) parts.push(chunk)
        longLines.set(line.seq, concatParts(parts, line.raw_len))
      }
      i++
      continue
    }
    // A read's result is bounded by what it brings, not only what is asked: a block may hold lines not
    // asked for, at most a block's worth at each end of a run of consecutive seqs (the blocks inside are
    // asked for whole). So each run counts two blocks more than its lines.
    const seqs: number[] = []
    let bytes = 0
    const from = i
    while (i < lines.length && lines[i]!.raw_len <= maxBytes) {
      const line = lines[i]!
      const cost = line.raw_len + (i > from && line.seq === lines[i - 1]!.seq + 1 ? 0 : 2 * BLOCK_BYTES)
      if (i > from && bytes + cost > maxBytes) break
      if (!fetched.has(line.seq)) seqs.push(line.seq)
      bytes += cost
      i++
    }
    if (seqs.length > 0) await fetched.read(q, seqs)
  }
  return lines.map((l) => longLines.get(l.seq) ?? fetched.line(l.seq, l.raw_len))
}

/** A long line's chunks in order, about `maxBytes` of them at a time (keyset on `at`). */
export async function* longLineChunks(q: MysqlQueryable, seq: number, maxBytes: number): AsyncGenerator<Uint8Array> {
  const perRead = Math.max(1, Math.floor(maxBytes / CHUNK_BYTES))
  for (let from = 0; ; ) {
    const { rows } = await q.query<{ at: number; codec: number; bytes: Uint8Array }>(
      "SELECT at, codec, bytes FROM line_chunks WHERE entry_seq = ? AND at >= ? ORDER BY at LIMIT ?",
      [seq, from, perRead],
    )
    for (const r of rows) yield decodeChunk(r.codec, r.bytes, seq)
    if (rows.length < perRead) return
    from = rows[rows.length - 1]!.at + 1
  }
}

/**
 * The rows holding some lines' bytes, read in one statement: where each line in a block is (from its
 * entry), then the rows of the lines' own and of their blocks, each block once however many of its
 * lines are asked for.
 */
class StoredChunks {
  /** Decoded rows by the seq they are keyed by (a line's own, or its block's first line's). */
  private readonly rows = new Map<number, Uint8Array[]>()
  private readonly places = new Map<number, LinePlace>()
  private readonly asked = new Set<number>()
  private readonly blocks = new Map<number, Uint8Array>()

  has(seq: number): boolean {
    return this.asked.has(seq)
  }

  async read(q: MysqlQueryable, seqs: readonly number[]): Promise<void> {
    const list = seqs.map(() => "?").join(", ")
    const { rows } = await q.query<{
      part: number
      entry_seq: number
      block_seq: number | null
      block_at: number | null
      codec: number | null
      bytes: Uint8Array | null
    }>(
      `SELECT 0 AS part, seq AS entry_seq, block_seq, block_at, NULL AS at, NULL AS codec, NULL AS bytes
         FROM entries WHERE seq IN (${list}) AND block_seq IS NOT NULL
       UNION ALL
       SELECT 1, entry_seq, NULL, NULL, at, codec, bytes FROM line_chunks
         WHERE entry_seq IN (SELECT COALESCE(block_seq, seq) FROM entries WHERE seq IN (${list}))
       ORDER BY part, entry_seq, at`,
      [...seqs, ...seqs],
    )
    for (const seq of seqs) this.asked.add(seq)
    for (const row of rows) {
      if (row.part === 0) {
        this.places.set(row.entry_seq, { block_seq: row.block_seq, block_at: row.block_at ?? 0 })
        continue
      }
      const bytes = decodeChunk(row.codec ?? CODEC_RAW, row.bytes!, row.entry_seq)
      const parts = this.rows.get(row.entry_seq)
      if (parts) parts.push(bytes)
      else this.rows.set(row.entry_seq, [bytes])
    }
  }

  /** Line `seq`'s `length` bytes (a view of its block's, for a line in a block). */
  line(seq: number, length: number): Uint8Array {
    const place = this.places.get(seq)
    if (!place || place.block_seq === null) return concatParts(this.rows.get(seq) ?? [], length)
    let block = this.blocks.get(place.block_seq)
    if (!block) {
      const parts = this.rows.get(place.block_seq) ?? []
      block = concatParts(
        parts,
        parts.reduce((n, p) => n + p.length, 0),
      )
      this.blocks.set(place.block_seq, block)
    }
    if (place.block_at + length > block.length) {
      throw new Error(
        `line ${seq} ends at ${place.block_at + length} of block ${place.block_seq}, which holds ${block.length} bytes`,
      )
    }
    return block.subarray(place.block_at, place.block_at + length)
  }
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

/**
 * `length` bytes of line `seq` from `from`: the chunks that overlap them, cut (a long line read in
 * parts). A stored row's length is not its chunk's (it may be compressed), but a chunk holds at most
 * `CHUNK_BYTES` of the line, so only chunks starting after `from - CHUNK_BYTES` can reach `from`: at
 * most one chunk more is read than overlaps. A line in a block is cut from its block (one row).
 */
export async function readLineRange(q: MysqlQueryable, seq: number, from: number, length: number): Promise<Uint8Array> {
  const { rows } = await q.query<{ at: number; codec: number; bytes: Uint8Array; block_at: number | null }>(
    `SELECT c.at, c.codec, c.bytes, CASE WHEN e.block_seq IS NULL THEN NULL ELSE e.block_at END AS block_at
     FROM entries e JOIN line_chunks c ON c.entry_seq = COALESCE(e.block_seq, e.seq)
     WHERE e.seq = ? AND (e.block_seq IS NOT NULL OR (c.at < ? AND c.at > ?)) ORDER BY c.at`,
    [seq, from + length, from - CHUNK_BYTES],
  )
  const out = new Uint8Array(length)
  const blockAt = rows[0]?.block_at
  if (blockAt !== null && blockAt !== undefined) {
    const block = decodeChunk(rows[0]!.codec, rows[0]!.bytes, seq)
    out.set(block.subarray(blockAt + from, Math.min(block.length, blockAt + from + length)))
    return out
  }
  for (const c of rows) {
    const bytes = decodeChunk(c.codec, c.bytes, seq)
    const start = Math.max(from, c.at)
    const end = Math.min(from + length, c.at + bytes.length)
    if (end > start) out.set(bytes.subarray(start - c.at, end - c.at), start - from)
  }
  return out
}
