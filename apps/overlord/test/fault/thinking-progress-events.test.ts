/**
 * Fault: the Claude CLI prints a `system`/`thinking_tokens` line for every thinking delta (2.1.330
 * against the fake API: 49 lines for a thinking block of 49 deltas), and each was a command event —
 * a row in `command_events` and a message to every watcher — for a line the Run panel hides. Now a run
 * of them is one event (the last, its `estimated_tokens_delta` the run's sum), given out before the
 * next event: one per thinking block. Real runner, real CLI, fake API: two thinking blocks of ~49
 * deltas each (a tool call between them) store 2 `thinking_tokens` events, not ~98, and the thinking,
 * the text being written, the answer and gap-free numbering are as before.
 */

import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { type Script, scriptTotals } from "@overlord/testkit/fake-anthropic"
import type { ScenarioFactory } from "@overlord/testkit/scenarios"
import { afterEach, describe, expect, it } from "vitest"
import { assistantTexts, cliMessages, makeRig, type RemoteRig } from "../remote/support.ts"

// 1160 characters each: the fake API streams thinking in 24-character deltas, so 49 deltas a block.
const FIRST_THOUGHT = "Let me weigh this carefully. ".repeat(40)
const SECOND_THOUGHT = "Now the file says what I need. ".repeat(38)
const ANSWER = "The notes say alpha and beta."

const thinkReadThink: ScenarioFactory = (projectDir) => {
  const notes = join(projectDir, "notes.txt")
  const usage = { input: 103, output: 17, cacheWrite: 1011, cacheRead: 10013 }
  const script: Script = {
    main: [
      {
        blocks: [
          { type: "thinking", thinking: FIRST_THOUGHT },
          { type: "tool_use", name: "Read", input: { file_path: notes } },
        ],
        usage,
        eventDelayMs: 2,
      },
      {
        blocks: [
          { type: "thinking", thinking: SECOND_THOUGHT },
          { type: "text", text: ANSWER },
        ],
        usage,
        eventDelayMs: 2,
      },
    ],
  }
  return {
    name: "thinkReadThink",
    prompts: ["Read the notes and think."],
    script,
    expected: scriptTotals(script),
    setup: async (dir) => writeFile(join(dir, "notes.txt"), "alpha\nbeta\n"),
  }
}

const thinkingOf = (m: Record<string, unknown>): string | undefined => {
  const content = (m.message as { content?: Array<{ type?: string; thinking?: string }> } | undefined)?.content
  return m.type === "assistant" && content?.[0]?.type === "thinking" ? content[0].thinking : undefined
}

describe("thinking_tokens progress lines", () => {
  let rig: RemoteRig | undefined
  afterEach(async () => {
    await rig?.dispose()
    rig = undefined
  })

  it("are one stored event per thinking block, not one per delta", async () => {
    rig = await makeRig(thinkReadThink)
    await rig.runner.accept(rig.claudeCommand("p1"))
    expect((await rig.exitOf("p1")).status).toBe("completed")

    const events = rig.eventsOf("p1")
    const messages = cliMessages(events)
    const progress = messages.filter((m) => m.type === "system" && m.subtype === "thinking_tokens")
    // The rule: a run of them (no other event between) is one event. Each thinking block is one run,
    // ended by its complete assistant message: 2 blocks, 2 events (before: ~98, one per delta).
    expect(progress.length).toBe(2)
    // Each is the event just before its block's complete thinking message, the whole thought stored.
    const thoughts = messages.flatMap((m, i) =>
      thinkingOf(m) === undefined ? [] : [{ thought: thinkingOf(m), before: messages[i - 1] }],
    )
    expect(thoughts.map((t) => t.thought)).toEqual([FIRST_THOUGHT, SECOND_THOUGHT])
    expect(thoughts.map((t) => t.before)).toEqual(progress)
    // Nothing counted is lost: each kept line's delta is its run's sum, i.e. its block's whole estimate.
    for (const p of progress) {
      expect(typeof p.estimated_tokens).toBe("number")
      expect(p.estimated_tokens_delta).toBe(p.estimated_tokens)
      expect(p.estimated_tokens as number).toBeGreaterThan(100)
    }
    // The rest as before: the answer once, the tool result, text still streamed, numbering without gaps.
    expect(assistantTexts(events)).toEqual([ANSWER])
    expect(JSON.stringify(messages.filter((m) => m.type === "user"))).toContain("alpha")
    const sentThinking = rig.sent.filter(
      (m) => m.type === "command-partial" && m.commandId === "p1" && m.blocks.some((b) => b.kind === "thinking"),
    )
    expect(sentThinking.length).toBeGreaterThan(0)
    expect(events.map((e) => e.eventSeq)).toEqual(events.map((_, i) => i))
  })
})
