/**
 * The dashboard's live feed: one WebSocket per browser tab at `/api/v1/live`.
 *
 * The client subscribes with the last `seq` it has seen; the server first replays everything after
 * it, then streams new entries as they are stored. Because `seq` is the store's own global order,
 * a reconnect neither misses nor duplicates entries.
 */
import { Schema } from "effect"
import { CommandEventDto, CommandSummary, Entry, Machine, SessionSummary } from "./api.ts"
import * as Commands from "./commands.ts"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const Subscribe = Schema.Struct({
  type: Schema.Literal("subscribe"),
  /**
   * Entries of this session only; omit to receive only session and machine updates. At most 128
   * characters, as the REST routes' session ids (it was unbounded: a megabyte id went to the store).
   */
  sessionId: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(128))),
  afterSeq: Count,
})
export type Subscribe = typeof Subscribe.Type

/**
 * Streams one command's events after `afterEventSeq` (-1: from the first), then each as it is stored;
 * a reconnect resumes with the last `eventSeq` seen. Several commands can be watched at once.
 */
export const WatchCommand = Schema.Struct({
  type: Schema.Literal("watch-command"),
  commandId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128)),
  afterEventSeq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(-1)),
})
export type WatchCommand = typeof WatchCommand.Type

export const ClientMessage = Schema.Union([Subscribe, WatchCommand])
export type ClientMessage = typeof ClientMessage.Type
export const ClientMessageFromJson = Schema.fromJsonString(ClientMessage)

export const Entries = Schema.Struct({
  type: Schema.Literal("entries"),
  sessionId: Schema.String,
  entries: Schema.Array(Entry),
})
export const SessionChanged = Schema.Struct({ type: Schema.Literal("session"), session: SessionSummary })
export const Health = Schema.Struct({
  type: Schema.Literal("health"),
  machines: Schema.Array(Machine),
  /** Highest stored seq, so the page can show lag. */
  headSeq: Count,
})

/** A command of this user was created or changed status (sent to every socket of the user). */
export const CommandChanged = Schema.Struct({ type: Schema.Literal("command"), command: CommandSummary })
/** Events of a watched command, in `eventSeq` order, without gaps or repeats. */
export const CommandEvents = Schema.Struct({
  type: Schema.Literal("command-events"),
  commandId: Schema.String,
  events: Schema.Array(CommandEventDto),
})

/**
 * Text of a watched command that the model is still writing (`Commands.CommandPartial`), never stored.
 * Sent to a watcher only once it has every event up to a block's `afterEventSeq`, each block from where
 * this socket's last message about it ended (`from`; 0, the whole text so far, after a watch). A block
 * is shown until an event that `Commands.replacesPartial` it arrives, or the command ends.
 */
export const CommandPartials = Schema.Struct({
  type: Schema.Literal("command-partial"),
  commandId: Schema.String,
  blocks: Schema.Array(Commands.PartialBlock),
})

/**
 * The session this socket reads was shared with its user, and the owner withdrew the share: the
 * subscription has ended and no more of its entries will come (issue #11 §5).
 */
export const ShareWithdrawn = Schema.Struct({ type: Schema.Literal("share-withdrawn"), sessionId: Schema.String })

export const LiveMessage = Schema.Union([
  Entries,
  SessionChanged,
  Health,
  CommandChanged,
  CommandEvents,
  CommandPartials,
  ShareWithdrawn,
])
export type LiveMessage = typeof LiveMessage.Type
