import { Ollama } from "ollama"
import { afterEach, describe, expect, it } from "vitest"
import {
  FAKE_OLLAMA_CHAT_MODEL,
  FAKE_OLLAMA_EMBED_MODEL,
  type FakeOllama,
  fakeTitleAndSummary,
  startFakeOllama,
} from "../src/fake-ollama.ts"

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const start = (...args: Parameters<typeof startFakeOllama>) => {
  fake = startFakeOllama(...args)
  return { fake, client: new Ollama({ host: fake.url }) }
}

const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((sum, x, i) => sum + x * (b[i] ?? 0), 0)

const conversation = [
  "User: the upload test is flaky on CI, it fails about one run in five",
  "Assistant: The upload test races the file watcher. I will make the upload test wait for the file.",
  "Tool: Edit(test/upload.test.ts)",
  "User: the upload test passes now, thanks",
].join("\n")

describe("fake Ollama with the real ollama client", () => {
  it("lists pulled models, shows them and reports its version", async () => {
    const { fake, client } = start()
    const tags = await client.list()
    expect(tags.models.map((m) => m.name)).toEqual([FAKE_OLLAMA_CHAT_MODEL, FAKE_OLLAMA_EMBED_MODEL])
    expect(tags.models[0]?.details.family).toBe("llama")
    const shown = await client.show({ model: "nomic-embed-text" })
    expect(shown.capabilities).toEqual(["embedding"])
    expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(fake.count("GET /api/tags")).toBe(1)
    expect(fake.count("POST /api/show")).toBe(1)
    expect(fake.count("GET /api/version")).toBe(1)
  })

  it("embeds strings and lists with real word vectors, L2-normalised", async () => {
    const { fake, client } = start()
    const one = await client.embed({ model: FAKE_OLLAMA_EMBED_MODEL, input: "fix the flaky upload test" })
    expect(one.embeddings).toHaveLength(1)
    const [query] = one.embeddings
    expect(query).toHaveLength(100)
    expect(cosine(query ?? [], query ?? [])).toBeCloseTo(1, 5)
    const many = await client.embed({
      model: "nomic-embed-text",
      input: ["repair intermittent file upload failures in tests", "update the README's install section"],
    })
    const [related, unrelated] = many.embeddings
    expect(cosine(query ?? [], related ?? [])).toBeGreaterThan(cosine(query ?? [], unrelated ?? []))
    expect(fake.count("POST /api/embed")).toBe(2)
    expect(fake.requests.at(-1)?.body).toMatchObject({ model: "nomic-embed-text" })
  })

  it("chats and generates, streamed and not, deterministically from the prompt", async () => {
    const { client } = start()
    const expected = fakeTitleAndSummary(conversation)
    expect(expected.title.toLowerCase()).toContain("upload")
    expect(expected.summary.split(". ").length).toBeGreaterThanOrEqual(2)

    const messages = [
      { role: "system", content: "Answer with a title and a summary." },
      { role: "user", content: conversation },
    ]
    const json = await client.chat({ model: FAKE_OLLAMA_CHAT_MODEL, messages, format: "json", stream: false })
    expect(JSON.parse(json.message.content)).toEqual(expected)
    expect(json.done).toBe(true)

    const stream = await client.chat({ model: FAKE_OLLAMA_CHAT_MODEL, messages, stream: true })
    let streamed = ""
    let pieces = 0
    for await (const part of stream) {
      streamed += part.message.content
      pieces++
    }
    expect(pieces).toBeGreaterThan(2)
    expect(streamed).toBe(`Title: ${expected.title}\nSummary: ${expected.summary}`)

    const generated = await client.generate({ model: "llama3.2", prompt: conversation, format: "json" })
    expect(JSON.parse(generated.response ?? "")).toEqual(expected)
    const generatedStream = await client.generate({ model: "llama3.2", prompt: conversation, stream: true })
    let text = ""
    for await (const part of generatedStream) text += part.response ?? ""
    expect(text).toContain(expected.title)
  })

  it("answers 404 model not found for models that are not pulled", async () => {
    const { client, fake } = start({ models: ["llama3.2"] })
    const failure = await client.embed({ model: "nomic-embed-text", input: "x" }).catch((e: unknown) => e)
    expect(failure).toMatchObject({ name: "ResponseError", status_code: 404 })
    expect(String((failure as Error).message)).toContain("not found")
    fake.setModels(["llama3.2", "nomic-embed-text"])
    expect((await client.embed({ model: "nomic-embed-text", input: "x" })).embeddings).toHaveLength(1)
  })

  it("returns garbage on request: invalid JSON, wrong shapes, nonsense", async () => {
    const { client, fake } = start({ garbage: "invalid-json" })
    await expect(client.embed({ model: FAKE_OLLAMA_EMBED_MODEL, input: "x" })).rejects.toBeInstanceOf(SyntaxError)
    fake.setGarbage("wrong-shape")
    const shaped: unknown = await client.embed({ model: FAKE_OLLAMA_EMBED_MODEL, input: "x" })
    expect(shaped).not.toHaveProperty("embeddings")
    fake.setGarbage("nonsense")
    const chat = await client.chat({
      model: FAKE_OLLAMA_CHAT_MODEL,
      messages: [{ role: "user", content: conversation }],
      format: "json",
    })
    expect(() => JSON.parse(chat.message.content)).toThrow()
  })

  it("is slow on request and goes down and up on the same port", async () => {
    const { client, fake } = start({ delayMs: 2_000 })
    // A client that gives up after 50 ms sees the slow fake time out (the request did arrive).
    const impatient = new Ollama({
      host: fake.url,
      fetch: Object.assign(
        (input: string | URL | Request, init?: RequestInit) =>
          fetch(input, { ...init, signal: AbortSignal.timeout(50) }),
        {
          preconnect: fetch.preconnect,
        },
      ),
    })
    await expect(impatient.version()).rejects.toMatchObject({ name: "TimeoutError" })
    expect(fake.count("GET /api/version")).toBe(1)
    fake.setDelay(0)
    await fake.down()
    await expect(client.version()).rejects.toBeDefined()
    fake.up()
    expect((await client.version()).version).toBeTruthy()
    expect(fake.count("GET /api/version")).toBe(2)
    expect((await impatient.version()).version).toBeTruthy()
  })
})
