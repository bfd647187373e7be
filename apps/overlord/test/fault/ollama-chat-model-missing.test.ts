/**
 * Found in walkthrough-4: a laptop started with `overlord start --ollama-url <its Ollama>` where only the
 * embedding model is pulled. Search by meaning worked, no title ever came, and
 * - `/api/v1/ai/status` (the dashboard, `overlord doctor`) said `state: working, reason: null`: the
 *   indexer's "lacks llama3.2: run `ollama pull llama3.2`" was dropped because search was unaffected;
 * - `overlord doctor` checked the default 127.0.0.1:11434 and warned "Ollama is not reachable" about an
 *   Ollama the daemon never used (the `--ollama-url` of `start` is not saved where doctor looks).
 * Once the model is pulled, every session gets its title: nothing was lost while it was missing.
 * The bundle, detached daemon and embedded server, against the fake Ollama through the real client.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  FAKE_OLLAMA_CHAT_MODEL,
  FAKE_OLLAMA_EMBED_MODEL,
  type FakeOllama,
  startFakeOllama,
} from "@overlord/testkit/fake-ollama"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sessionFile, TOPICS } from "../../../server/test/support/ai-corpus.ts"
import { aiStatusOf, overlordIn, writeSessions } from "../support/local-ai.ts"

const sessions = TOPICS.slice(0, 3).map((t, n) => sessionFile(t, n + 1, Date.UTC(2026, 9, 1, 9, 0) + n * 3_600_000))

describe("local AI with the chat model missing", () => {
  let root: string
  let home: string
  let claudeDir: string
  let fake: FakeOllama
  const overlord = (...args: string[]) => overlordIn(home, ...args)
  const aiStatus = () => aiStatusOf(home)

  beforeAll(async () => {
    fake = startFakeOllama({ models: [FAKE_OLLAMA_EMBED_MODEL] })
    root = await mkdtemp(join(tmpdir(), "overlord-chat-model-missing-"))
    home = join(root, "home")
    claudeDir = join(root, "claude")
    await writeSessions(claudeDir, sessions)
    const started = await overlord("start", "--claude-dir", claudeDir, "--port", "0", "--ollama-url", fake.url)
    expect(started.code, started.err).toBe(0)
  }, 120_000)

  afterAll(async () => {
    await overlord("stop")
    await fake.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("the status says which model to pull while search by meaning works", async () => {
    // The reason is waited for too: the indexer's thread reports its status 4 times a second, and a
    // status read just after the last embedding had no reason yet (a CI run under load).
    const status = await waitFor(
      "every session embedded, and the reason",
      async () => {
        const s = await aiStatus()
        return s.sessions === sessions.length && s.embeddedSessions === sessions.length && s.reason ? s : null
      },
      60_000,
    )
    expect(status.titled).toBe(0)
    expect(status.reason).toContain("lacks llama3.2")
    expect(status.reason).toContain("ollama pull llama3.2")
  })

  it("doctor checks the Ollama the daemon uses, and says the model is missing", async () => {
    const r = await overlord("doctor", "--claude-dir", claudeDir)
    expect(r.out).not.toContain("11434")
    expect(r.out).toContain(`warn  Ollama 0.12.6 at ${fake.url} lacks llama3.2`)
    expect(r.out).toMatch(/the server's indexer: \w+; 0\/3 sessions titled, 3 embedded .*lacks llama3\.2/)
  })

  it("once the model is pulled, every session gets its title", async () => {
    fake.setModels([FAKE_OLLAMA_CHAT_MODEL, FAKE_OLLAMA_EMBED_MODEL])
    // The indexer's thread reports its status 4 times a second: the titles may be stored before it
    // says the model is there, so the reason is waited for too.
    const status = await waitFor(
      "every session titled, the missing model no longer said",
      async () => {
        const s = await aiStatus()
        return s.titled === sessions.length && s.reason === null ? s : null
      },
      90_000,
    )
    expect(status.state).not.toBe("models-missing")
  }, 120_000)
})
