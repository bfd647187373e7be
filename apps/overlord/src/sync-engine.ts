/**
 * The daemon's half of exactly-once sync: which bytes of which file go next, over one WebSocket.
 *
 * The server's stored offsets (sent at `welcome`, then in every ack) are the truth; this engine's
 * offsets are a cache rebuilt on every connection. Appends are pipelined within a bounded window;
 * live files are served before backfill, and backfill goes newest file first.
 *
 * This class composes the parts and runs the per-chunk path (read, build the frame in place, send):
 * `file-source.ts` (tracked files, stat facts, cursors adopted, rewrite checks), `sync-connection.ts`
 * (the socket, hello/welcome, reconnects), `send-scheduler.ts` (queues and window), `sync-status.ts`
 * (what `status` tells), `gc-pacing.ts`, and `append-frame-builder.ts` (the frame around a chunk, with
 * `@overlord/protocol`'s append codec).
 */

import { join } from "node:path"
import type { Commands, Sync } from "@overlord/protocol"
import { FACTS_VERSION, type LineFacts } from "@overlord/transcript"
import { allocFrame, chunkRoom, finishFrame } from "./append-frame-builder.ts"
import { type FileFacts, readChunk } from "./file-reader.ts"
import { FileSource, goneFrom, sameBytes, type Tracked } from "./file-source.ts"
import { GcPacing } from "./gc-pacing.ts"
import { SendScheduler } from "./send-scheduler.ts"
import { type ConnectionOptions, type ServerEvent, SyncConnection } from "./sync-connection.ts"
import { SyncReport, type SyncStatus } from "./sync-status.ts"

export { DAEMON_VERSION } from "./sync-connection.ts"
export type { FileNotice, FileReset, SyncStatus } from "./sync-status.ts"

/** File keys per `gone` notice (the protocol's bound). */
const GONE_BATCH = 1000
/** Files checked against the server's cursors at once at welcome (each a stat and a 32-byte read). */
const VERIFY_BATCH = 256
/**
 * A status that differs from the last one sent only in `bytesPending` (a backfill's progress) goes to the
 * server at most this often; any other change, and the end of a backfill (0 pending), at once. Each
 * status is a write on the server's database (two requests on PlanetScale), and at the daemon's 0.5 s
 * state tick a backfill's statuses took ~12 % of a group's time there (BENCHMARKS.md, issue #11).
 */
const STATUS_PROGRESS_MS = 5_000
/** A file whose read failed is tried again after this, then twice as long each time, at most `READ_RETRY_MAX_MS`. */
const READ_RETRY_MS = 1_000
const READ_RETRY_MAX_MS = 5 * 60_000

/** The connection's options (server, machine, token, parent, log, `remote`), handed to it as they are; then the engine's. */
export interface SyncOptions extends ConnectionOptions {
  /** Largest payload per append frame. */
  readonly chunkBytes?: number
  /** Append frames awaiting acks at once. */
  readonly window?: number
  /** Frame bytes (header, lines, facts) awaiting acks at once. */
  readonly windowBytes?: number
  /** How long a trailing fragment without newline must sit still before it is shipped. */
  readonly partialGraceMs?: number
  readonly onChange?: () => void
  /**
   * The `projects/` folder file keys are relative to: at each welcome, the files the server holds that
   * are gone from it are reported (`gone`), deleted while the daemon was down included.
   */
  readonly projectsDir?: string
  /**
   * The files tracked under `projectsDir` by any daemon of this home (`folder-keys.ts`): only those are
   * reported gone at welcome, not the ones another projects folder synced (`CLAUDE_CONFIG_DIR` switched).
   * Each file tracked is added, and recorded before anything of it is sent. Without it (a sandbox's
   * fixed folder), every file the server holds counts.
   */
  readonly goneScope?: { has(fileKey: string): boolean; add(fileKey: string): Promise<void> }
  /** Remote commands from the server (`command`, `command-input`): handed to the command runner. */
  readonly onCommand?: (message: Commands.CommandServerMessage) => void
  /** The `cwd`s named by the lines shipped (their facts), for the command runner's known projects. */
  readonly onCwds?: (cwds: ReadonlySet<string>) => void
}

