/**
 * The exactly-once rules, as pure functions over plain rows: what a group of appends writes. No I/O:
 * `append.ts` loads the rows these functions read and writes the plan they return.
 *
 * - An append is stored only if it starts at its file's stored offset and generation (`sketchGroup`).
 * - A line without its newline stays open and the next append continues it (`decideLines`).
 * - After a reset, re-read lines identical to the stored ones are skipped; the first difference
 *   supersedes everything from there on.
 * - Usage is deduplicated per API response: the largest copy is kept and session totals move with it
 *   (`usage.ts`, over the events this pass records).
 * - Session facts add up per group (`sessions.ts`); a flat agent file joins its session when a record
 *   names it, and that session's facts are rebuilt.
 */
import { isUtf8 } from "node:buffer"
import { analyzeLine, type LineFacts, type LineFactsStream, type LinePiece, splitPieces } from "@overlord/transcript"
import { emptyDelta, mergeDelta, partialLineFacts, projectOf, type SessionDelta } from "../line-facts.ts"
import { bytesEqual, concatBytes } from "../lines.ts"
import type { Append, MachineActor, StoredRef } from "../store.ts"
import type { ContinuedLine, EntryRow, FileRow, NewEntry, SessionKey, SessionRow } from "./dialect.ts"

/**
 * A long line still arriving in pieces is parsed once, when its newline comes, not once per piece.
 * A short open line is parsed now: it may be a file's last line that never gets a newline.
 */
export const OPEN_LINE_PARSE_MAX = 1024 * 1024
const needsFacts = (length: number, terminated: boolean) => terminated || length <= OPEN_LINE_PARSE_MAX
const factsOf = (raw: Uint8Array, terminated: boolean): LineFacts =>
  needsFacts(raw.length, terminated) ? analyzeLine(raw, isUtf8) : partialLineFacts

/** A piece's bytes with its newline, as a view of the same payload (so a dialect can write runs of them). */
const withNewline = (piece: LinePiece): Uint8Array =>
  piece.terminated ? new Uint8Array(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.length + 1) : piece.bytes

// ---- 1. what the group needs loaded ------------------------------------------------------------------

export interface GroupSketch {
  /** Per append: accepted (it starts where its file stands), with its pieces; null when rejected. */
  readonly pieces: (LinePiece[] | null)[]
  /**
   * Files with a rejected append and no accepted one before it in the group: their cursor's tail is
   * the stored one. (After an accepted append of the same group the tail is left out: the daemon just
   * sent those bytes from its own read, and a cursor without tail only moves its offset.)
   */
  readonly storedTails: Set<number>
  /** Lines left open by earlier groups that the group continues: seq → whether the group ends them. */
  readonly openLines: Map<number, boolean>
  /** Per file re-read after a reset: the byte ranges whose stored lines the re-read is compared with. */
  readonly rereads: Map<number, { from: number; ranges: [number, number][] }>
  /** At least as many seqs as the group's new lines. */
  readonly newLines: number
}

/** Which appends are accepted and what their lines need loaded, from the files as loaded. */
export function sketchGroup(appends: readonly Append[], files: ReadonlyMap<string, FileRow>): GroupSketch {
  const state = new Map<number, { offset: number; liveEnd: number; open: boolean; accepted: boolean }>()
  const pieces: (LinePiece[] | null)[] = []
  const storedTails = new Set<number>()
  const openLines = new Map<number, boolean>()
  const rereads = new Map<number, { from: number; ranges: [number, number][] }>()
  let newLines = 0
  for (const { header, payload } of appends) {
    const file = files.get(header.fileKey)!
    let s = state.get(file.id)
    if (!s) {
      s = { offset: file.offset, liveEnd: file.live_end, open: file.open_seq !== null, accepted: false }
      state.set(file.id, s)
    }
    if (header.generation !== file.generation || header.fromOffset !== s.offset) {
      pieces.push(null)
      if (!s.accepted) storedTails.add(file.id)
      continue
    }
    const split = splitPieces(payload, header.fromOffset)
    pieces.push(split)
    if (s.open && file.open_seq !== null && !s.accepted) openLines.set(file.open_seq, false)
    if (file.open_seq !== null && openLines.has(file.open_seq)) {
      // The stored open line's bytes are read when the group ends it (here), or when it stays short,
      // which only its stored length tells (`openLineBytesNeeded`). Counting the group's bytes alone
      // read a long line's stored bytes again at each 1 MiB piece: a 50 MB line read 1.3 GB of log
      // and took the daemon's heap (its embedded server's) to 317–396 MB (issue #14, finding 4).
      if (payload.includes(0x0a)) openLines.set(file.open_seq, true)
    }
    if (header.fromOffset < s.liveEnd) {
      let r = rereads.get(file.id)
      if (!r) {
        r = { from: header.fromOffset, ranges: [] }
        rereads.set(file.id, r)
      }
      r.ranges.push([header.fromOffset, Math.min(header.toOffset, s.liveEnd)])
    }
    newLines += split.length - (s.open && split.length > 0 ? 1 : 0)
    s.accepted = true
    s.offset = header.toOffset
    // An over-estimate when a re-read supersedes: then more is loaded than compared, never less.
    s.liveEnd = Math.max(s.liveEnd, header.toOffset)
    const last = split[split.length - 1]
    if (last) s.open = !last.terminated
  }
  return { pieces, storedTails, openLines, rereads, newLines }
}

