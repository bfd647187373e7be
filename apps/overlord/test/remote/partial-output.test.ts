/**
 * The command runner's text being written, from the real Claude Code CLI against the fake API
 * streaming a thinking block and then a text block (one SSE delta every 50 ms): `command-partial`
 * pieces for each block, each continuing the last, each block after the events it follows and before
 * its own complete `assistant` event (the CLI prints that before the block's `content_block_stop`);
 * the events themselves as without partial output: no `stream_event`, the complete blocks once.
 */
import type { Commands } from "@overlord/protocol"
import { type Script, scriptTotals } from "@overlord/testkit/fake-anthropic"
import type { ScenarioFactory } from "@overlord/testkit/scenarios"
import { afterEach, describe, expect, it } from "vitest"
import { assistantTexts, cliMessages, makeRig, type RemoteRig } from "./support.ts"

const THOUGHT = "Let me weigh this carefully. ".repeat(12)
const ANSWER = "Here is the answer, line by line.\n".repeat(20)

const thinkThenTell: ScenarioFactory = () => {
  const script: Script = {
    main: [
      {
        blocks: [
          { type: "thinking", thinking: THOUGHT },
          { type: "text", text: ANSWER },
        ],
        usage: { input: 103, output: 17, cacheWrite: 1011, cacheRead: 10013 },
        eventDelayMs: 50,
      },
    ],
  }
  return { name: "thinkThenTell", prompts: ["Think, then tell."], script, expected: scriptTotals(script) }
}

describe("text being written, from the real CLI", () => {
  let rig: RemoteRig | undefined
  afterEach(async () => {
    await rig?.dispose()
    rig = undefined
  })

  it("streams the thinking and then the text in pieces, each before its complete message", async () => {
    rig = await makeRig(thinkThenTell)
    await rig.runner.accept(rig.claudeCommand("p1"))
    expect((await rig.exitOf("p1")).status).toBe("completed")

    const sent = rig.sent.filter((m) => m.commandId === "p1")
    const pieces = (kind: "text" | "thinking") =>
      sent.flatMap((m, at) =>
        m.type === "command-partial" ? m.blocks.filter((b) => b.kind === kind).map((b) => ({ at, b })) : [],
      )
    /** The block's text, each piece checked to continue the last; and the position of its last piece. */
    const joined = (ps: readonly { at: number; b: Commands.PartialBlock }[]) => {
      let text = ""
      for (const { b } of ps) {
        expect(b.from).toBe(text.length)
        text += b.text
      }
      return { text, last: ps.at(-1)?.at ?? -1 }
    }
    const positionOf = (pred: (m: Record<string, unknown>) => boolean) =>
      sent.findIndex((m) => m.type === "command-event" && m.event.kind === "cli" && pred(m.event.message))
    const contentType = (m: Record<string, unknown>) =>
      ((m.message as { content?: Array<{ type?: string }> } | undefined)?.content ?? [])[0]?.type
    const thinkingAt = positionOf((m) => m.type === "assistant" && contentType(m) === "thinking")
    const textAt = positionOf((m) => m.type === "assistant" && contentType(m) === "text")

    const thinking = joined(pieces("thinking"))
    const text = joined(pieces("text"))
    expect(thinking.text.length).toBeGreaterThan(0)
    expect(THOUGHT.startsWith(thinking.text)).toBe(true)
    expect(text.text.length).toBeGreaterThan(0)
    expect(ANSWER.startsWith(text.text)).toBe(true)
    // Each block's pieces before its complete message; the text's after the thinking's message.
    expect(thinking.last).toBeLessThan(thinkingAt)
    expect(pieces("text")[0]!.at).toBeGreaterThan(thinkingAt)
    expect(text.last).toBeLessThan(textAt)
    // A block follows the events before it: the text block the thinking's complete message.
    const thinkingEvent = sent[thinkingAt] as Commands.CommandEvent
    expect(pieces("text")[0]!.b.afterEventSeq).toBe(thinkingEvent.eventSeq)
    expect(pieces("thinking")[0]!.b.afterEventSeq).toBeLessThan(thinkingEvent.eventSeq)

    // The events as they were: complete blocks once, no stream_event line, numbered without gaps.
    const events = rig.eventsOf("p1")
    expect(assistantTexts(events)).toEqual([ANSWER])
    expect(cliMessages(events).filter((m) => m.type === "stream_event")).toEqual([])
    expect(events.map((e) => e.eventSeq)).toEqual(events.map((_, i) => i))
  })
})
