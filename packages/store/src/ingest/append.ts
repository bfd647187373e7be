/**
 * A group of appends, stored exactly once in one transaction: LOAD what the group needs in batches,
 * DECIDE what to write (`decide.ts`, pure), WRITE the plan. A group costs a constant number of dialect
 * calls whatever its line count: files, sessions, open lines, seqs, kept usage, write (about eight;
 * PlanetScale's ~20 ms per statement is why). Rare paths take more: a re-read after a reset, a flat
 * agent file joining its session, a rejected append's tail.
 */

import { isUtf8 } from "node:buffer"
import { LineFactsStream } from "@overlord/transcript"
import { projectOf } from "../line-facts.ts"
import type { Append, AppendOutcome, MachineActor } from "../store.ts"
import { ackCursor, cursorOf, TAIL_BYTES, TAIL_LINES, tailOf } from "./cursors.ts"
import {
  decideLines,
  type FactsMemo,
  LINE_READ_BYTES,
  type LinesDecision,
  openLineBytesNeeded,
  openLineStreamed,
  type StoredLine,
  sketchGroup,
} from "./decide.ts"
import type { EntryRow, FileRow, IngestTx, KeptUsageRow, NewFile, SessionKey, SessionRow } from "./dialect.ts"
import { planSessions, recomputeSessions } from "./sessions.ts"
import { type Ingest, step } from "./steps.ts"
import { decideUsage, usageKeys } from "./usage.ts"

/** Throws, before anything is stored, when an append's payload does not match its offsets. */
export function checkAppends(appends: readonly Append[]): number {
  let bytes = 0
  for (const { header, payload } of appends) {
    if (header.toOffset - header.fromOffset !== payload.length) {
      throw new Error(
        `append for ${header.fileKey}: payload is ${payload.length} bytes, header says ${header.toOffset - header.fromOffset}`,
      )
    }
    bytes += payload.length
  }
  return bytes
}

/** The sessions a group has loaded, by id and by session id (uid). */
export class SessionSet {
  readonly byId = new Map<number, SessionRow>()
  readonly byUid = new Map<string, number>()
  add(rows: readonly SessionRow[]): void {
    for (const row of rows) {
      this.byId.set(row.id, row)
      this.byUid.set(row.session_uid, row.id)
    }
  }
}

/** The files named by `keys`, created (with their sessions) if new. */
export function* openFiles(
  tx: IngestTx,
  actor: MachineActor,
  keys: ReadonlyMap<string, string | null>,
  sessions: SessionSet,
): Ingest<Map<string, FileRow>> {
  const files = new Map<string, FileRow>()
  for (const f of yield* step(tx.loadFiles(actor, [...keys.keys()]))) files.set(f.file_key, f)
  const missing = [...keys.keys()].filter((k) => !files.has(k))
  if (missing.length === 0) return files
  const wanted = new Map<string, SessionKey>()
  for (const key of missing) {
    const where = projectOf(key)
    if (where.sessionUid) wanted.set(where.sessionUid, { session_uid: where.sessionUid, project_dir: where.projectDir })
  }
  if (tx.createFiles) {
    const created = yield* step(
      tx.createFiles(
        actor,
        [...wanted.values()],
        missing.map((key) => {
          const where = projectOf(key)
          return {
            file_key: key,
            session_uid: where.sessionUid,
            agent_id: where.agentId,
            layout: where.layout,
            identity: keys.get(key) ?? null,
          }
        }),
      ),
    )
    sessions.add(created.sessions)
    for (const f of created.files) files.set(f.file_key, f)
    return files
  }
  if (wanted.size > 0) sessions.add(yield* step(tx.ensureSessions(actor, [...wanted.values()])))
  const fresh: NewFile[] = missing.map((key) => {
    const where = projectOf(key)
    return {
      file_key: key,
      session_id: where.sessionUid ? (sessions.byUid.get(where.sessionUid) ?? null) : null,
      agent_id: where.agentId,
      layout: where.layout,
      identity: keys.get(key) ?? null,
    }
  })
  for (const f of yield* step(tx.insertFiles(actor, fresh))) files.set(f.file_key, f)
  return files
}

