/**
 * The daemon's WebSocket (`/api/v1/sync`): hello, then appends and resets, each answered once the
 * store has committed it. Messages of one connection are handled strictly in arrival order.
 *
 * Group commit: the append frames waiting on a connection are stored in one transaction, up to the
 * engine's chunks per group (`groupMaxBytes`). A backfill keeps several frames in flight, so while one group is stored the
 * next one arrives; a live append, alone, waits about `GROUP_SETTLE_MS` for company.
 */
import { type AppendFrame, AppendFrameError, type AppendFrameReader, decodeAppendFrame, Sync } from "@overlord/protocol"
import {
  type Append,
  type AppendOutcome,
  accessRefusalOf,
  isRetryable,
  isStoreError,
  type MachineActor,
  type Interface as StoreApi,
} from "@overlord/store"
import { countPieces, FACTS_VERSION, type LineFacts } from "@overlord/transcript"
import { Effect, Schema } from "effect"
import type { CommandRelay } from "./command-relay.ts"
import { REPAIR_HINT } from "./http-accounts.ts"
import type { LiveHub } from "./live-hub.ts"

export const SERVER_VERSION = "0.1.0"
/** Largest binary frame accepted; the daemon sizes its batches below it. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024
const HELLO_TIMEOUT_MS = 10_000
const MAX_NOTICES = 20
const COLLECT_EVERY_BYTES = 64 * 1024 * 1024
const QUIET_COLLECT_MS = 2_000
/**
 * A group is counted in 1 MiB chunk frames: the chunk with its frame's header and facts (up to 65 KiB
 * more). A cap of 4 MiB flat held only three of them (4 × 1.049 MB > 4.194 MB), and on PlanetScale,
 * where a group costs ~360 ms of round trips whatever it holds, that was a quarter of the throughput
 * (a 64 KiB larger cap, quiet machine: 8.0, 8.1 against 7.4, 7.8 MB/s end to end).
 */
const CHUNK_FRAME_BYTES = (1024 + 65) * 1024
/**
 * Chunks per group unless the engine asks for more (`Engine.groupChunks`): committing 4 MB at once
 * writes ~25 % fewer WAL bytes than a commit per 1 MB frame on SQLite; more gains little there.
 */
const GROUP_CHUNKS = 4
const GROUP_MAX_FRAMES = 256
/**
 * The socket is read ~512 KB per event-loop turn, so frames queued in the kernel while the last group
 * was stored trickle in over several turns: a group keeps turning the loop while they do (until it
 * holds `groupMaxBytes`), and for this long when they do not. Turning rather than sleeping: three
 * interleaved backfill pairs were no faster with a 1 ms sleep (BENCHMARKS.md).
 */
const GROUP_SETTLE_MS = 1

/** A binary frame as it arrived: its size, and what it decoded to. */
interface Received {
  readonly length: number
  readonly parsed: AppendFrame | AppendFrameError
}

export interface SyncSocket {
  send(data: string): unknown
  close(code?: number, reason?: string): unknown
}

export interface SyncConnection {
  readonly onMessage: (data: string | Uint8Array) => void
  readonly onClose: () => void
  /** Whether its hello was accepted (a socket before that is counted per address, `app.ts`). */
  readonly signedIn: () => boolean
}

const decodeDaemon = Schema.decodeUnknownExit(Sync.DaemonMessageFromJson)

// The wire schema and the parser's type must stay one shape: this fails to compile if they drift.
const sameShape = <A, B extends A>(check: (a: A) => B) => check
sameShape<Sync.LineFacts, LineFacts>((f) => f)
sameShape<LineFacts, Sync.LineFacts>((f) => f)

/** How this server reads append frames: facts of its own version only, one per line as `countPieces` cuts them. */
export const appendFrameReader: AppendFrameReader = { factsVersion: FACTS_VERSION, countLines: countPieces }