export class SyncEngine {
  private readonly files = new FileSource()
  private serverCursors = new Map<string, Sync.FileCursor>()
  private readonly connection: SyncConnection
  /** Set at welcome: the server takes our line facts beside appends, in frames up to this size. */
  private factsFrameLimit = 0
  private pumping = false
  private pumpAgain = false
  private readonly chunkBytes: number
  private readonly scheduler: SendScheduler<Tracked>
  private readonly gc: GcPacing
  private readonly partialGraceMs: number

  private readonly report: SyncReport

  constructor(private readonly options: SyncOptions) {
    this.report = new SyncReport(options.log, options.onChange)
    this.connection = new SyncConnection(options, {
      welcome: (msg) => this.welcome(msg),
      message: (msg) => this.onServerMessage(msg),
      closed: () => this.disconnected(),
      failed: (message) => this.fail(message),
    })
    this.chunkBytes = options.chunkBytes ?? 1024 * 1024
    // Enough in flight that the server has its next groups (4 MB each) arriving while it stores one,
    // so its groups are full: 16 MiB backfills ~10 % faster than 8. Counted in frames too, since a
    // backfill of small files sends many small frames. Every byte in flight is held several times
    // over (send and receive buffers, the server's received frames until a collection), so the window
    // counts whole frames, facts included: counting only lines, a file of long prompts (facts as large
    // as its lines) once held twice the window and passed 350 MB under load (`memory-bound.test.ts`).
    // 256 frames, not 64: a history's small files make small frames, and on a network engine a group
    // costs ~13 round trips whatever its size. PlanetScale end to end (20 ms per request, 100 MB history
    // slice, interleaved, load 1.3-2.2): 6.2-7.1 MB/s at 64, 7.0-7.5 at 256, 68-74 commits instead of
    // 74-83. The SQLite backfill did not change (178-216 vs 154-209 MB/s, peak RSS 423-442 vs 435-458
    // MB): the byte cap bounds memory, and live files keep their two reserved frames.
    const window = Math.max(3, options.window ?? 256)
    const windowBytes = Math.max(3 * this.chunkBytes, options.windowBytes ?? 16 * 1024 * 1024)
    this.scheduler = new SendScheduler<Tracked>({ chunkBytes: this.chunkBytes, window, windowBytes }, (t) =>
      this.files.has(t.fileKey),
    )
    this.gc = new GcPacing(() => this.scheduler.framesInFlight > 0)
    this.partialGraceMs = options.partialGraceMs ?? 1000
  }

  // ---- files --------------------------------------------------------------------------------

  /** A file found by the initial scan: queued for backfill (the caller adds them newest first). */
  async addBackfill(fileKey: string, path: string, known?: FileFacts): Promise<void> {
    const t = await this.track(fileKey, path, known)
    if (t && !t.live) this.scheduler.queueBackfill(t)
    this.pump()
  }

  /** A file created or appended to since start: served ahead of backfill. */
  async changed(fileKey: string, path: string): Promise<void> {
    const existing = this.files.get(fileKey)
    const t = existing ?? (await this.track(fileKey, path))
    if (!t) return
    t.live = true
    // Waiting to be read again after a failed read: a change (its mode given back, say) tries it now.
    if (t.readFailure?.timer) {
      clearTimeout(t.readFailure.timer)
      t.readFailure.timer = null
    }
    const { facts, ticket } = await this.files.stat(path)
    if (!facts) return
    this.observe(t, facts, ticket)
    this.scheduler.queueLive(t)
    this.pump()
  }

