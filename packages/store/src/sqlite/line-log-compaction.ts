/**
 * Compaction of the line log (`../line-log.ts`): the bytes no entry names are reclaimed by copying every
 * named line, in file order, into a new log that then replaces the old one.
 *
 * Where garbage comes from: a line that arrives in pieces is appended again whole when something else
 * was appended between its pieces, and each re-append leaves the earlier copy behind; before appends
 * reused the unnamed tail (`LineLog.begin`), every kill during a long line did the same (186.6 MB of log
 * for 105.8 MB of source after 10 kills during two 50 MB lines, issue #14).
 *
 * Crash safety: at every point either the old log or the new one is whole and is the one the committed
 * database names.
 * 1. Under the write lock (an IMMEDIATE transaction, held to the end), every entry's line is copied to
 *    `<log>.compact-<g+1>`, which is then synced, with its folder.
 * 2. In the same transaction, every entry's `raw_at` moves to the new log, `meta.line_log_end` becomes
 *    the new log's size and `meta.line_log_generation` becomes g+1; it commits with `synchronous = FULL`,
 *    so the switch is on disk once it returns.
 * 3. The new log is renamed over the old one (atomic), and the folder synced.
 * At open (`settleLineLog`, before anything reads the log): a `.compact-<n>` file whose n is the
 * committed generation is a switch that committed before its rename, and is renamed now; any other is a
 * copy whose switch never committed, and is deleted. Superseded entries keep their lines too (a deep
 * link may still name one): only bytes no row names are dropped.
 *
 * Runs at open only, when the garbage exceeds both thresholds, while no other connection can hold the
 * old log open in this design (one process opens a database: the embedded server or `overlord serve`).
 */
