import { FAKE_OLLAMA_EMBED_MODEL, type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import {
  DEFAULT_OLLAMA_URL,
  describeOllamaHealth,
  makeOllamaClient,
  type OllamaConfig,
  ollamaConfig,
} from "../src/ollama-client.ts"
import { cosine } from "../src/vectors.ts"

let fake: FakeOllama | undefined
afterEach(async () => {
  await fake?.stop()
  fake = undefined
})

const configFor = (f: FakeOllama, patch: Partial<OllamaConfig> = {}): OllamaConfig => ({
  url: f.url,
  chatModel: "llama3.2",
  embedModel: "nomic-embed-text",
  timeoutMs: 5_000,
  ...patch,
})

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect))

describe("ollamaConfig", () => {
  it("takes flags first, then OLLAMA_HOST read explicitly, then the default", () => {
    expect(ollamaConfig({}, {}).url).toBe(DEFAULT_OLLAMA_URL)
    expect(ollamaConfig({}, { OLLAMA_HOST: "0.0.0.0" }).url).toBe("http://127.0.0.1:11434")
    expect(ollamaConfig({}, { OLLAMA_HOST: "gpu-box:8080" }).url).toBe("http://gpu-box:8080")
    expect(ollamaConfig({}, { OLLAMA_HOST: ":5000" }).url).toBe("http://127.0.0.1:5000")
    expect(ollamaConfig({}, { OLLAMA_HOST: "https://ollama.example.com/" }).url).toBe("https://ollama.example.com")
    const flagged = ollamaConfig(
      { ollamaUrl: "http://10.0.0.2:11434", ollamaChatModel: "qwen2.5:3b", ollamaEmbedModel: "bge-m3" },
      { OLLAMA_HOST: "ignored:1" },
    )
    expect(flagged).toMatchObject({ url: "http://10.0.0.2:11434", chatModel: "qwen2.5:3b", embedModel: "bge-m3" })
  })
})

describe("OllamaClient against the fake (real ollama client)", () => {
  it("reports health: ready, models missing, unavailable", async () => {
    fake = startFakeOllama()
    const client = makeOllamaClient(configFor(fake))
    const ready = await Effect.runPromise(client.health)
    expect(ready).toMatchObject({ _tag: "Ready", version: expect.any(String) })
    expect(describeOllamaHealth(ready)).toContain("is ready")

    fake.setModels(["llama3.2"])
    const missing = await Effect.runPromise(client.health)
    expect(missing).toMatchObject({ _tag: "ModelsMissing", missing: ["nomic-embed-text"] })
    expect(describeOllamaHealth(missing)).toContain("ollama pull nomic-embed-text")

    await fake.down()
    const down = await Effect.runPromise(client.health)
    expect(down._tag).toBe("Unavailable")
    if (down._tag === "Unavailable") expect(down.error._tag).toBe("OllamaUnreachable")
    expect(describeOllamaHealth(down)).toContain(`not reachable at ${fake.url}`)
  })

  it("embeds with real meaning: the flaky upload test is closer to intermittent upload failures than to the README", async () => {
    fake = startFakeOllama()
    const client = makeOllamaClient(configFor(fake))
    const [query, related, unrelated] = await Effect.runPromise(
      client.embed([
        "fix the flaky upload test",
        "repair intermittent file upload failures in tests",
        "update the README's install section",
      ]),
    )
    expect(query).toBeInstanceOf(Float32Array)
    expect(query?.length).toBe(100)
    const near = cosine(query!, related!)
    const far = cosine(query!, unrelated!)
    expect(near).toBeGreaterThan(far)
    expect(near - far).toBeGreaterThan(0.1)
    expect(fake.count("POST /api/embed")).toBe(1)
    expect(await Effect.runPromise(client.embed([]))).toEqual([])
    expect(fake.count("POST /api/embed")).toBe(1)
  })

  it("gives typed errors that keep their cause: unreachable, model missing, timeout, bad response", async () => {
    fake = startFakeOllama({ models: ["llama3.2"] })
    const client = makeOllamaClient(configFor(fake, { timeoutMs: 300 }))

    const missing = await failure(client.embed(["x"]))
    expect(missing._tag).toBe("OllamaModelMissing")
    if (missing._tag === "OllamaModelMissing") expect(missing.model).toBe("nomic-embed-text")
    expect(missing.cause).toMatchObject({ status_code: 404 })

    fake.setModels(["llama3.2", FAKE_OLLAMA_EMBED_MODEL])
    fake.setGarbage("invalid-json")
    const notJson = await failure(client.embed(["x"]))
    expect(notJson._tag).toBe("OllamaBadResponse")
    expect(notJson.cause).toBeInstanceOf(SyntaxError)
    fake.setGarbage("wrong-shape")
    expect((await failure(client.embed(["x"])))._tag).toBe("OllamaBadResponse")
    expect((await failure(client.chat([{ role: "user", content: "hi" }])))._tag).toBe("OllamaBadResponse")
    fake.setGarbage(null)

    fake.setDelay(3_000)
    const slow = await failure(client.chat([{ role: "user", content: "hi" }]))
    expect(slow._tag).toBe("OllamaTimeout")
    if (slow._tag === "OllamaTimeout") expect(slow.timeoutMs).toBe(300)
    fake.setDelay(0)

    await fake.down()
    const down = await failure(client.embed(["x"]))
    expect(down._tag).toBe("OllamaUnreachable")
    expect(down.cause).toBeDefined()
    fake.up()
    expect(await Effect.runPromise(client.embed(["x"]))).toHaveLength(1)
  })

  it("asks for shorter embeddings when configured", async () => {
    fake = startFakeOllama()
    const client = makeOllamaClient(configFor(fake, { embedDimensions: 32 }))
    const [v] = await Effect.runPromise(client.embed(["fix the flaky upload test"]))
    expect(v?.length).toBe(32)
    expect(cosine(v!, v!)).toBeCloseTo(1, 5)
    expect(fake.requests.at(-1)?.body).toMatchObject({ dimensions: 32 })
    expect(ollamaConfig({ ollamaEmbedDimensions: 256 }, {}).embedDimensions).toBe(256)
  })

  it("chats with the chat model in JSON mode", async () => {
    fake = startFakeOllama()
    const client = makeOllamaClient(configFor(fake))
    const text = await Effect.runPromise(
      client.chat([{ role: "user", content: "the flaky upload test failed again on upload" }], { format: "json" }),
    )
    expect(JSON.parse(text)).toMatchObject({ title: expect.stringMatching(/^Upload/) })
    expect(fake.requests.at(-1)?.body).toMatchObject({ model: "llama3.2", stream: false, format: "json" })
  })
})
