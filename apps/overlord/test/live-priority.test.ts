/**
 * Live appends never wait behind backfill: while hundreds of megabytes of history are still being
 * synced, a line appended to an active session is stored first. Asserted on order (how much of
 * the backfill was still pending when the live line landed), never on time.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, utimesSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, describe, expect, it } from "vitest"

const MB = 1024 * 1024

const record = (sid: string, i: number, text: string) =>
  JSON.stringify({
    type: "user",
    uuid: `${sid}-${i}`,
    parentUuid: null,
    sessionId: sid,
    cwd: "/home/dev/history",
    timestamp: new Date(Date.UTC(2026, 9, 1) + i * 1000).toISOString(),
    message: { role: "user", content: text },
  })

async function writeHistory(path: string, sid: string, bytes: number): Promise<void> {
  const writer = Bun.file(path).writer()
  const filler = "an old conversation worth keeping ".repeat(60)
  let written = 0
  for (let i = 0; written < bytes; i++) {
    const line = `${record(sid, i, filler)}\n`
    writer.write(line)
    written += line.length
    if (i % 5000 === 0) await writer.flush()
  }
  await writer.end()
}

interface State {
  connected?: boolean
  bytesPending?: number
}

describe("live before backfill", () => {
  let root: string
  let daemon: ChildProcess | undefined
  afterAll(async () => {
    daemon?.kill("SIGTERM")
    await rm(root, { recursive: true, force: true })
  })

  it("stores a live append while most of the history is still pending", async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-live-"))
    const project = join(root, "claude", "projects", "-home-dev-history")
    await mkdir(project, { recursive: true })
    const old = Date.now() / 1000 - 30 * 24 * 3600
    for (let i = 0; i < 8; i++) {
      const sid = `0000000${i}-0000-0000-0000-00000000000${i}`
      const path = join(project, `${sid}.jsonl`)
      await writeHistory(path, sid, 40 * MB)
      utimesSync(path, old, old)
    }
    const liveSid = "11111111-aaaa-bbbb-cccc-000000000001"
    const livePath = join(project, `${liveSid}.jsonl`)
    appendFileSync(livePath, `${record(liveSid, 0, "the session open right now")}\n`)

    const home = join(root, "home")
    daemon = spawn(
      "bun",
      [OVERLORD_BIN, "--home", home, "start", "--foreground", "--claude-dir", join(root, "claude"), "--port", "0"],
      {
        stdio: "ignore",
      },
    )
    const state = async () =>
      JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8").catch(() => "{}")) as State
    const creds = (await waitFor("the daemon's credentials", async () =>
      JSON.parse(await readFile(join(home, "credentials.json"), "utf8")),
    )) as { serverUrl: string; apiToken: string }
    // The newest file is backfilled first; wait until it is stored and the big history is under way.
    const get = async <T>(path: string) =>
      (await (
        await fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })
      ).json()) as T
    await waitFor(
      "the live session to be backfilled",
      async () => (await get<Api.EntryPage>(`/sessions/${liveSid}/entries`)).entries?.length === 1,
    )

    const marker = "typed-while-history-syncs"
    appendFileSync(livePath, `${record(liveSid, 1, marker)}\n`)
    await waitFor(
      "the live line",
      async () =>
        (await get<Api.EntryPage>(`/sessions/${liveSid}/entries`)).entries?.some((e) => e.line.includes(marker)),
      60_000,
      5,
    )
    const pendingWhenLiveLanded = (await state()).bytesPending ?? 0

    // Most of the 320 MB of history was still waiting when the live line was stored.
    expect(pendingWhenLiveLanded).toBeGreaterThan(100 * MB)
    await waitFor(
      "the backfill to finish",
      async () => {
        const s = await state()
        return s.connected && s.bytesPending === 0
      },
      240_000,
    )
    const sessions = await get<Api.SessionList>("/sessions?limit=100")
    expect(sessions.sessions).toHaveLength(9)
  }, 300_000)
})
