import { describe, expect, it } from "vitest"
import { costOf, parseLine, shouldReplace, UsageLedger, usageOf } from "../src/index.ts"
import { assistantLine, text, toolUse } from "./samples.ts"

const usage = (input: number, output: number, extra: Record<string, unknown> = {}) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  ...extra,
})

describe("usageOf", () => {
  it("reads the usage keys, with the 5m/1h breakdown and the max rule for cache writes", () => {
    const u = usageOf(
      parseLine(
        assistantLine("a1", "u1", text("hi"), "2026-02-01T10:00:01.000Z", {
          messageId: "msg_1",
          requestId: "req_1",
          usage: usage(3, 441, {
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 20_000,
            cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 900 },
          }),
        }),
      ),
    )
    expect(u).toEqual({
      dedupKey: "msg_1:req_1",
      model: "claude-sonnet-4-5-20250929",
      input: 3,
      output: 441,
      cacheWrite5m: 100,
      cacheWrite1h: 900,
      cacheWrite: 1000,
      cacheRead: 20_000,
      total: 3 + 441 + 1000 + 20_000,
      isSidechain: false,
      timestamp: "2026-02-01T10:00:01.000Z",
      uuid: "a1",
    })
    const older = usageOf(
      parseLine(
        assistantLine("a2", "u1", text("x"), undefined, { usage: usage(1, 1, { cache_creation_input_tokens: 500 }) }),
      ),
    )
    expect(older).toMatchObject({ cacheWrite: 500, cacheWrite5m: 0, cacheWrite1h: 0 })
  })

  it("keys by message id alone without requestId, and gives no key without message id", () => {
    expect(
      usageOf(parseLine(assistantLine("a", "u", text("x"), undefined, { messageId: "m", requestId: null })))?.dedupKey,
    ).toBe("m")
    const noId = parseLine('{"type":"assistant","message":{"model":"claude-opus-4-6","usage":{"input_tokens":1}}}')
    expect(usageOf(noId)?.dedupKey).toBeNull()
  })

  it("skips synthetic and API-error messages and non-assistant records", () => {
    const synthetic = assistantLine("a", "u", text("No response requested."), undefined, {
      model: "<synthetic>",
      requestId: null,
    })
    expect(usageOf(parseLine(synthetic))).toBeNull()
    const apiError = assistantLine("a", "u", text("API Error: 429"), undefined, { extra: { isApiErrorMessage: true } })
    expect(usageOf(parseLine(apiError))).toBeNull()
    expect(usageOf(parseLine('{"type":"user"}'))).toBeNull()
    expect(usageOf(parseLine('{"type":"assistant","message":{"id":"m"}}'))).toBeNull()
  })

  it("treats negative, fractional and non-numeric counts safely", () => {
    const u = usageOf(
      parseLine(assistantLine("a", "u", text("x"), undefined, { usage: { input_tokens: -5, output_tokens: "7" } })),
    )
    expect(u).toMatchObject({ input: 0, output: 0, total: 0 })
  })
})