/**
 * Whether a stored open line's bytes are loaded whole for the group: only a short one, whose facts are
 * computed while it stays open (`factsOf`) and when the group ends it. A long one is scanned a chunk at a
 * time when the group ends it (`openLineStreamed`) and not read at all while it stays open.
 */
export const openLineBytesNeeded = (row: { seq: number; raw_len: number }): boolean => row.raw_len < OPEN_LINE_PARSE_MAX

/**
 * Whether a stored open line the group ends is long enough to be scanned a chunk at a time rather than
 * read whole (`LineFactsStream`): a 50 MB line read back, joined with its last piece and parsed took
 * the embedded server ~3 times the line at its end (issue #14, finding 4).
 */
export const openLineStreamed = (sketch: GroupSketch, row: { seq: number; raw_len: number }): boolean =>
  sketch.openLines.get(row.seq) === true && row.raw_len >= OPEN_LINE_PARSE_MAX

/** A long stored line is read back in pieces of this size. */
export const LINE_READ_BYTES = 1024 * 1024

// ---- 2. the group's lines ----------------------------------------------------------------------------

/** A stored line the group may read: a line left open, or one a re-read is compared with. */
export interface StoredLine {
  readonly row: EntryRow
  /** Its bytes without newline, when loaded. */
  readonly bytes: Uint8Array | null
  /** A long open line the group ends: its stored bytes, fed to the facts scan instead of loaded. */
  readonly facts?: LineFactsStream
}

export interface LinesInput {
  readonly actor: MachineActor
  readonly appends: readonly Append[]
  readonly sketch: GroupSketch
  /** Every file of the group, by key, as loaded. */
  readonly files: ReadonlyMap<string, FileRow>
  /** The sessions of the group's files (and of flat agent files' records, once loaded), by id. */
  readonly sessions: ReadonlyMap<number, SessionRow>
  /** The machine's sessions by session id (uid), for flat agent files that find theirs. */
  readonly sessionsByUid: ReadonlyMap<string, number>
  /** Stored lines by seq: open lines and re-read ones. */
  readonly stored: ReadonlyMap<number, StoredLine>
  /** Per re-read file, its stored live lines in the re-read's ranges by byte offset (with their bytes). */
  readonly storedAt: ReadonlyMap<number, ReadonlyMap<number, StoredLine>>
  /** Per re-read file: how many live lines it has from the re-read's start (`GroupSketch.rereads`). */
  readonly liveFrom: ReadonlyMap<number, number>
  /** The first of the seqs reserved for the group (`GroupSketch.newLines` of them). */
  readonly firstSeq: number
  /** Facts already computed for a line, by position, kept across a second run of the same group. */
  readonly factsMemo: FactsMemo
}

/** What the usage pass needs, in the order the lines came: lines with usage, and attachments. */
export type UsageEvent =
  | {
      readonly type: "line"
      readonly seq: number
      readonly fileId: number
      readonly sessionId: number | null
      readonly projectDir: string
      readonly facts: LineFacts
    }
  | { readonly type: "attach"; readonly fileId: number; readonly sessionId: number }