/** Callbacks per machine key, each registration with its removal; a key without callbacks is dropped. */
class MachineCallbacks<F> {
  private readonly sets = new Map<string, Set<F>>()
  add(key: string, f: F): () => void {
    const set = this.sets.get(key) ?? new Set()
    set.add(f)
    this.sets.set(key, set)
    return () => {
      set.delete(f)
      if (set.size === 0 && this.sets.get(key) === set) this.sets.delete(key)
    }
  }
  /** A copy: a callback may remove itself (a closing connection) while they are called. */
  of(key: string): readonly F[] {
    return [...(this.sets.get(key) ?? [])]
  }
}

/**
 * The open sync connections of each machine, in this server process. A daemon that reconnects may
 * open its new socket before the old one's close arrives (or is handled): a machine goes offline
 * only when its last connection closes, not for the 15-20 s until its next status message.
 */
export class SyncPresence {
  private readonly open = new Map<string, number>()
  static key(userId: number, machineUid: string): string {
    return `${userId}\u0000${machineUid}`
  }
  add(key: string): void {
    this.open.set(key, (this.open.get(key) ?? 0) + 1)
  }
  remove(key: string): void {
    const n = (this.open.get(key) ?? 0) - 1
    if (n > 0) this.open.set(key, n)
    else this.open.delete(key)
  }
  isOnline(key: string): boolean {
    return this.open.has(key)
  }
  /** What closes each open connection of a machine when it is revoked (`http-accounts.ts`). */
  private readonly revokers = new MachineCallbacks<() => void>()
  /** Registers `close` for the machine's revocation; returns its removal. */
  onRevoke(key: string, close: () => void): () => void {
    return this.revokers.add(key, close)
  }
  /** Refuses and closes every open connection of the machine, at once. */
  revoke(key: string): void {
    for (const close of this.revokers.of(key)) close()
  }
  /** What tells each open connection of a machine that asked (`hello.machineNames`) its new name. */
  private readonly namers = new MachineCallbacks<(name: string) => void>()
  /** Registers `tell` for the machine's renames; returns its removal. */
  onRename(key: string, tell: (name: string) => void): () => void {
    return this.namers.add(key, tell)
  }
  /**
   * The machine was renamed (`POST /machines/:id/rename`): its daemon keeps the name at once. Only the
   * connections to this server process: a daemon connected to another server learns it at its next
   * welcome.
   */
  renamed(key: string, name: string): void {
    for (const tell of this.namers.of(key)) tell(name)
  }
}

