/**
 * Text being written (`command-partial`), as the Run panel reads it: pieces continue a block at `from`
 * (a re-watch sends the whole text from 0, a gap is dropped), a block shows until its own complete
 * `assistant` event or the turn's `result` is stored after it, and the live client hands pieces only
 * for watched commands. The real daemon, server and browser: `run-panel.browser.test.ts`.
 */
import type { Api, Commands } from "@overlord/protocol"
import { describe, expect, it } from "vitest"
import { mergePartials, openPartials, partialItems } from "../src/commands.ts"
import { LiveClient, type SocketLike } from "../src/live.ts"

const at = "2026-12-06T12:00:00.000Z"
const piece = (from: number, text: string, extra: Partial<Commands.PartialBlock> = {}): Commands.PartialBlock => ({
  messageId: "msg_1",
  index: 1,
  kind: "text",
  afterEventSeq: 2,
  from,
  text,
  ...extra,
})
const assistant = (eventSeq: number, id: string): Api.CommandEventDto => ({
  eventSeq,
  at,
  event: {
    kind: "cli",
    message: { type: "assistant", message: { id, role: "assistant", content: [{ type: "text", text: "whole" }] } },
  },
})
const result = (eventSeq: number): Api.CommandEventDto => ({
  eventSeq,
  at,
  event: { kind: "cli", message: { type: "result", subtype: "success" } },
})

describe("text being written", () => {
  it("continues a block at `from`, takes a whole text from 0 in place of what it had, and drops a piece after a gap", () => {
    let blocks = mergePartials(new Map(), [piece(0, "Once ")])
    blocks = mergePartials(blocks, [piece(5, "upon ")])
    expect([...blocks.values()].map((b) => b.text)).toEqual(["Once upon "])
    blocks = mergePartials(blocks, [piece(20, "lost")])
    expect([...blocks.values()].map((b) => b.text)).toEqual(["Once upon "])
    blocks = mergePartials(blocks, [piece(0, "Once upon a time")])
    expect([...blocks.values()].map((b) => b.text)).toEqual(["Once upon a time"])
  })

  it("shows a block until its own complete message or a result is stored after it", () => {
    const blocks = mergePartials(new Map(), [
      piece(0, "thinking…", { index: 0, kind: "thinking", afterEventSeq: 1 }),
      piece(0, "Once upon"),
    ])
    // The thinking block's message (same id, after it) replaces it; the text block began after that event.
    expect(openPartials([assistant(2, "msg_1")], blocks).map((b) => b.kind)).toEqual(["text"])
    // Another message's event replaces nothing.
    expect(openPartials([assistant(2, "msg_1"), assistant(3, "msg_0")], blocks).map((b) => b.kind)).toEqual(["text"])
    expect(openPartials([assistant(2, "msg_1"), assistant(3, "msg_1")], blocks)).toEqual([])
    expect(openPartials([result(3)], blocks)).toEqual([])
  })

  it("reads an open block as the assistant entry it will be, marked partial", () => {
    const [item] = partialItems([piece(0, "Once upon")])
    expect(item?.type).toBe("entry")
    if (item?.type !== "entry") return
    expect(item.partial).toBe(true)
    expect(item.row.record.kind).toBe("assistant")
    expect(item.row.entry.line).toContain("Once upon")
  })

  it("hands pieces to listeners only for a watched command", () => {
    let socket: SocketLike | undefined
    const client = new LiveClient({
      url: "ws://x/api/v1/live",
      createSocket: () => {
        socket = {
          send: () => undefined,
          close: () => undefined,
          onopen: null,
          onmessage: null,
          onclose: null,
          onerror: null,
        }
        return socket
      },
    })
    const got: string[] = []
    client.onCommandPartial((m) => got.push(`${m.commandId}:${m.blocks.map((b) => b.text).join("")}`))
    client.watchCommand("c1", -1)
    client.start()
    socket?.onopen?.()
    const send = (m: unknown) => socket?.onmessage?.({ data: JSON.stringify(m) })
    send({ type: "command-partial", commandId: "c1", blocks: [piece(0, "Once")] })
    send({ type: "command-partial", commandId: "other", blocks: [piece(0, "not watched")] })
    client.stop()
    expect(got).toEqual(["c1:Once"])
  })
})
