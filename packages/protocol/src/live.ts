/**
 * The dashboard's live feed: one WebSocket per browser tab at `/api/v1/live`.
 *
 * The client subscribes with the last `seq` it has seen; the server first replays everything after
 * it, then streams new entries as they are stored. Because `seq` is the store's own global order,
 * a reconnect neither misses nor duplicates entries.
 */
import { Schema } from "effect"
import { Entry, Machine, SessionSummary } from "./api.ts"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const Subscribe = Schema.Struct({
  type: Schema.Literal("subscribe"),
  /** Entries of this session only; omit to receive only session and machine updates. */
  sessionId: Schema.optionalKey(Schema.String),
  afterSeq: Count,
})
export type Subscribe = typeof Subscribe.Type

export const ClientMessage = Schema.Union([Subscribe])
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

export const LiveMessage = Schema.Union([Entries, SessionChanged, Health])
export type LiveMessage = typeof LiveMessage.Type
