import { afterEach, describe, expect, it } from "vitest"
import { type FakeAnthropic, type Script, scriptTotals, startFakeAnthropic } from "../src/fake-anthropic.ts"

const usage = { input: 5, output: 7, cacheWrite: 11, cacheRead: 13 }
const tools = [{ name: "Bash", description: "run", input_schema: { type: "object" } }]

const script: Script = {
  main: [
    {
      blocks: [
        { type: "thinking", thinking: "hmm" },
        { type: "text", text: "running" },
        { type: "tool_use", name: "Bash", input: { command: "echo hi" } },
      ],
      usage,
    },
    {
      blocks: [{ type: "text", text: "done" }],
      usage: { input: 1, output: 2, cacheWrite: 3, cacheRead: 4 },
      delayMs: 150,
    },
  ],
  agents: [{ marker: "AGENT-X", turns: [{ blocks: [{ type: "text", text: "agent answer" }], usage }] }],
  sideText: "A title",
}

let fake: FakeAnthropic | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const post = (f: FakeAnthropic, path: string, body: unknown) =>
  fetch(`${f.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })

interface SseEvent {
  readonly event: string
  readonly data: Record<string, unknown>
}
const parseSse = (text: string): SseEvent[] =>
  text
    .split("\n\n")
    .filter((c) => c.trim() !== "")
    .map((chunk) => {
      const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? ""
      const data: Record<string, unknown> = JSON.parse(/^data: (.*)$/m.exec(chunk)?.[1] ?? "{}")
      return { event, data }
    })

describe("fake Anthropic API", () => {
  it("streams a scripted turn with every delta kind, ids and usage", async () => {
    fake = startFakeAnthropic(script)
    const res = await post(fake, "/v1/messages?beta=true", {
      model: "claude-opus-5-5",
      stream: true,
      tools,
      messages: [{ role: "user", content: "go" }],
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    expect(res.headers.get("request-id")).toMatch(/^req_/)
    const events = parseSse(await res.text())
    expect(events[0]?.event).toBe("message_start")
    expect(events.at(-1)?.event).toBe("message_stop")
    expect(events.at(-2)?.event).toBe("message_delta")
    const deltaTypes = new Set(
      events.filter((e) => e.event === "content_block_delta").map((e) => (e.data.delta as { type: string }).type),
    )
    expect(deltaTypes).toEqual(new Set(["thinking_delta", "signature_delta", "text_delta", "input_json_delta"]))
    expect(events.filter((e) => e.event === "content_block_start")).toHaveLength(3)
    expect(events.filter((e) => e.event === "content_block_stop")).toHaveLength(3)
    const start = events[0]?.data.message as { id: string; usage: Record<string, number> }
    expect(start.id).toMatch(/^msg_/)
    expect(start.usage.cache_read_input_tokens).toBe(13)
    const delta = events.at(-2)?.data as { delta: { stop_reason: string }; usage: Record<string, number> }
    expect(delta.delta.stop_reason).toBe("tool_use")
    expect(delta.usage.output_tokens).toBe(7)
    const json = events
      .filter((e) => (e.data.delta as { type?: string } | undefined)?.type === "input_json_delta")
      .map((e) => (e.data.delta as { partial_json: string }).partial_json)
      .join("")
    expect(JSON.parse(json)).toEqual({ command: "echo hi" })
    expect(fake.requests[0]).toMatchObject({ kind: "main", turn: 0, messageId: start.id })
  })

  it("picks the next turn from the tool ids it issued, answers non-stream requests, and delays", async () => {
    fake = startFakeAnthropic(script)
    const first = await post(fake, "/v1/messages", { model: "m", tools, messages: [{ role: "user", content: "go" }] })
    const msg = (await first.json()) as { content: Array<{ type: string; id?: string }> }
    const toolUse = msg.content.find((b) => b.type === "tool_use")
    expect(toolUse?.id).toBe("toolu_fake_main_0_2")
    const t0 = Date.now()
    const second = await post(fake, "/v1/messages", {
      model: "m",
      tools,
      // Claude Code may drop thinking or split blocks; the tool id alone fixes the position.
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "text", text: "running" }] },
        { role: "assistant", content: [toolUse] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse?.id, content: "hi" }] },
      ],
    })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
    expect(await second.json()).toMatchObject({ content: [{ type: "text", text: "done" }], stop_reason: "end_turn" })
    await fake.waitForMainTurns(2, 1000)
    expect(fake.errors).toEqual([])
  })

  it("routes side requests and subagents away from the main script", async () => {
    fake = startFakeAnthropic(script)
    const side = await post(fake, "/v1/messages", {
      model: "claude-haiku-4-5",
      messages: [{ role: "user", content: "title?" }],
    })
    expect(await side.json()).toMatchObject({ content: [{ type: "text", text: "A title" }] })
    const agent = await post(fake, "/v1/messages", {
      model: "m",
      tools,
      messages: [{ role: "user", content: [{ type: "text", text: "AGENT-X: do it" }] }],
    })
    expect(await agent.json()).toMatchObject({ content: [{ type: "text", text: "agent answer" }] })
    const main = await post(fake, "/v1/messages", { model: "m", tools, messages: [{ role: "user", content: "go" }] })
    expect(((await main.json()) as { content: unknown[] }).content).toHaveLength(3)
    expect(fake.requests.map((r) => r.kind)).toEqual(["side", "agent", "main"])
  })

  it("counts tokens, 404s unknown endpoints, and reports an exhausted script", async () => {
    fake = startFakeAnthropic({ main: [] })
    const count = await post(fake, "/v1/messages/count_tokens", { model: "m", messages: [] })
    expect(((await count.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0)
    const unknown = await fetch(`${fake.url}/v1/models`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } })
    await post(fake, "/v1/messages", { model: "m", tools, messages: [{ role: "user", content: "go" }] })
    expect(fake.errors).toHaveLength(1)
  })

  it("sums the script's usage", () => {
    expect(scriptTotals(script)).toEqual({ input: 11, output: 16, cacheWrite: 25, cacheRead: 30 })
  })
})
