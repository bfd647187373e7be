/**
 * Remote commands between the API, the store and the daemons' sync sockets, in this server process:
 * which daemon connection speaks for which machine, (re)delivery of queued commands when a daemon says
 * hello, the expiry sweep, and the live fan-out of commands and their events to the dashboards.
 *
 * Delivery is at least once (a queued command is sent at every hello until the daemon acknowledges
 * it) and the daemon's journal makes running exactly once. Several server instances: a command asked
 * of one instance reaches a daemon connected to another at its next hello (the multi-server change
 * feed does not carry commands yet).
 *
 * Text being written (`command-partial`) is kept in memory only, for the blocks still open: a watcher
 * gets it once it has every stored event before a block, from where it last got to, and one that
 * starts watching mid-answer gets the text so far. The block's stored `assistant` event replaces it
 * (`Commands.replacesPartial`); nothing of it is written to the store.
 */
import { type Api, Commands, type Live } from "@overlord/protocol"
import type { Actor, MachineActor, Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"
import type { LiveHub, LiveSocket } from "./live-hub.ts"
import { type PumpState, runPump } from "./pump.ts"

/** How often queued commands are checked for expiry (also on every API read). */
const SWEEP_MS = 5_000
const EVENT_PAGE = 1_000
/**
 * Commands one live socket watches at once; past it the socket's oldest watch ends (a dashboard watches
 * the command on screen, and keeps the ones it showed since it loaded: hundreds is a long day). Unbounded,
 * a signed-in client's 100k `watch-command` messages grew the set and, each one scanning it, stalled the
 * server's one thread for every user (security-audit).
 */
export const MAX_WATCHES_PER_SOCKET = 256
/**
 * Of one block being written, kept at most this much (UTF-16 code units); past it the block stops
 * growing until its complete message arrives. A block is at most a message's output tokens (≈128K
 * tokens, ≈512K characters, for the largest models), so this only bounds a misbehaving daemon.
 */
const MAX_PARTIAL_CHARS = 1024 * 1024

/** A block being written: its whole text so far (`from` is always 0 here). */
type OpenBlock = Commands.PartialBlock

interface CommandPartials {
  /** The machine whose daemon runs the command: partials from any other are ignored. */
  readonly machineId: number
  readonly blocks: Map<string, OpenBlock>
}

interface CommandWatch extends PumpState {
  readonly socket: LiveSocket
  readonly actor: Actor
  readonly commandId: string
  lastEventSeq: number
  /** Of each open block, how much text this watcher has been sent. */
  partialSent: Map<string, number>
}

const blockKey = (b: { readonly messageId: string; readonly index: number }) => `${b.messageId}:${b.index}`

const key = (userId: number, machineUid: string) => `${userId}\u0000${machineUid}`
const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)

export class CommandRelay {
  /** The newest sync connection of each machine: where its commands go. */
  private readonly daemons = new Map<string, (m: Commands.CommandServerMessage) => void>()
  private readonly watches = new Set<CommandWatch>()
  /** Open blocks of running commands, by `key(userId, commandId)`. */
  private readonly partials = new Map<string, CommandPartials>()
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(
    private readonly store: StoreApi,
    private readonly hub: LiveHub,
  ) {
    this.sweeper = setInterval(() => void this.expire().catch(() => undefined), SWEEP_MS)
    this.sweeper.unref?.()
  }

  close(): void {
    clearInterval(this.sweeper)
  }

  /** A daemon said hello: it speaks for its machine until `detach`; its queued commands go out now. */
  async attach(
    actor: MachineActor,
    machineUid: string,
    send: (m: Commands.CommandServerMessage) => void,
  ): Promise<() => void> {
    const k = key(actor.userId, machineUid)
    this.daemons.set(k, send)
    await this.expire()
    for (const command of await run(this.store.undeliveredCommands(actor, new Date().toISOString()))) send(command)
    return () => {
      if (this.daemons.get(k) === send) this.daemons.delete(k)
    }
  }

  /** Sends to the machine's daemon if it is connected here; false otherwise. */
  sendTo(userId: number, machineUid: string, message: Commands.CommandServerMessage): boolean {
    const send = this.daemons.get(key(userId, machineUid))
    if (!send) return false
    send(message)
    return true
  }

  /** Queued commands past their time become `expired` (and never run); the dashboards hear of it. */
  async expire(): Promise<void> {
    const expired = await run(this.store.expireCommands(new Date().toISOString()))
    for (const { userId, command } of expired) this.commandChanged(userId, command)
  }

  /** A daemon's message about one of its commands: stored, then fanned out (text being written: only fanned out). */
  async fromDaemon(actor: MachineActor, message: Commands.CommandDaemonMessage): Promise<void> {
    if (message.type === "command-partial") return this.partialFromDaemon(actor, message)
    const at = new Date().toISOString()
    if (message.type === "command-ack") {
      const changed = await run(this.store.recordCommandAck(actor, message.commandId, at))
      if (changed) this.commandChanged(actor.userId, changed)
      return
    }
    if (message.type === "command-event") {
      const outcome = await run(
        this.store.recordCommandEvents(
          actor,
          message.commandId,
          [{ eventSeq: message.eventSeq, event: message.event }],
          at,
        ),
      )
      if (outcome.command) this.commandChanged(actor.userId, outcome.command)
      if (outcome.stored > 0) {
        const k = key(actor.userId, message.commandId)
        const partials = this.partials.get(k)
        if (partials === undefined) this.partials.set(k, { machineId: actor.machineId, blocks: new Map() })
        else
          for (const [bk, block] of partials.blocks)
            if (Commands.replacesPartial(message.eventSeq, message.event, block)) partials.blocks.delete(bk)
        this.eventsStored(actor.userId, message.commandId)
      }
      return
    }
    const changed = await run(this.store.recordCommandExit(actor, message, at))
    this.partials.delete(key(actor.userId, message.commandId))
    if (changed) this.commandChanged(actor.userId, changed)
  }