  /** A look for what the watcher may have missed: an unknown file backfills, a changed one syncs. */
  async recheck(fileKey: string, path: string): Promise<void> {
    const t = this.files.get(fileKey)
    if (!t) return this.addBackfill(fileKey, path)
    if (await this.files.differs(t, path)) await this.changed(fileKey, path)
  }

  /**
   * A deleted file keeps what was synced; we only stop reading it, and tell the server it is gone
   * (Claude Code deletes sessions after `cleanupPeriodDays`: the dashboard says Overlord kept them).
   */
  removed(fileKey: string): void {
    const t = this.files.get(fileKey)
    if (!t) return
    if (this.serverCursors.has(fileKey)) void this.goneAt([{ fileKey, path: t.path }])
    if (t.partialTimer) clearTimeout(t.partialTimer)
    if (t.readFailure?.timer) clearTimeout(t.readFailure.timer)
    this.files.delete(fileKey)
    this.scheduler.unqueueLive(t)
    this.options.onChange?.()
  }

  private async track(fileKey: string, path: string, known?: FileFacts): Promise<Tracked | null> {
    const tracked = await this.files.track(fileKey, path, known)
    if (!tracked?.created) return tracked?.t ?? null
    const { t } = tracked
    await this.options.goneScope?.add(fileKey)
    // Not when a welcome came while the folder record was written: it verified the file and may have
    // sent it since; verified again, the file went back to the cursor of before those frames' acks and
    // was sent twice, each rejection rewinding it again (fault/welcome-during-track.test.ts).
    if (this.connection.ready && !t.verified) await this.verify(t, known)
    this.options.onChange?.()
    return t
  }

  /** Looks at `t`'s file again: false (and the file is dropped) when it is gone. */
  private async restat(t: Tracked): Promise<boolean> {
    const { facts, ticket } = await this.files.stat(t.path)
    if (!facts) {
      this.removed(t.fileKey)
      return false
    }
    this.observe(t, facts, ticket)
    return true
  }

  /** New stat facts: a shrink or a new inode re-reads the file from byte 0 (`FileSource.observe`). */
  private observe(t: Tracked, facts: FileFacts, ticket: number): void {
    const change = this.files.observe(t, facts, ticket)
    if ((change === "replaced" || change === "shrunk") && this.connection.ready) {
      this.sendReset(t, change, facts.identity)
    } else if (change === "replaced" || change === "shrunk") {
      t.identity = facts.identity
    } else if (change === "touched" && this.connection.ready) {
      void this.checkInPlace(t)
    }
  }

  /**
   * The file's time changed but not its size: an edit in place, which no read of new bytes will
   * ever look at. The bytes before the synced offset are compared as a read would (a mismatch
   * re-reads the file); an edit further back cannot be seen that way, so the file is counted for
   * `overlord status`. A write in progress can show its new time before its new size: the file is
   * stat'ed again after the comparison and counted only if it still has not grown.
   */
  private async checkInPlace(t: Tracked): Promise<void> {
    if (t.checkingInPlace) return
    t.checkingInPlace = true
    try {
      const { checkEnd, generation } = t
      const compared = await this.files.compareCheck(t)
      if (compared === "stale") return
      if (compared === "differs") return await this.rewritten(t)
      const size = t.size
      if (!(await this.restat(t)) || t.size !== size || t.generation !== generation) return
      this.report.editedInPlaceAt(t.fileKey, checkEnd)
    } finally {
      t.checkingInPlace = false
    }
  }

  /**
   * The bytes before `sent` no longer hold what the server stored there: the file was rewritten.
   * Stat'ed first, so that a shrink or a new inode is reported as such.
   */
  private async rewritten(t: Tracked): Promise<void> {
    const generation = t.generation
    if (!(await this.restat(t)) || t.generation !== generation) return
    this.sendReset(t, "rewritten", t.identity ?? "")
  }

  // ---- connection ---------------------------------------------------------------------------

  start(): void {
    this.connection.start()
  }

