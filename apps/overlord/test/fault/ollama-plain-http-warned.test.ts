/**
 * Walkthrough-4's "still open": `overlord start --ollama-url http://<another host>` sent every transcript
 * the indexer digests (titles, embeddings) over the network in clear text without a word, while
 * `overlord login` refuses plain http:// to another host unless `--allow-http`. Now `overlord status`,
 * `overlord doctor` and the daemon's log say so; an Ollama on loopback stays silent.
 * The bundle, detached daemon and embedded server; the loopback case against the fake Ollama through
 * the real client. The other host is `ollama.invalid` (RFC 6761: never resolves, nothing is sent).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ollamaInClearWarning } from "@overlord/ai"
import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sessionFile, TOPICS } from "../../../server/test/support/ai-corpus.ts"
import { aiStatusOf, overlordIn, writeSessions } from "../support/local-ai.ts"

const REMOTE_OLLAMA = "http://ollama.invalid:11434"
const IN_CLEAR = "is plain http:// on another host"

describe("an Ollama on another host over plain http", () => {
  let root: string
  let fake: FakeOllama
  const homes: string[] = []
  let claudeDir: string
  const start = async (name: string, ollamaUrl: string) => {
    const home = join(root, name)
    homes.push(home)
    const started = await overlordIn(home, "start", "--claude-dir", claudeDir, "--port", "0", "--ollama-url", ollamaUrl)
    expect(started.code, started.err).toBe(0)
    return home
  }

  beforeAll(async () => {
    fake = startFakeOllama()
    root = await mkdtemp(join(tmpdir(), "overlord-ollama-in-clear-"))
    claudeDir = join(root, "claude")
    await writeSessions(claudeDir, [sessionFile(TOPICS[0]!, 1, Date.UTC(2026, 9, 1, 9, 0))])
  }, 60_000)

  afterAll(async () => {
    for (const home of homes) await overlordIn(home, "stop")
    await fake.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("says it for another host, and for no loopback or https address", () => {
    expect(ollamaInClearWarning("http://10.0.0.5:11434")).toContain(`Ollama at http://10.0.0.5:11434 ${IN_CLEAR}`)
    for (const quiet of [
      "http://127.0.0.1:11434",
      "http://127.8.0.1:11434",
      "http://localhost:11434",
      "http://[::1]:11434",
      "https://ollama.example.com",
    ])
      expect(ollamaInClearWarning(quiet), quiet).toBeNull()
  })

  it("overlord status, doctor and the log warn of it", async () => {
    const home = await start("remote-ollama", REMOTE_OLLAMA)
    const status = await waitFor("the warning in overlord status", async () => {
      const r = await overlordIn(home, "status")
      return r.out.includes(IN_CLEAR) ? r.out : null
    })
    expect(status).toContain(`Ollama at ${REMOTE_OLLAMA} ${IN_CLEAR}`)
    expect(status).toContain("VPN")
    const doctor = await overlordIn(home, "doctor", "--claude-dir", claudeDir)
    expect(doctor.out).toContain(`warn  Ollama at ${REMOTE_OLLAMA} ${IN_CLEAR}`)
    expect(await readFile(join(home, "logs", "overlord.log"), "utf8").catch(() => "")).toContain(IN_CLEAR)
    // The dashboard's AI status (its search page shows it).
    expect((await aiStatusOf(home)).warning).toContain(`Ollama at ${REMOTE_OLLAMA} ${IN_CLEAR}`)
  }, 120_000)

  it("an Ollama on this machine: nothing said", async () => {
    const home = await start("local-ollama", fake.url)
    // Its indexer reached the fake: the daemon is up and its server read the settings.
    await waitFor("the fake Ollama asked", () => fake.requests.length > 0 || null, 60_000)
    expect((await overlordIn(home, "status")).out).not.toContain(IN_CLEAR)
    const doctor = await overlordIn(home, "doctor", "--claude-dir", claudeDir)
    expect(doctor.out).toContain(`Ollama`)
    expect(doctor.out).not.toContain("plain http")
    const status = await aiStatusOf(home)
    expect(status.ollamaUrl).toBe(fake.url)
    expect(status.warning).toBeUndefined()
  }, 120_000)
})