export type AppendResult =
  | { readonly _tag: "Ack"; readonly file: FileRow; readonly stored: StoredRef[] }
  | { readonly _tag: "Rejected"; readonly reason: string; readonly file: FileRow; readonly storedTail: boolean }

export interface LinesDecision {
  readonly results: AppendResult[]
  readonly entries: NewEntry[]
  readonly continued: ContinuedLine[]
  readonly supersede: { fileId: number; fromOffset: number }[]
  readonly attach: { fileId: number; sessionId: number }[]
  readonly searchDrops: number[]
  /** Files changed by the group, as they end it. */
  readonly files: FileRow[]
  /** Session facts the group adds, per session. */
  readonly deltas: Map<number, SessionDelta>
  /** Sessions whose facts are rebuilt from their lines once the plan is written. */
  readonly recompute: Set<number>
  readonly usage: UsageEvent[]
  /** Flat agent files that joined a session: their usage kept so far moves with them. */
  readonly attachedFiles: number[]
}

/** What the lines pass could not decide without more rows: load them and run it again. */
export interface LinesNeed {
  readonly need: { readonly sessions: SessionKey[]; readonly lineBytes: number[] }
}

/** A line of the group that a later piece may continue: new in this group, or stored before it. */
type OpenLine =
  | { readonly kind: "new"; readonly entry: NewEntry }
  | {
      readonly kind: "continued"
      readonly line: ContinuedLine
      readonly old: Uint8Array | null
      readonly stream: LineFactsStream | undefined
    }