  stop(): void {
    this.gc.stop()
    for (const t of this.files.values()) {
      if (t.partialTimer) clearTimeout(t.partialTimer)
      if (t.readFailure?.timer) clearTimeout(t.readFailure.timer)
    }
    this.connection.stop()
  }

  status(): SyncStatus {
    return {
      connected: this.connection.ready,
      // The connection's: a new `overlord login` may have moved it to another server since start.
      serverUrl: this.connection.serverUrl,
      filesTracked: this.files.size,
      bytesPending: this.files.bytesPending(),
      ...this.report.history(),
    }
  }

  /** The last status sent on this connection, but its `bytesPending`, and when (`STATUS_PROGRESS_MS`). */
  private statusSent: { rest: string; at: number } | null = null

  /** Tells the server this daemon's health, for the dashboard. */
  reportStatus(extraError: string | null): void {
    if (!this.connection.open) return
    const s = this.status()
    const lastError = s.lastError ?? extraError
    const msg: Sync.DaemonStatus = {
      type: "status",
      filesTracked: s.filesTracked,
      bytesPending: s.bytesPending,
      ...(lastError ? { lastError } : {}),
      ...(this.options.remote ? { remote: this.options.remote() } : {}),
    }
    const rest = JSON.stringify({ ...msg, bytesPending: 0 })
    const at = Date.now()
    const progressOnly = this.statusSent?.rest === rest && msg.bytesPending > 0
    if (progressOnly && at - this.statusSent!.at < STATUS_PROGRESS_MS) return
    this.statusSent = { rest, at }
    this.connection.send(JSON.stringify(msg))
  }

  private goneNotices = false

  private sendGone(fileKeys: readonly string[]): void {
    if (!this.goneNotices || !this.connection.open || fileKeys.length === 0) return
    for (let i = 0; i < fileKeys.length; i += GONE_BATCH) {
      const msg: Sync.Gone = { type: "gone", fileKeys: fileKeys.slice(i, i + GONE_BATCH) }
      this.connection.send(JSON.stringify(msg))
    }
  }

  /**
   * The server's files that no longer exist here (a stat each, for the files not tracked), among those
   * this folder held (`goneScope`): a file another folder synced is not gone, only elsewhere.
   */
  private async reportGone(cursors: readonly Sync.FileCursor[]): Promise<void> {
    const dir = this.options.projectsDir
    if (!dir || !this.goneNotices) return
    const scope = this.options.goneScope
    const missing = new Set(
      await goneFrom(
        cursors
          .filter((c) => !this.files.has(c.fileKey) && (c.gone === true || !scope || scope.has(c.fileKey)))
          .map((c) => ({ fileKey: c.fileKey, path: join(dir, c.fileKey) })),
      ),
    )
    this.sendGone(
      cursors.filter((c) => missing.has(c.fileKey) && (!scope || scope.has(c.fileKey))).map((c) => c.fileKey),
    )
    // Held as gone, yet here (tracked, or found by the stat): the server no longer marks them (`back`).
    this.sendBack(cursors.filter((c) => c.gone === true && !missing.has(c.fileKey)).map((c) => c.fileKey))
  }

  private sendBack(fileKeys: readonly string[]): void {
    if (!this.connection.open) return
    for (let i = 0; i < fileKeys.length; i += GONE_BATCH) {
      const msg: Sync.Back = { type: "back", fileKeys: fileKeys.slice(i, i + GONE_BATCH) }
      this.connection.send(JSON.stringify(msg))
    }
  }

  private async goneAt(files: readonly { fileKey: string; path: string }[]): Promise<void> {
    this.sendGone(await goneFrom(files))
  }