describe("UsageLedger", () => {
  // One response split into three block records; only the last carries the final output_tokens.
  const blocks = [
    assistantLine("b1", "u1", { type: "thinking", thinking: "t", signature: "s" }, "2026-02-01T10:00:01.000Z", {
      messageId: "msg_01EE",
      requestId: "req_1",
      usage: usage(3, 10, { cache_read_input_tokens: 1000 }),
    }),
    assistantLine("b2", "b1", text("answer"), "2026-02-01T10:00:02.000Z", {
      messageId: "msg_01EE",
      requestId: "req_1",
      usage: usage(3, 10, { cache_read_input_tokens: 1000 }),
    }),
    assistantLine("b3", "b2", toolUse("t1", "Bash", {}), "2026-02-01T10:00:03.000Z", {
      messageId: "msg_01EE",
      requestId: "req_1",
      usage: usage(3, 441, { cache_read_input_tokens: 1000 }),
    }),
  ].map((l) => usageOf(parseLine(l)))

  it("keeps the largest total per response, whatever the order", () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const ledger = new UsageLedger()
      for (const i of order) {
        const u = blocks[i]
        if (u) ledger.add("session-a", u)
      }
      expect(ledger.size).toBe(1)
      expect(ledger.totals()).toMatchObject({ input: 3, output: 441, cacheRead: 1000, total: 1444, messages: 1 })
    }
  })

  it("prefers the non-sidechain copy on ties, and keeps the first copy otherwise", () => {
    const main = { total: 100, isSidechain: false }
    const side = { total: 100, isSidechain: true }
    expect(shouldReplace(side, main)).toBe(true)
    expect(shouldReplace(main, side)).toBe(false)
    expect(shouldReplace(main, { total: 100, isSidechain: false })).toBe(false)
    expect(shouldReplace(main, { total: 101, isSidechain: true })).toBe(true)
    expect(shouldReplace(main, { total: 99, isSidechain: false })).toBe(false)

    const line = (sidechain: boolean) =>
      usageOf(
        parseLine(
          assistantLine("x", "y", text("t"), undefined, {
            messageId: "m",
            requestId: "r",
            extra: { isSidechain: sidechain },
          }),
        ),
      )
    const ledger = new UsageLedger()
    const sideUsage = line(true)
    const mainUsage = line(false)
    if (!sideUsage || !mainUsage) throw new Error("no usage")
    expect(ledger.add("agent-file", sideUsage)).toBe(true)
    expect(ledger.add("main-file", mainUsage)).toBe(true)
    expect([...ledger.entries()].map((e) => e.scope)).toEqual(["main-file"])
  })

  it("deduplicates across files (resume and fork copies) and counts unkeyed records each", () => {
    const resp = (file: string) => ({
      file,
      line: assistantLine("a1", "u1", text("x"), undefined, { messageId: "m1", requestId: "r1" }),
    })
    const ledger = new UsageLedger()
    for (const { file, line } of [resp("original.jsonl"), resp("resumed.jsonl"), resp("forked.jsonl")]) {
      ledger.addRecord(file, parseLine(line))
    }
    expect(ledger.totals().messages).toBe(1)
    expect(ledger.totalsByScope().get("original.jsonl")?.messages).toBe(1)
    expect(ledger.totalsByScope().has("resumed.jsonl")).toBe(false)

    const noId =
      '{"type":"assistant","message":{"model":"claude-opus-4-6","usage":{"input_tokens":1,"output_tokens":1}}}'
    ledger.addRecord("x", parseLine(noId))
    ledger.addRecord("x", parseLine(noId))
    expect(ledger.totals().messages).toBe(3)
  })

  it("groups totals by scope, model and UTC day, with cost", () => {
    const ledger = new UsageLedger()
    const add = (scope: string, id: string, model: string, ts: string, out: number) => {
      const u = usageOf(
        parseLine(assistantLine(id, null, text("x"), ts, { messageId: id, model, usage: usage(0, out) })),
      )
      if (u) ledger.add(scope, u)
    }
    add("s1", "m1", "claude-opus-4-6", "2026-02-01T23:59:59.000Z", 1_000_000)
    add("s1", "m2", "claude-haiku-4-5-20251001", "2026-02-02T00:00:00.000Z", 1_000_000)
    add("s2", "m3", "deepseek-v4-pro", "not a date", 10)
    expect(ledger.totalsByScope().get("s1")?.messages).toBe(2)
    expect(ledger.totalsByModel().get("claude-opus-4-6")?.costUsd).toBeCloseTo(25)
    expect(ledger.totalsByModel().get("claude-haiku-4-5-20251001")?.costUsd).toBeCloseTo(5)
    expect([...ledger.totalsByDay().keys()].sort()).toEqual(["2026-02-01", "2026-02-02", "unknown"])
    expect(ledger.totals()).toMatchObject({ output: 2_000_010, messages: 3, unpricedMessages: 1 })
    expect(ledger.totals().costUsd).toBeCloseTo(30)
    expect(
      costOf({ model: "deepseek-v4-pro", input: 5, output: 5, cacheWrite: 0, cacheWrite1h: 0, cacheRead: 0 }),
    ).toEqual({
      usd: 0,
      priced: false,
      longContext: false,
    })
  })
})