import type { Database } from "bun:sqlite"
import { closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import type { LineLog } from "../line-log.ts"

const MB = 1024 * 1024

export type LineLogCompactionStage =
  /** After each chunk copied into the new log. */
  | "copy"
  /** Rows moved and generation recorded, before the commit. */
  | "switch"
  /** Committed, before the new log is renamed over the old one. */
  | "committed"
  /** Renamed: the new log is the log. */
  | "done"

export interface LineLogCompactionOptions {
  /** Compact only above this much garbage (default 64 MB)... */
  readonly minGarbageBytes?: number
  /** ...and above this share of the log (default 0.5). */
  readonly minGarbageShare?: number
  /** Called at each stage (tests kill the process there). */
  readonly onStage?: (stage: LineLogCompactionStage) => void
}

export interface LineLogCompaction {
  readonly generation: number
  readonly before: number
  readonly after: number
}

/** Copies read and write at most this much at a time: a 50 MB line is copied in pieces. */
const COPY_BYTES = 4 * MB

const compactPathOf = (logPath: string, generation: number) => `${logPath}.compact-${generation}`

function generationOf(db: Database): number {
  const row = db.query("SELECT value FROM meta WHERE key = 'line_log_generation'").get() as { value: string } | null
  return row ? Number(row.value) : 0
}

function syncFolder(path: string): void {
  const fd = openSync(dirname(path), constants.O_RDONLY)
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Finishes a compaction whose switch committed, or drops one whose switch did not (see the top). */
export function settleLineLog(db: Database, lines: LineLog): void {
  const logPath = lines.path
  if (logPath === null) return
  const generation = generationOf(db)
  const prefix = `${basename(logPath)}.compact-`
  let changed = false
  for (const name of readdirSync(dirname(logPath))) {
    if (!name.startsWith(prefix)) continue
    const path = join(dirname(logPath), name)
    if (Number(name.slice(prefix.length)) === generation) renameSync(path, logPath)
    else rmSync(path, { force: true })
    changed = true
  }
  if (!changed) return
  syncFolder(logPath)
  lines.reopen()
}

/** Bytes the entries name (each line and its newline). A scan of `entries`: ~0.1 s per million rows. */
function namedBytes(db: Database): number {
  return (db.query("SELECT coalesce(sum(raw_len + terminated), 0) AS n FROM entries").get() as { n: number }).n
}

/** Compacts the log if its garbage is over both thresholds; returns what it did, or null. */
export function compactLineLog(
  db: Database,
  lines: LineLog,
  options: LineLogCompactionOptions = {},
): LineLogCompaction | null {
  const logPath = lines.path
  if (logPath === null) return null
  const before = lines.size()
  const garbage = before - namedBytes(db)
  if (garbage <= (options.minGarbageBytes ?? 64 * MB) || garbage <= before * (options.minGarbageShare ?? 0.5)) {
    return null
  }
  const stage = options.onStage ?? (() => {})
  const generation = generationOf(db) + 1
  const newPath = compactPathOf(logPath, generation)
  // FULL: the switch must be on disk before the old log is replaced. Cannot change inside a transaction.
  db.run("PRAGMA synchronous = FULL")
  try {
    const after = db.transaction(() => copyAndSwitch(db, lines, newPath, generation, stage)).immediate()
    stage("committed")
    renameSync(newPath, logPath)
    syncFolder(logPath)
    lines.reopen()
    stage("done")
    return { generation, before, after }
  } catch (error) {
    rmSync(newPath, { force: true })
    throw error
  } finally {
    db.run("PRAGMA synchronous = NORMAL")
  }
}

function copyAndSwitch(
  db: Database,
  lines: LineLog,
  newPath: string,
  generation: number,
  stage: (s: LineLogCompactionStage) => void,
): number {
  // Every entry, each file's live lines side by side in byte order (an export reads them in runs), the
  // lines left open last, so that the next piece of the last one grows it in place. In typed arrays:
  // 24 bytes a row, not an object each.
  let count = 0
  let seqs = new Float64Array(1024)
  let ats = new Float64Array(1024)
  let lens = new Float64Array(1024)
  const rows = db
    .query(
      `SELECT e.seq, e.raw_at, e.raw_len + e.terminated AS len FROM entries e JOIN files f ON f.id = e.file_id
       ORDER BY e.seq = coalesce(f.open_seq, -1), e.file_id, e.superseded, e.byte_offset, e.seq`,
    )
    .iterate() as IterableIterator<{ seq: number; raw_at: number; len: number }>
  for (const row of rows) {
    if (count === seqs.length) {
      seqs = grow(seqs)
      ats = grow(ats)
      lens = grow(lens)
    }
    seqs[count] = row.seq
    ats[count] = row.raw_at
    lens[count] = row.len
    count++
  }

  const out = openSync(newPath, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600)
  let written = 0
  try {
    // Runs of lines that lie side by side in the old log are copied together.
    let runAt = 0
    let runLen = 0
    const copyRun = () => {
      for (let done = 0; done < runLen; ) {
        const want = Math.min(COPY_BYTES, runLen - done)
        const bytes = lines.read(runAt + done, want)
        for (let w = 0; w < want; ) w += writeSync(out, bytes, w, want - w, written + done + w)
        done += want
        stage("copy")
      }
      written += runLen
      runLen = 0
    }
    const moved = new Float64Array(count)
    let next = 0
    for (let i = 0; i < count; i++) {
      const at = ats[i]!
      const len = lens[i]!
      if (runLen > 0 && (at !== runAt + runLen || runLen >= COPY_BYTES)) copyRun()
      if (runLen === 0) runAt = at
      runLen += len
      moved[i] = next
      next += len
    }
    if (runLen > 0) copyRun()
    fsyncSync(out)
    syncFolder(newPath)

    const place = db.prepare("UPDATE entries SET raw_at = ? WHERE seq = ?")
    for (let i = 0; i < count; i++) if (moved[i] !== ats[i]) place.run(moved[i]!, seqs[i]!)
    db.query("UPDATE meta SET value = ? WHERE key = 'line_log_end'").run(String(written))
    db.query(
      "INSERT INTO meta (key, value) VALUES ('line_log_generation', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(String(generation))
    stage("switch")
    return written
  } finally {
    closeSync(out)
  }
}

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2)
  b.set(a)
  return b
}
