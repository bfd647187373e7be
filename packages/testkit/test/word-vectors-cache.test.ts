/**
 * The fake Ollama's word-vector cache exists before any test runs: the main suite's global setup builds
 * it. On a fresh machine the first embedding used to build it from a 307 MB JSON in the asking test's
 * own thread (6.4 s at load 10); a server under test in that thread timed out on its first Ollama call
 * (ai-faults.test.ts: "did not answer within 5000 ms" in a whole run with an empty cache dir).
 * Run it alone on a fresh cache dir to see it: `OVERLORD_WORD_VECTORS_CACHE=$(mktemp -d) bun --bun vitest run <this file>`.
 */
import { existsSync, statSync } from "node:fs"
import { expect, it } from "vitest"
import { startFakeOllama } from "../src/fake-ollama.ts"
import { wordVectorsCachePath } from "../src/word-vectors.ts"

it("is built by the suite's global setup, not by the first test that asks for an embedding", async () => {
  const path = wordVectorsCachePath()
  expect(existsSync(path), `${path} missing when the first test starts`).toBe(true)
  const before = statSync(path).mtimeMs
  const fake = startFakeOllama()
  try {
    const res = await fetch(`${fake.url}/api/embed`, {
      method: "POST",
      body: JSON.stringify({ model: "nomic-embed-text", input: ["a telescope's firmware"] }),
    })
    const body = (await res.json()) as { embeddings: number[][] }
    expect(body.embeddings[0]).toHaveLength(100)
  } finally {
    await fake.stop()
  }
  // Read, not rebuilt.
  expect(statSync(path).mtimeMs).toBe(before)
})