  /**
   * Text being written, from the daemon running the command (one whose events this relay stored):
   * kept for the open blocks and sent on to the watchers. A piece that does not continue a block's text
   * (the daemon was disconnected meanwhile, and what it said then is gone) is dropped, so the block
   * waits, short but never wrong, for its complete message.
   */
  partialFromDaemon(actor: MachineActor, message: Commands.CommandPartial): void {
    const partials = this.partials.get(key(actor.userId, message.commandId))
    if (partials === undefined || partials.machineId !== actor.machineId) return
    for (const piece of message.blocks) {
      const bk = blockKey(piece)
      const known = partials.blocks.get(bk)
      const before = known?.text ?? ""
      if (piece.from > before.length) continue
      const text = before.slice(0, piece.from) + piece.text
      if (text.length > MAX_PARTIAL_CHARS) continue
      partials.blocks.set(bk, { ...piece, from: 0, text })
    }
    for (const w of this.watches)
      if (w.actor.userId === actor.userId && w.commandId === message.commandId) this.sendPartials(w)
  }

  /** Every dashboard of the user hears of a new or changed command. */
  commandChanged(userId: number, command: Api.CommandSummary): void {
    this.hub.broadcast(userId, { type: "command", command })
  }

  // ---- live watchers --------------------------------------------------------------------------

  watch(socket: LiveSocket, actor: Actor, msg: Live.WatchCommand): void {
    let w: CommandWatch | undefined
    let oldest: CommandWatch | undefined
    let count = 0
    for (const x of this.watches) {
      if (x.socket !== socket) continue
      if (x.commandId === msg.commandId) {
        w = x
        break
      }
      oldest ??= x
      count += 1
    }
    if (!w) {
      if (count >= MAX_WATCHES_PER_SOCKET && oldest) this.watches.delete(oldest)
      w = {
        socket,
        actor,
        commandId: msg.commandId,
        lastEventSeq: msg.afterEventSeq,
        partialSent: new Map(),
        pumping: false,
        dirty: false,
      }
      this.watches.add(w)
    } else {
      w.lastEventSeq = msg.afterEventSeq
      // Watched again (the client reconnected): the text so far, from the start.
      w.partialSent = new Map()
    }
    void this.pump(w)
  }

  unwatchAll(socket: LiveSocket): void {
    for (const w of this.watches) if (w.socket === socket) this.watches.delete(w)
  }

  private eventsStored(userId: number, commandId: string): void {
    for (const w of this.watches) if (w.actor.userId === userId && w.commandId === commandId) void this.pump(w)
  }

  /** Events after the watcher's last, page by page: replay and live are one path (no gap, no repeat). */
  private async pump(w: CommandWatch): Promise<void> {
    try {
      await runPump(w, async () => {
        for (;;) {
          const events = await run(this.store.listCommandEvents(w.actor, w.commandId, w.lastEventSeq, EVENT_PAGE))
          if (!events || events.length === 0 || !this.watches.has(w)) return
          sendLive(w.socket, { type: "command-events", commandId: w.commandId, events })
          w.lastEventSeq = events[events.length - 1]!.eventSeq
          if (events.length < EVENT_PAGE) return
        }
      })
      if (this.watches.has(w)) this.sendPartials(w)
    } catch (error) {
      // The client re-watches with its last eventSeq after a reconnect.
      await run(Effect.logWarning(`command ${w.commandId}: live events`, error)).catch(() => undefined)
    }
  }

  /**
   * What this watcher has not been sent of the open blocks that follow events it has: after the events
   * they follow, so text never shows up before the tool call or result it comes after.
   */
  private sendPartials(w: CommandWatch): void {
    const partials = this.partials.get(key(w.actor.userId, w.commandId))
    if (partials === undefined) return
    const blocks: Commands.PartialBlock[] = []
    for (const [bk, block] of partials.blocks) {
      if (block.afterEventSeq > w.lastEventSeq) continue
      const sent = w.partialSent.get(bk) ?? 0
      if (block.text.length <= sent) continue
      blocks.push({ ...block, from: sent, text: block.text.slice(sent) })
      w.partialSent.set(bk, block.text.length)
    }
    for (const bk of w.partialSent.keys()) if (!partials.blocks.has(bk)) w.partialSent.delete(bk)
    if (blocks.length > 0) sendLive(w.socket, { type: "command-partial", commandId: w.commandId, blocks })
  }
}

function sendLive(socket: LiveSocket, m: Live.LiveMessage): void {
  try {
    socket.send(JSON.stringify(m))
  } catch {
    // Closed: removed on its close event.
  }
}