  /** Resolves when every tracked byte is acknowledged (tests and `overlord status --wait`). */
  async idle(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const s = this.status()
      if (s.connected && s.bytesPending === 0 && this.scheduler.framesInFlight === 0) return true
      await new Promise((r) => setTimeout(r, 25))
    }
    return false
  }

  // ---- remote commands ------------------------------------------------------------------------

  /** The server relays text being written (`welcome.commandPartials`). */
  private commandPartials = false

  /**
   * Sends a command runner's message, or keeps it until the next welcome while disconnected
   * (`SyncConnection.sendCommandMessage`). A `command-partial` goes only to a server that takes it, and
   * only now: kept for a reconnect it would be stale, and the complete message is kept anyway.
   */
  sendCommandMessage(message: Commands.CommandDaemonMessage): void {
    if (message.type === "command-partial" && !(this.commandPartials && this.connection.open)) return
    this.connection.sendCommandMessage(message)
  }

  private readonly seenCwds = new Set<string>()
  private readonly collectCwds = (facts: readonly (LineFacts | null)[]): void => {
    let added: Set<string> | null = null
    for (const f of facts) {
      const cwd = f?.cwd
      if (cwd === undefined || this.seenCwds.has(cwd)) continue
      this.seenCwds.add(cwd)
      added ??= new Set()
      added.add(cwd)
    }
    if (added) this.options.onCwds?.(added)
  }

  /** The socket closed: what was in flight is unanswered, and every file is verified again at the next welcome. */
  private disconnected(): void {
    this.scheduler.dropInFlight()
    for (const t of this.files.values()) {
      t.sent = t.acked
      t.verified = false
    }
    this.options.onChange?.()
  }

  private fail(message: string): void {
    this.report.fail(message)
  }

  /** A server this daemon can sync with: adopt its cursors, verify every file, and send. */
  private async welcome(msg: Sync.Welcome): Promise<void> {
    this.goneNotices = msg.goneNotices === true
    this.commandPartials = msg.commandPartials === true
    this.statusSent = null
    this.report.clearError()
    this.serverCursors = new Map(msg.cursors.map((c) => [c.fileKey, c]))
    this.factsFrameLimit = msg.factsVersion === FACTS_VERSION ? msg.limits.maxFrameBytes : 0
    this.options.log.info(`connected to ${this.connection.serverUrl}; the server holds ${msg.cursors.length} files`)
    const queued = this.scheduler.backfillQueued()
    // Side by side, a few hundred at a time: each is a stat and a read of the bytes before the server's
    // offset, and one after another they held up every restart for a history's thousands of files.
    const all = [...this.files.values()]
    for (let i = 0; i < all.length; i += VERIFY_BATCH) {
      await Promise.all(
        all.slice(i, i + VERIFY_BATCH).map(async (t) => {
          await this.verify(t)
          // Bytes in flight when the last connection dropped: their file already left the queues.
          if (t.sent < t.size && !queued.has(t)) this.scheduler.queueLive(t)
        }),
      )
    }
    this.options.onChange?.()
    this.pump()
    void this.reportGone(msg.cursors)
  }

  private async onServerMessage(msg: ServerEvent): Promise<void> {
    switch (msg.type) {
      case "command":
      case "command-input":
        this.options.onCommand?.(msg)
        return
      case "ack": {
        const flight = this.scheduler.landed(msg.seq)
        const t = this.files.get(msg.fileKey)
        if (t && (!flight || flight.epoch === t.epoch) && msg.generation === t.generation) {
          t.acked = Math.max(t.acked, msg.offset)
          if (t.sent < t.acked) t.sent = t.acked
        }
        const sameGeneration = t !== undefined && msg.generation === t.generation
        if (t && sameGeneration) t.storedEnd = Math.max(t.storedEnd, msg.offset)
        this.serverCursors.set(msg.fileKey, {
          fileKey: msg.fileKey,
          generation: msg.generation,
          offset: msg.offset,
          ...(t && sameGeneration && t.storedEnd > msg.offset ? { end: t.storedEnd } : {}),
        })
        if (msg.notices) this.report.note(msg.fileKey, msg.notices)
        if (this.scheduler.framesInFlight === 0 && this.gc.shippedSinceCollect && this.status().bytesPending === 0) {
          this.gc.drained()
        }
        this.options.onChange?.()
        this.pump()
        return
      }
      case "rejected": {
        const flight = this.scheduler.landed(msg.seq)
        const t = this.files.get(msg.cursor.fileKey)
        if (t && (!flight || flight.epoch === t.epoch)) {
          this.options.log.info(`resync ${t.fileKey}: ${msg.reason}`)
          this.serverCursors.set(t.fileKey, msg.cursor)
          t.verified = false
          await this.verify(t)
          // Rewound to the server's offset: the file may already have left the queues.
          if (t.sent < t.size) this.scheduler.queueLive(t)
        }
        this.pump()
        return
      }
    }
  }

  /**
   * Adopts the server's cursor for a file, unless the file on disk no longer matches what the
   * server stored (shrunk, replaced, or rewritten before the cursor): then it is re-read from 0.
   */
  private async verify(t: Tracked, known?: FileFacts): Promise<void> {
    const adopted = await this.files.adopt(t, this.serverCursors.get(t.fileKey), known)
    if (adopted?.reset) this.sendReset(t, adopted.reset, adopted.identity)
  }

  private sendReset(t: Tracked, reason: Sync.Reset["reason"], identity: string): void {
    if (!this.connection.open) return
    this.files.reset(t, identity)
    this.report.reset(t.fileKey, reason)
    const reset: Sync.Reset = {
      type: "reset",
      fileKey: t.fileKey,
      generation: t.generation,
      identity,
      size: t.size,
      reason,
    }
    this.connection.send(JSON.stringify(reset))
    this.scheduler.queueLive(t)
  }

  // ---- sending ------------------------------------------------------------------------------

  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true
      return
    }
    this.pumping = true
    void this.pumpLoop().finally(() => {
      this.pumping = false
      if (this.pumpAgain) {
        this.pumpAgain = false
        this.pump()
      }
    })
  }

  private async pumpLoop(): Promise<void> {
    while (this.connection.open) {
      const next = this.scheduler.pick()
      if (!next) return
      const t = next
      t.reading = true
      try {
        // Mid-file the size is already known; stat only when we think we reached the end (watch
        // events report replacements and shrinks as they happen).
        if (t.sent >= t.size) {
          if (!(await this.restat(t)) || t.sent >= t.size) continue
        }
        const idle = Date.now() - t.lastGrowthAt >= this.partialGraceMs
        // What this read is based on: if it changes while we read or stat, look again at once.
        const believed = { size: t.size, sent: t.sent }
        // The chunk is read straight into the frame that will carry it, behind room for its header.
        const want = Math.min(this.chunkBytes, t.size - t.sent)
        const frame = allocFrame(want)
        // The bytes the server holds just before `sent` (when we know them) are read with the chunk,
        // into the room in front of it where the header goes later, and compared before anything is
        // sent. With or after the chunk, never before it: a check read first leaves the gap between
        // the two reads open, and a rewrite landing in it (O_TRUNC, then the new content) passes the
        // check on the old bytes while the chunk is the new file's bytes past the old length: the
        // wrong copy issue #14 found in 9 of 10 tries. Read after the chunk (`readChunk` reads them
        // in its pread and once more after it, as one pread is not atomic against the rewrite), they
        // come from the new file whenever any byte of the chunk did, and differ from the old ones.
        const expected = this.files.expectedBefore(t)
        const { epoch, sent } = t
        const chunk = await readChunk(
          t.path,
          t.sent,
          chunkRoom(frame, want, expected.length),
          this.chunkBytes,
          idle,
          expected.length,
        )
        if (!chunk) {
          // Nothing whole to send: the size we believed may be stale (the file shrank or was replaced
          // without an event reaching us). Look again before waiting, so the file can never stall.
          if (!(await this.restat(t))) continue
          if (t.size === believed.size && t.sent === believed.sent) this.waitForPartial(t)
          continue
        }
        // Resynced or reset while we read: this read is of a position no longer wanted.
        if (t.epoch !== epoch || t.sent !== sent) continue
        if (!sameBytes(chunk.before, expected)) {
          await this.rewritten(t)
          continue
        }
        if (!this.connection.open) return
        // Kept before the frame is handed over: its bytes are the socket's from then on.
        this.files.shipped(t, expected, chunk.bytes, chunk.from + chunk.bytes.length)
        this.sendAppend(t, chunk.from, frame, chunk.bytes.length)
        if (t.readFailure) this.readAgain(t)
      } catch (error) {
        await this.readFailed(t, error)
      } finally {
        t.reading = false
      }
    }
  }

  /**
   * A read of `t` failed: a file deleted between its stat and its read is dropped like any deleted
   * file; one still there (made unreadable by chmod, an I/O error) leaves the queues and is tried again
   * later, twice as late each time (1 s to 5 min), and at its next change. It used to stay first in the
   * queue and be read again at once: a session file chmod 000 held the daemon's thread in a loop of
   * failed opens (10,000 a second, a whole core), so no other file synced, its state file was never
   * written again and `overlord stop` went unanswered. Warned about once while the same failure repeats.
   */
  private async readFailed(t: Tracked, error: unknown): Promise<void> {
    if (!(await this.restat(t)) || this.files.get(t.fileKey) !== t) return
    const reason = error instanceof Error ? error.message : String(error)
    const failure = t.readFailure ?? { reason: "", attempt: -1, timer: null }
    failure.attempt += 1
    if (failure.reason !== reason) {
      failure.reason = reason
      this.fail(
        `reading ${t.fileKey}: ${reason}; its lines wait until it can be read (tried again later and when it changes)`,
      )
    }
    t.readFailure = failure
    const delay = Math.min(READ_RETRY_MAX_MS, READ_RETRY_MS * 2 ** failure.attempt)
    this.options.log.info(`reading ${t.fileKey} again in ${delay} ms`)
    // Out of both queues until then (a backfill file skips the backfill queue once live).
    t.live = true
    this.scheduler.unqueueLive(t)
    if (failure.timer) clearTimeout(failure.timer)
    failure.timer = setTimeout(() => {
      failure.timer = null
      if (this.files.get(t.fileKey) !== t) return
      this.scheduler.queueLive(t)
      this.pump()
    }, delay)
  }

  /** `t` was read after failed reads: its failure, if it is still the last error, is over. */
  private readAgain(t: Tracked): void {
    const failure = t.readFailure!
    if (failure.timer) clearTimeout(failure.timer)
    t.readFailure = null
    this.report.clearError(`reading ${t.fileKey}: `)
    this.options.log.info(`${t.fileKey} can be read again`)
  }

  private waitForPartial(t: Tracked): void {
    if (t.partialTimer) return
    this.scheduler.unqueueLive(t)
    t.partialTimer = setTimeout(() => {
      t.partialTimer = null
      this.scheduler.queueLive(t)
      this.pump()
    }, this.partialGraceMs)
  }

  /** Sends the chunk read into `frame` (`length` bytes from `from`) in its append frame. */
  private sendAppend(t: Tracked, from: number, frame: Buffer, length: number): void {
    const seq = this.scheduler.nextSeq()
    const append = { seq, fileKey: t.fileKey, generation: t.generation, identity: t.identity ?? "", fromOffset: from }
    const message = finishFrame(
      frame,
      length,
      append,
      this.factsFrameLimit,
      this.options.onCwds ? this.collectCwds : undefined,
    )
    this.scheduler.launched(seq, { fileKey: t.fileKey, epoch: t.epoch, bytes: message.length })
    t.sent = from + length
    this.connection.send(message)
    this.gc.shipped(message.length)
  }
}