/**
 * The group's files held as gone from their machine: the daemon sent their bytes, so it has them again
 * (`WritePlan.sourcesBack`). Any append counts, a rejected one too: the daemon read the file to send it.
 */
export function sourcesBack(files: Iterable<FileRow>): { sourcesBack?: number[] } {
  const back: number[] = []
  for (const f of files) if (f.source_gone_at != null) back.push(f.id)
  return back.length > 0 ? { sourcesBack: back } : {}
}

/**
 * The tail of each file, as stored now (for cursors). A long last line gives only its last `TAIL_BYTES`
 * (`tailOf` needs no more): read whole, a 100 MB line's tail took its size again at every group with
 * an append that did not follow the stored offset (several per backfill of a long line when both cores
 * were busy), and the embedded server's peak to 310–395 MB from ~180 (issue #14 again).
 */
export function* loadTails(tx: IngestTx, files: readonly FileRow[]): Ingest<Map<number, Uint8Array>> {
  const tails = new Map<number, Uint8Array>()
  for (const file of files) {
    if (file.offset === 0) {
      tails.set(file.id, new Uint8Array())
      continue
    }
    const rows = yield* step(tx.loadLastEntries(file.id, TAIL_LINES))
    const short = rows.filter((r) => r.raw_len < LINE_READ_BYTES)
    const shortBytes = short.length > 0 ? yield* step(tx.readLines(short)) : []
    const bytes: Uint8Array[] = []
    for (const r of rows) {
      const i = short.indexOf(r)
      // A copy: the part's buffer is reused by the next read.
      bytes.push(
        i >= 0 ? shortBytes[i]! : (yield* step(tx.readLinePart(r, r.raw_len - TAIL_BYTES, TAIL_BYTES))).slice(),
      )
    }
    tails.set(
      file.id,
      tailOf(
        file,
        rows.map((r, i) => ({ bytes: bytes[i]!, terminated: r.terminated })),
      ),
    )
  }
  return tails
}