export function openSyncConnection(
  socket: SyncSocket,
  store: StoreApi,
  hub: LiveHub,
  presence: SyncPresence,
  /** Remote commands (`command-relay.ts`); without it, command messages are refused. */
  commands?: CommandRelay,
): SyncConnection {
  let actor: MachineActor | null = null
  /** A child machine's connection (a sandbox synced by its parent's daemon): files only, no commands. */
  let child = false
  /** Stops this connection speaking for its machine's remote commands. */
  let detachCommands: (() => void) | null = null
  /** This connection's entry in `presence`, from a verified hello until the close. */
  let presenceKey: string | null = null
  /** Removes this connection from the machine's revocation watchers (set with `presenceKey`). */
  let stopRevokeWatch: (() => void) | null = null
  let ingested = 0
  let quietTimer: ReturnType<typeof setTimeout> | null = null
  let closed = false
  let chain: Promise<void> = Promise.resolve()
  /**
   * Messages not yet handled, in arrival order; `arrivals` counts every message ever queued. A binary
   * frame is decoded as it arrives (`Received`): that runs while the group before it is in the
   * database, instead of between groups, where on MySQL it held up the storing chain (~7 ms a 6 MB
   * group, ~110 ms per 100 MB of small files' frames).
   */
  const inbox: (string | Received)[] = []
  let inboxBytes = 0
  let arrivals = 0
  let draining = false
  /**
   * A group's frame bytes at most. The server's memory for a connection is bounded by what the daemon
   * keeps in flight (its window: 16 MiB of frames), not by this: a group is taken from those frames.
   */
  const groupMaxBytes = (store.groupChunks ?? GROUP_CHUNKS) * CHUNK_FRAME_BYTES
  /**
   * The daemon's latest `status` not yet written. A status is the machine's health for the dashboard,
   * not ordered against appends, so it neither waits in line nor cuts a group: it is taken out of the
   * inbox, a newer one replaces it, and it is written after the group being gathered is stored. In line
   * it cut a third of a backfill's groups short (the daemon reported every 0.5 s), and on PlanetScale
   * each cost two round trips between groups (20 ms added per request: 7.6-8.1 MB/s end to end).
   */
  let latestStatus: string | null = null
  const isStatus = (text: string) => actor !== null && Sync.messageTypeOf(text) === "status"
  const send = (m: Sync.ServerMessage) => {
    if (!closed) socket.send(JSON.stringify(m))
  }
  const refuse = (code: Sync.Refused["code"], message: string) => {
    send({ type: "refused", code, message })
    socket.close(4000, code)
  }
  const helloTimer = setTimeout(() => {
    if (!actor) refuse("bad_message", "no hello within 10 s")
  }, HELLO_TIMEOUT_MS)

  const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)

  const answer = (seq: number, outcome: AppendOutcome) => {
    if (outcome._tag === "Ack") {
      const c = outcome.cursor
      const notices = outcome.stored
        .filter((r) => r.notice !== null)
        .slice(0, MAX_NOTICES)
        .map((r) => ({ byteOffset: r.byteOffset, message: r.notice! }))
      send({
        type: "ack",
        seq,
        fileKey: c.fileKey,
        generation: c.generation,
        offset: c.offset,
        ...(notices.length > 0 ? { notices } : {}),
      })
      if (actor && outcome.stored.length > 0) hub.stored(actor.userId, outcome.stored)
    } else {
      send({ type: "rejected", seq, reason: outcome.reason, cursor: outcome.cursor })
    }
  }

  const handleText = async (text: string) => {
    const exit = decodeDaemon(text)
    if (exit._tag === "Failure") {
      if (!actor) {
        // A hello of another major may not decode as ours: still told which side to upgrade.
        const other = helloVersionOf(text)
        const skew =
          other &&
          Sync.protocolSkew(other, { major: Sync.PROTOCOL_VERSION, minor: Sync.PROTOCOL_MINOR, app: SERVER_VERSION })
        if (skew) {
          await run(Effect.logWarning(`sync: refused a daemon: ${skew.message}`))
          return refuse("incompatible_protocol", skew.message)
        }
        return refuse("bad_message", `expected a hello: ${String(exit.cause)}`)
      }
      // A type this server does not know comes from a newer daemon (one minor ahead, `Sync.protocolSkew`):
      // ignored, with a warning, rather than answered as an error it would show as its own.
      const type = Sync.messageTypeOf(text)
      if (type !== null && !Sync.DAEMON_MESSAGE_TYPES.has(type)) {
        return run(Effect.logWarning(`sync: ignored a "${type}" message this server does not know (a newer daemon)`))
      }
      return send({ type: "error", message: `invalid message: ${String(exit.cause)}` })
    }
    const msg = exit.value
    if (msg.type === "hello") {
      if (actor) return send({ type: "error", message: "hello sent twice" })
      const skew = Sync.protocolSkew(
        { ...Sync.protocolLevelOf(msg), app: msg.daemonVersion },
        { major: Sync.PROTOCOL_VERSION, minor: Sync.PROTOCOL_MINOR, app: SERVER_VERSION },
      )
      if (skew) {
        await run(Effect.logWarning(`sync: refused machine ${msg.machineId} (${msg.machineName}): ${skew.message}`))
        return refuse("incompatible_protocol", skew.message)
      }
      const grant = await run(store.verifyToken(msg.token, ["machine"]))
      // A child machine (a sandbox) speaks with its parent's token: the token must be the parent's.
      const tokenMachine = msg.parent ? msg.parent.machineId : msg.machineId
      if (!grant || grant.machineUid !== tokenMachine) {
        return refuse("unauthorized", `this machine's token is unknown or revoked: ${REPAIR_HINT}`)
      }
      if (
        msg.parent &&
        !(await run(
          store.adoptChildMachine(grant, msg.parent.machineId, msg.machineId, msg.machineName, msg.parent.kind),
        ))
      ) {
        return refuse(
          "unauthorized",
          `machine ${msg.machineId} is not a ${msg.parent.kind} of ${msg.parent.machineId}, or was revoked`,
        )
      }
      // Closed while the token was checked: counting it now would keep the machine online for ever.
      if (closed) return
      // Counted before the store marks the machine online, so that an older connection's close,
      // handled meanwhile, sees this one and leaves the machine online.
      presenceKey = SyncPresence.key(grant.userId, msg.machineId)
      presence.add(presenceKey)
      const revoked = () => refuse("unauthorized", `this machine was revoked on the server: ${REPAIR_HINT}`)
      const stopWatches = [presence.onRevoke(presenceKey, revoked)]
      // Revoking the parent revokes its children: their sockets close with its own.
      if (msg.parent) stopWatches.push(presence.onRevoke(SyncPresence.key(grant.userId, msg.parent.machineId), revoked))
      // A rename from now on is told to the daemon: after the welcome, whose name is read after this, so
      // a rename that lands in between is sent after it, never overwritten by an older name in it.
      const namesTold = msg.machineNames === true && !msg.parent
      let welcomed = false
      let nameToTell: string | null = null
      if (namesTold)
        stopWatches.push(
          presence.onRename(presenceKey, (name) => {
            if (welcomed) send({ type: "machine-name", name })
            else nameToTell = name
          }),
        )
      stopRevokeWatch = () => {
        for (const stop of stopWatches) stop()
      }
      // A revoke that committed after the check above found no socket to close: checked once more,
      // now that one would be closed.
      if (!(await run(store.verifyToken(msg.token, ["machine"])))) return revoked()
      const opened = await run(store.openMachine({ userId: grant.userId }, msg.machineId, msg.machineName))
      actor = { userId: grant.userId, machineId: opened.machineId }
      child = msg.parent !== undefined
      // The stored name, which a hello repeating the daemon's last name leaves alone (a dashboard rename).
      const machineName = namesTold
        ? (await run(store.listMachines({ userId: grant.userId }))).find((m) => m.machineId === msg.machineId)?.name
        : undefined
      clearTimeout(helloTimer)
      send({
        type: "welcome",
        protocolVersion: Sync.PROTOCOL_VERSION,
        protocolMinor: Sync.PROTOCOL_MINOR,
        serverVersion: SERVER_VERSION,
        cursors: opened.cursors,
        limits: { maxFrameBytes: MAX_FRAME_BYTES },
        factsVersion: FACTS_VERSION,
        goneNotices: true,
        ...(commands && !msg.parent ? { commandPartials: true } : {}),
        ...(machineName !== undefined ? { machineName } : {}),
      })
      welcomed = true
      if (nameToTell !== null) send({ type: "machine-name", name: nameToTell })
      // Remote commands: what this daemon accepts, then what waits for it (after the welcome). A child
      // machine takes none: its parent's daemon runs them.
      if (msg.remote && !msg.parent) await run(store.setMachineRemote(actor, msg.remote))
      hub.machinesChanged(grant.userId)
      if (commands && !closed && !msg.parent)
        detachCommands = await commands.attach(actor, msg.machineId, (m) => {
          if (!closed) socket.send(JSON.stringify(m))
        })
      return
    }
    if (!actor) return refuse("bad_message", "expected a hello first")
    if (msg.type === "reset") return answer(0, await run(store.reset(actor, msg)))
    // Files gone from the machine (Claude Code's cleanup): kept, and marked for the dashboard.
    if (msg.type === "gone") {
      await run(store.markSourcesGone(actor, msg.fileKeys, new Date().toISOString()))
      hub.machinesChanged(actor.userId)
      return
    }
    // Files held as gone that the daemon has after all (a `CLAUDE_CONFIG_DIR` switched back).
    if (msg.type === "back") {
      await run(store.markSourcesBack(actor, msg.fileKeys))
      hub.machinesChanged(actor.userId)
      return
    }
    if (
      msg.type === "command-ack" ||
      msg.type === "command-event" ||
      msg.type === "command-exit" ||
      msg.type === "command-partial"
    ) {
      if (!commands || child) return send({ type: "error", message: "this connection does not take remote commands" })
      return commands.fromDaemon(actor, msg)
    }
    if (msg.type === "status") {
      if (msg.remote && !child) await run(store.setMachineRemote(actor, msg.remote))
      await run(
        store.setMachineState(actor, {
          online: true,
          filesTracked: msg.filesTracked,
          bytesPending: msg.bytesPending,
          lastError: msg.lastError ?? null,
        }),
      )
      hub.machinesChanged(actor.userId)
    }
  }

  /** Stores a group of frames in one transaction and answers each, in order. */
  const storeGroup = async (appends: Append[]) => {
    if (!actor || appends.length === 0) return
    const outcomes = await run(store.append(actor, appends))
    for (const [i, outcome] of outcomes.entries()) {
      answer(appends[i]!.header.seq, outcome)
      ingested += appends[i]!.payload.length
    }
    // Bulk ingest allocates a parse tree per line; collecting every 64 MB keeps the heap at chunk scale.
    if (ingested >= COLLECT_EVERY_BYTES) {
      ingested = 0
      Bun.gc(true)
    }
    // And once more when appends stop, so an idle server holds no ingest garbage.
    if (quietTimer) clearTimeout(quietTimer)
    quietTimer = setTimeout(() => {
      Bun.gc(true)
      Bun.shrink()
    }, QUIET_COLLECT_MS)
  }

  /** The binary frames at the head of the inbox, up to a group's size. Invalid ones are answered in turn. */
  const handleBinaryGroup = async () => {
    if (!actor) {
      inbox.shift()
      return refuse("bad_message", "expected a hello first")
    }
    let group: Append[] = []
    let bytes = 0
    while (inbox.length > 0 && group.length < GROUP_MAX_FRAMES) {
      const head = inbox[0]!
      if (typeof head === "string") {
        // Any other text (a reset, a file gone, a command's event) is handled in its place, between groups.
        if (!isStatus(head)) break
        inbox.shift()
        latestStatus = head
        continue
      }
      const { length, parsed } = head
      if (group.length > 0 && bytes + length > groupMaxBytes) break
      inbox.shift()
      inboxBytes -= length
      if (parsed instanceof AppendFrameError) {
        // Answered after the frames before it, as if handled one by one.
        await storeGroup(group)
        group = []
        bytes = 0
        send({ type: "error", message: parsed.message })
        continue
      }
      if (parsed.factsIgnored) {
        // Only an optimisation was lost: the store computes the facts from the bytes.
        await run(
          Effect.logWarning(`append ${parsed.header.seq} (${parsed.header.fileKey}): ${parsed.factsIgnored.message}`),
        )
      }
      group.push({
        header: parsed.header,
        payload: parsed.payload,
        ...(parsed.facts ? { facts: parsed.facts } : {}),
      })
      bytes += length
    }
    await storeGroup(group)
  }

  /** Lets frames already on their way join the group (see `GROUP_SETTLE_MS`). */
  const settle = async () => {
    const start = performance.now()
    // Up to a group's frames too: a backfill of small files fills 256 frames long before 4 MiB.
    while (inboxBytes < groupMaxBytes && inbox.length < GROUP_MAX_FRAMES && !closed) {
      const seen = arrivals
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (arrivals === seen && performance.now() - start >= GROUP_SETTLE_MS) return
    }
  }

  const drain = async () => {
    while (inbox.length > 0 && !closed) {
      const next = inbox[0]!
      if (typeof next === "string") {
        inbox.shift()
        if (isStatus(next)) latestStatus = next
        else await handleText(next)
      } else {
        await settle()
        await handleBinaryGroup()
      }
      // Written after the group it arrived during; one already followed by a newer status is skipped.
      if (latestStatus !== null && !(typeof inbox[0] === "string" && isStatus(inbox[0]))) {
        const status = latestStatus
        latestStatus = null
        if (!closed) await handleText(status)
      }
    }
  }

  return {
    signedIn: () => actor !== null,
    onMessage: (data) => {
      if (typeof data === "string") inbox.push(data)
      else {
        inbox.push({ length: data.length, parsed: decodeAppendFrame(data, appendFrameReader) })
        inboxBytes += data.length
      }
      arrivals += 1
      if (draining) return
      draining = true
      chain = chain
        .then(drain)
        .catch((error: unknown) => {
          // A store failure must not ack: the daemon will resend from the server's offset.
          inbox.length = 0
          inboxBytes = 0
          latestStatus = null
          Effect.runFork(Effect.logError("sync connection failed", error))
          // What failed is the server's business, in its log only: the daemon was told the error's text
          // (the driver's message: SQL, key values, host names, paths) on the assumption that its owner
          // runs the server, but on a team server any member's daemon is signed in (security-audit).
          // A refusal of the database's credentials or quota is the exception: its sentence is ours (it
          // names the database and what to check, never the driver's text), and without it a user whose
          // sync stalls cannot tell a server being fixed from one that is broken.
          const refusal = accessRefusalOf(error)
          const why = refusal ? `: ${refusal.message}` : "; the server's log has the details"
          if (isStoreError(error) && isRetryable(error)) {
            // The database cannot take it now (unreachable, locked, disk full): nothing was stored, the
            // daemon keeps its bytes and comes back after its backoff (1013: try again later).
            send({ type: "error", message: `store unavailable, retry later${why}` })
            socket.close(1013, "try again later")
            return
          }
          send({ type: "error", message: `server error${why}` })
          socket.close(1011, "server error")
        })
        .finally(() => {
          draining = false
        })
    },
    onClose: () => {
      closed = true
      detachCommands?.()
      stopRevokeWatch?.()
      if (quietTimer) clearTimeout(quietTimer)
      clearTimeout(helloTimer)
      const key = presenceKey
      if (key) {
        presence.remove(key)
        // After the messages being handled, so a hello under way has set `actor` by then.
        chain = chain
          .then(async () => {
            const a = actor
            // Checked when the write happens: another connection of this machine may have said hello since.
            if (!a || presence.isOnline(key)) return
            await run(store.setMachineState(a, { online: false }))
            hub.machinesChanged(a.userId)
          })
          .catch((error: unknown) =>
            run(Effect.logWarning("could not mark a machine offline", error)).catch(() => undefined),
          )
      }
    },
  }
}

/** The versions a hello that does not decode still names (a daemon of another major), else null. */
function helloVersionOf(text: string): (Sync.ProtocolLevel & { app: string }) | null {
  if (Sync.messageTypeOf(text) !== "hello") return null
  const m = JSON.parse(text) as { protocolVersion?: unknown; protocolMinor?: unknown; daemonVersion?: unknown }
  if (typeof m.protocolVersion !== "number") return null
  return {
    major: m.protocolVersion,
    minor: typeof m.protocolMinor === "number" ? m.protocolMinor : 0,
    app: typeof m.daemonVersion === "string" ? m.daemonVersion : "unknown",
  }
}