export function decideLines(input: LinesInput): LinesDecision | LinesNeed {
  const { actor, appends, sketch } = input
  const files = new Map<number, FileRow>()
  const entries: NewEntry[] = []
  const continued = new Map<number, ContinuedLine>()
  const lines = new Map<number, OpenLine>()
  const supersede: { fileId: number; fromOffset: number }[] = []
  const attach: { fileId: number; sessionId: number }[] = []
  const searchDrops: number[] = []
  const deltas = new Map<number, SessionDelta>()
  const recompute = new Set<number>()
  const usage: UsageEvent[] = []
  const attachedFiles: number[] = []
  const results: AppendResult[] = []
  const needSessions = new Map<string, SessionKey>()
  const needBytes: number[] = []
  let nextSeq = input.firstSeq

  const fileOf = (key: string): FileRow => {
    const loaded = input.files.get(key)!
    let file = files.get(loaded.id)
    if (!file) {
      file = { ...loaded }
      files.set(file.id, file)
    }
    return file
  }
  const deltaOf = (sessionId: number) => {
    let delta = deltas.get(sessionId)
    if (!delta) {
      delta = emptyDelta()
      deltas.set(sessionId, delta)
    }
    return delta
  }
  const uidOf = (sessionId: number | null) =>
    sessionId === null ? "" : (input.sessions.get(sessionId)?.session_uid ?? "")

  /** Flat `agent-*.jsonl` files name their parent session only inside their records. */
  const attachSession = (file: FileRow, facts: LineFacts): void => {
    if (file.session_id !== null || !facts.sessionId) return
    const sessionId = input.sessionsByUid.get(facts.sessionId)
    if (sessionId === undefined || !input.sessions.has(sessionId)) {
      needSessions.set(facts.sessionId, {
        session_uid: facts.sessionId,
        project_dir: projectOf(file.file_key).projectDir,
      })
      return
    }
    file.session_id = sessionId
    attach.push({ fileId: file.id, sessionId })
    // The group's own lines of the file so far join too (the stored ones by `attach`).
    for (const e of entries) if (e.file_id === file.id && e.session_id === null) e.session_id = sessionId
    usage.push({ type: "attach", fileId: file.id, sessionId })
    attachedFiles.push(file.id)
    recompute.add(sessionId)
  }

  const storedLine = (seq: number): StoredLine => {
    const line = input.stored.get(seq)
    if (!line) throw new Error(`ingest: stored line ${seq} was not loaded`)
    return line
  }

  for (let a = 0; a < appends.length; a++) {
    const { header, facts: given } = appends[a]!
    const file = fileOf(header.fileKey)
    const pieces = sketch.pieces[a]
    if (!pieces) {
      results.push({
        _tag: "Rejected",
        reason: `expected generation ${file.generation} at offset ${file.offset}, got generation ${header.generation} at ${header.fromOffset}`,
        file: { ...file },
        storedTail: sketch.storedTails.has(file.id),
      })
      continue
    }
    if (file.identity === null) file.identity = header.identity
    const stored: StoredRef[] = []
    const projectDir = projectOf(file.file_key).projectDir
    const inMain = file.agent_id === null
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (file.open_seq !== null) {
        // The first piece continues the line left open by the previous append.
        const seq = file.open_seq
        let open = lines.get(seq)
        if (!open) {
          const { row, bytes, facts: stream } = storedLine(seq)
          const line: ContinuedLine = {
            entry: row,
            added: [],
            whole: null,
            raw_len: row.raw_len,
            terminated: row.terminated,
            kind: row.kind,
            subtype: null,
            uuid: null,
            parent_uuid: null,
            ts: null,
          }
          open = { kind: "continued", line, old: bytes, stream }
          lines.set(seq, open)
          continued.set(seq, line)
          searchDrops.push(seq)
        }
        const target = open.kind === "new" ? open.entry : open.line
        const rawLen = target.raw_len + piece.bytes.length
        const byteOffset = open.kind === "new" ? open.entry.byte_offset : open.line.entry.byte_offset
        let facts: LineFacts = partialLineFacts
        if (open.kind === "continued" && open.old === null && open.stream && piece.terminated) {
          // A long line ended here: the scan of its stored bytes gets this group's pieces and the last.
          const { stream, line } = open
          const streamed = memo(input.factsMemo, a, i, () => {
            for (const part of line.added) stream.feed(part)
            stream.feed(piece.bytes)
            return stream.finish() ?? NOT_STREAMED
          })
          if (streamed === NOT_STREAMED) {
            // A line the scan is unsure of is parsed whole, as `analyzeLine` would, in the next round.
            input.factsMemo[a]![i] = undefined
            needBytes.push(seq)
            continue
          }
          facts = streamed
          line.whole = null
        } else if (needsFacts(rawLen, piece.terminated)) {
          const before = open.kind === "new" ? joinParts(open.entry.parts, open.entry.raw_len) : wholeOf(open)
          if (before === null) {
            needBytes.push(seq)
            continue
          }
          const whole = concatBytes(before, piece.bytes)
          facts = memo(input.factsMemo, a, i, () => factsOf(whole, piece.terminated))
          if (open.kind === "continued") open.line.whole = whole
        } else if (open.kind === "continued") {
          open.line.whole = null
        }
        if (open.kind === "new") open.entry.parts.push(withNewline(piece))
        else open.line.added.push(withNewline(piece))
        target.raw_len = rawLen
        target.terminated = piece.terminated ? 1 : 0
        setColumns(target, facts)
        attachSession(file, facts)
        if (facts.usage)
          usage.push({ type: "line", seq, fileId: file.id, sessionId: file.session_id, projectDir, facts })
        file.live_end = byteOffset + rawLen + (piece.terminated ? 1 : 0)
        if (piece.terminated) file.open_seq = null
        if (file.session_id !== null) mergeDelta(deltaOf(file.session_id), facts, seq, inMain, false)
        stored.push({
          seq,
          sessionId: uidOf(file.session_id),
          byteOffset,
          notice: piece.terminated ? (facts.notice ?? null) : null,
        })
        continue
      }
      if (piece.byteOffset < file.live_end) {
        // Re-reading after a reset: identical lines are already stored; the first difference
        // supersedes everything from there on.
        const existing = findStoredAt(input, file.id, piece.byteOffset)
        if (existing && existing.row.terminated === (piece.terminated ? 1 : 0)) {
          if (existing.bytes === null) throw new Error(`ingest: re-read line ${existing.row.seq} was not loaded`)
          if (bytesEqual(existing.bytes, piece.bytes)) {
            if (!piece.terminated) file.open_seq = existing.row.seq
            continue
          }
        }
        supersede.push({ fileId: file.id, fromOffset: piece.byteOffset })
        file.line_count -= liveFromOffset(input, file.id, piece.byteOffset)
        file.live_end = piece.byteOffset
        if (file.session_id !== null) recompute.add(file.session_id)
      }
      const facts = memo(
        input.factsMemo,
        a,
        i,
        () => (piece.terminated ? given?.[i] : null) ?? factsOf(piece.bytes, piece.terminated),
      )
      attachSession(file, facts)
      const seq = nextSeq++
      const entry: NewEntry = {
        seq,
        user_id: actor.userId,
        file_id: file.id,
        session_id: file.session_id,
        line_no: file.line_count,
        byte_offset: piece.byteOffset,
        terminated: piece.terminated ? 1 : 0,
        raw_len: piece.bytes.length,
        parts: [withNewline(piece)],
        kind: "",
        subtype: null,
        uuid: null,
        parent_uuid: null,
        ts: null,
      }
      setColumns(entry, facts)
      entries.push(entry)
      file.line_count += 1
      file.live_end = piece.byteOffset + piece.bytes.length + (piece.terminated ? 1 : 0)
      if (!piece.terminated) {
        file.open_seq = seq
        lines.set(seq, { kind: "new", entry })
      }
      if (facts.usage) usage.push({ type: "line", seq, fileId: file.id, sessionId: file.session_id, projectDir, facts })
      if (file.session_id !== null) mergeDelta(deltaOf(file.session_id), facts, seq, inMain, true)
      stored.push({
        seq,
        sessionId: uidOf(file.session_id),
        byteOffset: piece.byteOffset,
        notice: piece.terminated ? (facts.notice ?? null) : null,
      })
    }
    file.offset = header.toOffset
    results.push({ _tag: "Ack", file: { ...file }, stored })
  }
  if (needSessions.size > 0 || needBytes.length > 0) {
    return { need: { sessions: [...needSessions.values()], lineBytes: needBytes } }
  }
  if (nextSeq - input.firstSeq > sketch.newLines) {
    throw new Error(`ingest: ${nextSeq - input.firstSeq} new lines, ${sketch.newLines} seqs reserved`)
  }
  const touched = new Set<number>()
  for (const r of results) if (r._tag === "Ack") touched.add(r.file.id)
  for (const { fileId } of attach) touched.add(fileId)
  return {
    results,
    entries,
    continued: [...continued.values()],
    supersede,
    attach,
    searchDrops,
    files: [...touched].map((id) => files.get(id)!),
    deltas,
    recompute,
    usage,
    attachedFiles,
  }
}

