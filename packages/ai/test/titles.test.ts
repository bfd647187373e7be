import { type FakeOllama, fakeTitleAndSummary, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { layer } from "../src/ollama-client.ts"
import { parseSessionLines } from "../src/session-digest.ts"
import {
  GROWTH_ENTRIES,
  generateTitle,
  hasGrownMaterially,
  needsTitle,
  parseTitleAnswer,
  TITLE_FORMAT,
  TITLE_SYSTEM_PROMPT,
} from "../src/titles.ts"
import { numbered, uploadSession } from "./session-fixture.ts"

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

describe("parseTitleAnswer", () => {
  it("accepts a JSON object with a title and a summary, tidied", () => {
    const ok = parseTitleAnswer(
      '  {"title": " \\"Fix flaky  upload test.\\" ", "summary": "It was flaky.\\nNow it is not."}',
    )
    expect(Result.isSuccess(ok)).toBe(true)
    if (Result.isSuccess(ok))
      expect(ok.success).toEqual({ title: "Fix flaky upload test", summary: "It was flaky. Now it is not." })
    const fenced = parseTitleAnswer('```json\n{"title": "A", "summary": "B."}\n```')
    expect(Result.isSuccess(fenced)).toBe(true)
  })

  it("turns garbage into a typed error, never a crash", () => {
    const cases = [
      "",
      "Title: Fix it\nSummary: done",
      "{not json",
      "[]",
      "null",
      '{"title": 3, "summary": "x"}',
      '{"title": "", "summary": "x"}',
      '{"title": "x", "summary": "   "}',
      `{"title": "${"long ".repeat(40)}", "summary": "x"}`,
      '{"summary": "x"}',
    ]
    for (const text of cases) {
      const result = parseTitleAnswer(text)
      expect(Result.isFailure(result), text).toBe(true)
      if (Result.isFailure(result)) {
        expect(result.failure._tag).toBe("TitleAnswerInvalid")
        expect(result.failure.answer).toBe(text.slice(0, 500))
      }
    }
    const notJson = parseTitleAnswer("{not json")
    if (Result.isFailure(notJson)) expect(notJson.failure.cause).toBeInstanceOf(SyntaxError)
  })
})

describe("hasGrownMaterially", () => {
  it("is true from 25 % more entries or 20 more, whichever comes first", () => {
    expect(hasGrownMaterially(8, 9)).toBe(false)
    expect(hasGrownMaterially(8, 10)).toBe(true) // +25 %
    expect(hasGrownMaterially(100, 119)).toBe(false)
    expect(hasGrownMaterially(100, 100 + GROWTH_ENTRIES)).toBe(true) // +20
    expect(hasGrownMaterially(10, 10)).toBe(false)
    expect(hasGrownMaterially(10, 5)).toBe(false)
    expect(hasGrownMaterially(0, 1)).toBe(true)
  })

  it("decides whether a session needs a generated title", () => {
    expect(needsTitle({ hasOwnTitle: false, entryCount: 5, titledAtEntries: null })).toBe(true)
    expect(needsTitle({ hasOwnTitle: true, entryCount: 5, titledAtEntries: null })).toBe(false)
    expect(needsTitle({ hasOwnTitle: false, entryCount: 30, titledAtEntries: 28 })).toBe(false)
    expect(needsTitle({ hasOwnTitle: false, entryCount: 50, titledAtEntries: 28 })).toBe(true)
  })
})

describe("generateTitle", () => {
  it("sends the digest with the JSON format to the chat model and parses the answer", async () => {
    fake = startFakeOllama()
    const config = { url: fake.url, chatModel: "llama3.2", embedModel: "nomic-embed-text", timeoutMs: 5_000 }
    const records = parseSessionLines(numbered(uploadSession()))
    const title = await Effect.runPromise(generateTitle(records).pipe(Effect.provide(layer(config))))
    expect(title.model).toBe("llama3.2")
    const request = fake.requests.at(-1)?.body as { messages: { role: string; content: string }[]; format: unknown }
    expect(request.format).toEqual(TITLE_FORMAT)
    expect(request.messages[0]).toEqual({ role: "system", content: TITLE_SYSTEM_PROMPT })
    expect(request.messages[1]?.content).toContain("User: The upload test is flaky on CI")
    expect(request.messages[1]?.content).toContain("Tool: Bash: bun test test/upload.test.ts --repeat 50")
    // The fake's answer is a function of what it was sent: what came back is what the model made of it.
    expect(title).toMatchObject(fakeTitleAndSummary(request.messages[1]?.content ?? ""))
    expect(title.title.toLowerCase().split(" ")).toEqual(expect.arrayContaining(["upload", "flaky"]))
  })

  it("fails with TitleAnswerInvalid when the model talks nonsense", async () => {
    fake = startFakeOllama({ garbage: "nonsense" })
    const config = { url: fake.url, chatModel: "llama3.2", embedModel: "nomic-embed-text", timeoutMs: 5_000 }
    const records = parseSessionLines(numbered(uploadSession()))
    const error = await Effect.runPromise(Effect.flip(generateTitle(records).pipe(Effect.provide(layer(config)))))
    expect(error._tag).toBe("TitleAnswerInvalid")
  })
})
