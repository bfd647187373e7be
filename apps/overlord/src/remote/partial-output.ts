/**
 * Text the model is still writing, from the CLI's `stream_event` lines (`--include-partial-messages`:
 * the API's raw SSE events, one line per `content_block_delta`), gathered per content block and handed
 * out coalesced: a long answer is thousands of deltas (`slowStream(30)`: 300 over 30 s; the real API
 * sends a few tokens each), and each would otherwise be a message on the socket and a frame to every
 * watcher. What is taken is only what was added since the last take, so nothing is sent twice.
 *
 * A block ends when the CLI prints its complete `assistant` message (one per content block, carrying
 * the API message's id, printed before the block's `content_block_stop`): `complete` drops the
 * message's blocks with whatever of them was not taken yet, as that message carries all of it. Plain
 * TypeScript on the daemon's hot path: a `Map` lookup and a string append per delta.
 */
import type { Commands } from "@overlord/protocol"

/** At most one partial message per command this often (ms): ~7 a second, smooth to a reader. */
export const PARTIAL_INTERVAL_MS = 150

interface OpenBlock {
  readonly messageId: string
  readonly index: number
  readonly kind: "text" | "thinking"
  readonly parentToolUseId: string | undefined
  readonly afterEventSeq: number
  /** Text given out so far (UTF-16 code units). */
  sent: number
  /** Text not given out yet. */
  pending: string
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

export class PartialOutput {
  private readonly blocks = new Map<string, OpenBlock>()
  /** The message each conversation (main: "", a subagent: its Task call's id) is streaming, for CLIs without `api_message_id`. */
  private readonly streaming = new Map<string, string>()

  /**
   * One `stream_event` line. `afterEventSeq`: the last event the process gave out before it (-1:
   * none), which a block starting here follows. True when text was added (something to take).
   */
  add(line: Record<string, unknown>, afterEventSeq: number): boolean {
    const event = line.event
    if (!isRecord(event)) return false
    const parent = typeof line.parent_tool_use_id === "string" ? line.parent_tool_use_id : undefined
    const conversation = parent ?? ""
    if (event.type === "message_start" && isRecord(event.message) && typeof event.message.id === "string")
      this.streaming.set(conversation, event.message.id)
    const messageId = typeof line.api_message_id === "string" ? line.api_message_id : this.streaming.get(conversation)
    const index = event.index
    if (messageId === undefined || typeof index !== "number") return false
    const key = `${messageId}:${index}`
    if (event.type === "content_block_start") {
      const type = isRecord(event.content_block) ? event.content_block.type : undefined
      if (type === "text" || type === "thinking")
        this.blocks.set(key, {
          messageId,
          index,
          kind: type,
          parentToolUseId: parent,
          afterEventSeq,
          sent: 0,
          pending: "",
        })
      return false
    }
    if (event.type !== "content_block_delta" || !isRecord(event.delta)) return false
    const block = this.blocks.get(key)
    if (block === undefined) return false
    const delta = event.delta
    const text = delta.type === "text_delta" ? delta.text : delta.type === "thinking_delta" ? delta.thinking : undefined
    if (typeof text !== "string" || text === "") return false
    block.pending += text
    return true
  }

  /** The `assistant` message `messageId` was printed: its blocks are complete, and it carries their text. */
  complete(messageId: string): void {
    for (const [key, block] of this.blocks) if (block.messageId === messageId) this.blocks.delete(key)
  }

  /** A `result`: the turn is over, and no block of it is still being written. */
  clear(): void {
    this.blocks.clear()
    this.streaming.clear()
  }

  /** What was added since the last take, per block; empty when nothing was. */
  take(): Commands.PartialBlock[] {
    const out: Commands.PartialBlock[] = []
    for (const block of this.blocks.values()) {
      if (block.pending === "") continue
      out.push({
        messageId: block.messageId,
        index: block.index,
        kind: block.kind,
        ...(block.parentToolUseId !== undefined ? { parentToolUseId: block.parentToolUseId } : {}),
        afterEventSeq: block.afterEventSeq,
        from: block.sent,
        text: block.pending,
      })
      block.sent += block.pending.length
      block.pending = ""
    }
    return out
  }
}