/** Memoised when a streamed scan gave up: the line is loaded whole and the group decided again. */
const NOT_STREAMED: LineFacts = { kind: "" }

/** Facts by append and piece: arrays, not string keys, since every line of a backfill passes here. */
export type FactsMemo = (LineFacts | undefined)[][]

function memo(cache: FactsMemo, a: number, i: number, compute: () => LineFacts): LineFacts {
  let row = cache[a]
  if (!row) {
    row = []
    cache[a] = row
  }
  let facts = row[i]
  if (!facts) {
    facts = compute()
    row[i] = facts
  }
  return facts
}

function setColumns(
  target: { kind: string; subtype: string | null; uuid: string | null; parent_uuid: string | null; ts: string | null },
  facts: LineFacts,
): void {
  target.kind = facts.kind
  target.subtype = facts.subtype ?? null
  target.uuid = facts.uuid ?? null
  target.parent_uuid = facts.parentUuid ?? null
  target.ts = facts.timestamp ?? null
}

/** A new line's bytes so far, without newline (it is open, so it has none). */
function joinParts(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A continued stored line's bytes so far (stored and added in this group), or null when not loaded. */
function wholeOf(open: { readonly line: ContinuedLine; readonly old: Uint8Array | null }): Uint8Array | null {
  if (open.line.whole) return open.line.whole
  if (open.old === null) return null
  return open.line.added.length === 0 ? open.old : joinParts([open.old, ...open.line.added], open.line.raw_len)
}

function findStoredAt(input: LinesInput, fileId: number, byteOffset: number): StoredLine | undefined {
  return input.storedAt.get(fileId)?.get(byteOffset)
}

/** Live lines of the file at or after `byteOffset`, from the count at the re-read's start. */
function liveFromOffset(input: LinesInput, fileId: number, byteOffset: number): number {
  let n = input.liveFrom.get(fileId) ?? 0
  const at = input.storedAt.get(fileId)
  if (at) for (const [offset] of at) if (offset < byteOffset) n -= 1
  return n
}
