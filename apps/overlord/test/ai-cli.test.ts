/**
 * The CLI's local AI (issue #13), as a user runs it (the bundle, detached daemon, embedded server with
 * the indexer's worker) against the fake Ollama through the real client: `start --ollama-url`,
 * `sessions` with generated titles marked, `search` (hybrid, --semantic, --json), and `doctor`'s
 * Ollama section when Ollama is ready, lacks a model, and is down.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { type FakeOllama, startFakeOllama } from "@overlord/testkit/fake-ollama"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sessionFile, TOPICS } from "../../server/test/support/ai-corpus.ts"
import { aiStatusOf, overlordIn, writeSessions } from "./support/local-ai.ts"

const sessions = TOPICS.slice(0, 6).map((t, n) => sessionFile(t, n + 1, Date.UTC(2026, 9, 1, 9, 0) + n * 3_600_000))

describe("overlord CLI with local AI", () => {
  let root: string
  let home: string
  let claudeDir: string
  let fake: FakeOllama
  const overlord = (...args: string[]) => overlordIn(home, ...args)

  beforeAll(async () => {
    fake = startFakeOllama()
    root = await mkdtemp(join(tmpdir(), "overlord-ai-cli-"))
    home = join(root, "home")
    claudeDir = join(root, "claude")
    await writeSessions(claudeDir, sessions)
  })

  afterAll(async () => {
    await overlord("stop")
    await fake.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("doctor says Ollama is ready", async () => {
    const r = await overlord("doctor", "--claude-dir", claudeDir, "--ollama-url", fake.url)
    expect(r.out).toContain(`ok    Ollama 0.12.6 at ${fake.url} is ready.`)
  })

  it("start --ollama-url titles every session; sessions shows the titles marked generated, with the model", async () => {
    const started = await overlord("start", "--claude-dir", claudeDir, "--port", "0", "--ollama-url", fake.url)
    expect(started.code, started.err).toBe(0)
    const deadline = Date.now() + 60_000
    let list: Api.SessionSummary[] = []
    while (Date.now() < deadline) {
      const r = await overlord("sessions", "--json")
      list = r.code === 0 ? (JSON.parse(r.out) as Api.SessionSummary[]) : []
      if (list.length === sessions.length && list.every((s) => s.generatedTitle)) break
      await Bun.sleep(250)
    }
    expect(list.map((s) => s.titleModel)).toEqual(sessions.map(() => "llama3.2"))
    const text = (await overlord("sessions")).out
    expect(text.match(/\[generated · llama3\.2\]/g)).toHaveLength(sessions.length)
  })

  it("search finds a session by meaning and says what matched", async () => {
    const target = sessions[2]!
    const deadline = Date.now() + 30_000
    let result: Api.HybridSearchResult | null = null
    while (Date.now() < deadline) {
      const r = await overlord("search", "--json", ...target.topic.keywordQuery.split(" "))
      expect(r.code, r.err).toBe(0)
      result = JSON.parse(r.out) as Api.HybridSearchResult
      if (result.hits[0]?.matched.length === 2) break
      await Bun.sleep(250)
    }
    expect(result?.hits[0]).toMatchObject({ sessionId: target.sessionId, matched: ["text", "meaning"] })
    const semantic = await overlord("search", "--semantic", "--json", target.topic.paraphraseQuery)
    const hits = (JSON.parse(semantic.out) as Api.HybridSearchResult).hits
    expect(hits.find((h) => h.sessionId === target.sessionId)?.matched).toEqual(["meaning"])
    const human = await overlord("search", ...target.topic.keywordQuery.split(" "))
    expect(human.out).toContain(`${target.sessionId}`)
    expect(human.out).toContain("[matched by text+meaning]")
  })

  it("doctor reports the server's indexer, a missing model, and Ollama down", async () => {
    const ready = await overlord("doctor", "--claude-dir", claudeDir, "--ollama-url", fake.url)
    expect(ready.out, ready.err).toMatch(
      new RegExp(`the server's indexer: \\w+; ${sessions.length}/${sessions.length} sessions titled`),
    )
    fake.setModels(["llama3.2:latest"])
    const missing = await overlord("doctor", "--claude-dir", claudeDir, "--ollama-url", fake.url)
    expect(missing.out).toContain("warn  Ollama 0.12.6")
    expect(missing.out).toContain("`ollama pull nomic-embed-text`")
    await fake.down()
    const down = await overlord("doctor", "--claude-dir", claudeDir, "--ollama-url", fake.url)
    expect(down.out).toContain(`warn  Ollama is not reachable at ${fake.url}`)
    expect(down.out).toContain("sync and full-text search work as always")
    fake.up()
  })

  it("start --foreground hands the flags to the server's thread (a service unit runs it so)", async () => {
    for (const [flag, expected] of [
      ["http://127.0.0.1:9", { enabled: true, ollamaUrl: "http://127.0.0.1:9" }],
      ["off", { enabled: false }],
    ] as const) {
      const fgHome = join(root, `home-fg-${expected.enabled}`)
      const proc = Bun.spawn(
        [
          "bun",
          OVERLORD_BIN,
          "--home",
          fgHome,
          "start",
          "--foreground",
          "--claude-dir",
          claudeDir,
          "--port",
          "0",
          "--ollama-url",
          flag,
        ],
        { stdout: "ignore", stderr: "pipe" },
      )
      try {
        const status = await waitFor("the foreground daemon's AI status", () => aiStatusOf(fgHome), 30_000, 200)
        expect(status).toMatchObject(expected)
      } finally {
        proc.kill()
        await proc.exited
      }
    }
  })

  it("serve --ollama-url: the standalone server runs the indexer against that Ollama", async () => {
    const database = join(root, "serve.db")
    const proc = Bun.spawn(
      [
        "bun",
        OVERLORD_BIN,
        "--home",
        join(root, "home-serve"),
        "serve",
        "--port",
        "0",
        "--database",
        database,
        "--ollama-url",
        fake.url,
      ],
      { stdout: "pipe", stderr: "pipe" },
    )
    try {
      const reader = proc.stdout.getReader()
      let out = ""
      const deadline = Date.now() + 30_000
      while (!/Overlord server on (\S+)/.test(out) && Date.now() < deadline) {
        const { value, done } = await reader.read()
        if (done) break
        out += new TextDecoder().decode(value)
      }
      const url = /Overlord server on (\S+?),?\s/.exec(out)?.[1]
      expect(url, out).toBeDefined()
      // A token of our own, through a second engine on the server's database file.
      const engine = new SqliteEngine({ path: database })
      const userId = engine.ensureUser("ai-cli-test")
      const token = engine.issueToken({ userId, kind: "api" })
      engine.close()
      const res = await fetch(`${url}/api/v1/ai/status`, { headers: { authorization: `Bearer ${token}` } })
      expect(await res.json()).toMatchObject({ enabled: true, ollamaUrl: fake.url, embedDimensions: 256 })
    } finally {
      proc.kill()
      await proc.exited
    }
  })
})