export function* appendGroup(tx: IngestTx, actor: MachineActor, appends: readonly Append[]): Ingest<AppendOutcome[]> {
  checkAppends(appends)
  if (appends.length === 0) return []

  // ---- load ----
  const keys = new Map<string, string | null>()
  for (const { header } of appends) if (!keys.has(header.fileKey)) keys.set(header.fileKey, header.identity)
  const sessions = new SessionSet()
  const files = yield* openFiles(tx, actor, keys, sessions)
  const sketch = sketchGroup(appends, files)
  const byId = new Map([...files.values()].map((f) => [f.id, f]))
  const tails =
    sketch.storedTails.size > 0
      ? yield* loadTails(
          tx,
          [...sketch.storedTails].map((id) => byId.get(id)!),
        )
      : null

  const sessionIds = new Set<number>()
  for (const f of files.values())
    if (f.session_id !== null && !sessions.byId.has(f.session_id)) sessionIds.add(f.session_id)
  if (sessionIds.size > 0) sessions.add(yield* step(tx.loadSessions([...sessionIds])))

  const stored = new Map<number, StoredLine>()
  if (sketch.openLines.size > 0) {
    const rows = yield* step(tx.loadEntries([...sketch.openLines.keys()]))
    const wanted = rows.filter((r) => openLineBytesNeeded(r))
    const bytes = wanted.length > 0 ? yield* step(tx.readLines(wanted)) : []
    for (const row of rows) stored.set(row.seq, { row, bytes: null })
    for (let i = 0; i < wanted.length; i++) stored.set(wanted[i]!.seq, { row: wanted[i]!, bytes: bytes[i]! })
    // A long line the group ends: its stored bytes are scanned a chunk at a time, never held whole.
    for (const row of rows) {
      if (!openLineStreamed(sketch, row)) continue
      const facts = new LineFactsStream(isUtf8)
      for (let at = 0; at < row.raw_len; at += LINE_READ_BYTES) {
        facts.feed(yield* step(tx.readLinePart(row, at, Math.min(LINE_READ_BYTES, row.raw_len - at))))
      }
      stored.set(row.seq, { row, bytes: null, facts })
    }
  }
  // Re-reads after a reset (rare): the stored lines the re-read covers, to compare.
  const storedAt = new Map<number, Map<number, StoredLine>>()
  const liveFrom = new Map<number, number>()
  for (const [fileId, reread] of sketch.rereads) {
    liveFrom.set(fileId, yield* step(tx.countLiveFrom(fileId, reread.from)))
    const rows: EntryRow[] = []
    for (const [from, to] of reread.ranges) rows.push(...(yield* step(tx.loadLiveEntries(fileId, from, to))))
    const bytes = rows.length > 0 ? yield* step(tx.readLines(rows)) : []
    const at = new Map<number, StoredLine>()
    rows.forEach((row, i) => {
      const line = { row, bytes: bytes[i]! }
      at.set(row.byte_offset, line)
      stored.set(row.seq, line)
    })
    storedAt.set(fileId, at)
  }

  const firstSeq = yield* step(tx.allocateSeqs(sketch.newLines))

  // ---- decide ----
  const factsMemo: FactsMemo = []
  let lines: LinesDecision | undefined
  for (let round = 0; !lines; round++) {
    const decided = decideLines({
      actor,
      appends,
      sketch,
      files,
      sessions: sessions.byId,
      sessionsByUid: sessions.byUid,
      stored,
      storedAt,
      liveFrom,
      firstSeq,
      factsMemo,
    })
    if (!("need" in decided)) {
      lines = decided
      break
    }
    // A flat agent file names its session, or a stored open line is needed whole: load, decide again.
    if (round > 2) throw new Error("ingest: the group still needs rows after loading them")
    const { sessions: wanted, lineBytes } = decided.need
    if (wanted.length > 0) sessions.add(yield* step(tx.ensureSessions(actor, wanted)))
    if (lineBytes.length > 0) {
      const rows = lineBytes.map((seq) => stored.get(seq)!.row)
      const bytes = yield* step(tx.readLines(rows))
      for (let i = 0; i < rows.length; i++) stored.set(rows[i]!.seq, { row: rows[i]!, bytes: bytes[i]! })
    }
  }

  const dedupKeys = usageKeys(lines.usage)
  const kept: KeptUsageRow[] = dedupKeys.length > 0 ? yield* step(tx.loadKeptUsage(actor.userId, dedupKeys)) : []
  const orphans = new Map<number, KeptUsageRow[]>()
  for (const fileId of lines.attachedFiles) orphans.set(fileId, yield* step(tx.loadOrphanUsage(actor.userId, fileId)))
  const usage = decideUsage({ userId: actor.userId, events: lines.usage, kept, orphans })

  // ---- write ----
  yield* step(
    tx.write({
      supersede: lines.supersede,
      continued: lines.continued,
      entries: lines.entries,
      attach: lines.attach,
      usageMoves: usage.usageMoves,
      usage: usage.usage,
      sessions: planSessions(sessions.byId, lines.deltas, usage.totals, lines.recompute),
      files: lines.files,
      searchDrops: lines.searchDrops,
      ...sourcesBack(files.values()),
    }),
  )
  // Lines were superseded or a flat agent file joined: those sessions' facts are rebuilt (rare).
  if (lines.recompute.size > 0) yield* recomputeSessions(tx, lines.recompute)

  return lines.results.map(
    (r): AppendOutcome =>
      r._tag === "Ack"
        ? { _tag: "Ack", cursor: ackCursor(r.file), stored: r.stored }
        : {
            _tag: "Rejected",
            reason: r.reason,
            cursor: cursorOf(r.file, r.storedTail ? (tails?.get(r.file.id) ?? null) : null),
          },
  )
}
