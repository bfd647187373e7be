/**
 * Found in walkthrough 3 (the real-session corpus on `overlord start`): the session list's "model" filter
 * matched only a model's whole id. The list shows "opus-4-6" for claude-opus-4-6, yet typing that, "opus"
 * or "deepseek" (with deepseek-reasoner sessions listed) said "No sessions match these filters."
 * Now it matches part of an id, in any case. Real CLI (`overlord start`, embedded server) and its HTTP API.
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { OVERLORD_SOURCE_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const OPUS = "d1d1d1d1-0000-4000-8000-000000000001"
const DEEPSEEK = "d2d2d2d2-0000-4000-8000-000000000002"
const answer = (model: string) => ({
  message: {
    id: `msg_01${model.replace(/\W/g, "")}`,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: "ok" }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  },
})

describe("the session list's model filter", () => {
  let root: string
  let home: string
  let api: (path: string) => Promise<string[]>
  const overlord = (...args: string[]) =>
    spawnSync("bun", [OVERLORD_SOURCE_BIN, "--home", home, ...args], { encoding: "utf8", timeout: 60_000 })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-model-filter-"))
    home = join(root, "home")
    const project = join(root, "claude", "projects", "-home-dev-models")
    await mkdir(project, { recursive: true })
    for (const [sid, model] of [
      [OPUS, "claude-opus-4-6"],
      [DEEPSEEK, "deepseek-reasoner"],
    ] as const)
      await writeFile(
        join(project, `${sid}.jsonl`),
        `${sessionRecord(sid, 0)}\n${sessionRecord(sid, 1, answer(model))}\n`,
      )
    const r = overlord("start", "--claude-dir", join(root, "claude"), "--port", "0")
    expect(r.status, r.stderr).toBe(0)
    const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
      serverUrl: string
      apiToken: string
    }
    api = async (path) => {
      const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
        headers: { authorization: `Bearer ${creds.apiToken}` },
      })
      const body = (await res.json()) as { sessions: { sessionId: string }[] }
      return body.sessions.map((s) => s.sessionId).sort()
    }
    await waitFor("both sessions synced", async () => (await api("/sessions")).length === 2, 30_000)
  })

  afterAll(async () => {
    overlord("stop")
    await rm(root, { recursive: true, force: true })
  })

  it("matches part of a model's id, in any case", async () => {
    expect(await api("/sessions?model=opus")).toEqual([OPUS])
    expect(await api("/sessions?model=opus-4-6")).toEqual([OPUS])
    expect(await api("/sessions?model=DeepSeek")).toEqual([DEEPSEEK])
    expect(await api("/sessions?model=claude-opus-4-6")).toEqual([OPUS])
    expect(await api("/sessions?model=sonnet")).toEqual([])
    // LIKE's own characters are literal.
    expect(await api("/sessions?model=%25")).toEqual([])
    expect(await api("/sessions?model=o_us")).toEqual([])
  })
})
