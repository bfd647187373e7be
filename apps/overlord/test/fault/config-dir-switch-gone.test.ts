/**
 * Walkthrough-7, "seen, not fixed": a user with two Claude accounts starts Overlord with
 * `CLAUDE_CONFIG_DIR=confA`, stops it, then starts it with `confB`. Every confA session was marked
 * gone ("kept by Overlord": the dashboard said Claude Code had deleted them) though their files were
 * intact in confA, and nothing ever cleared the mark, not even the file being synced again.
 * Now: a file is reported gone only when it is gone from the projects folder it was tracked under
 * (`folder-keys.ts`), Claude Code's own cleanup in that folder still is, and a file held as gone that the
 * daemon appends to again (the store's ingest), or finds there as it was (`back`), is no longer gone. Real processes: `overlord serve` and
 * a daemon, over one `--home`.
 */
import { createHash } from "node:crypto"
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterEach, describe, expect, it } from "vitest"
import {
  freePort,
  killAll,
  logTail,
  type Provisioned,
  provision,
  startDaemon,
  startServer,
  waitDaemonIdle,
  waitFor,
} from "../support/harness.ts"

let cleanup: string[] = []
afterEach(async () => {
  await killAll()
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
  cleanup = []
})

const lines = (sid: string, from: number, n: number) => {
  let out = ""
  for (let i = from; i < from + n; i++) out += `${sessionRecord(sid, i, {})}\n`
  return out
}

const get = async <A>(p: Provisioned, path: string): Promise<A> => {
  const res = await fetch(`${p.serverUrl}/api/v1${path}`, {
    headers: { authorization: `Bearer ${p.apiToken}` },
    signal: AbortSignal.timeout(15_000),
  })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as A
}

/** Each session's `sourceGone`, by session id. */
const marks = async (api: Provisioned): Promise<Record<string, boolean>> => {
  const list = await get<Api.SessionList>(api, "/sessions?limit=100")
  return Object.fromEntries(list.sessions.map((s) => [s.sessionId, s.sourceGone === true]))
}

describe("switching CLAUDE_CONFIG_DIR between runs of one home", () => {
  it("marks gone only what is gone from its own folder, and a file synced again is no longer gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-config-switch-"))
    cleanup.push(dir)
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    const confA = join(dir, "confA")
    const confB = join(dir, "confB")
    const projectA = join(confA, "projects", "-home-dev-a")
    const projectB = join(confB, "projects", "-home-dev-b")
    mkdirSync(projectA, { recursive: true })
    mkdirSync(projectB, { recursive: true })
    const [a1, a2, a3, b1, b2] = [1, 2, 3, 4, 5].map(() => crypto.randomUUID()) as [
      string,
      string,
      string,
      string,
      string,
    ]
    for (const [project, sid, n] of [
      [projectA, a1, 20],
      [projectA, a2, 8],
      [projectA, a3, 5],
      [projectB, b1, 6],
      [projectB, b2, 4],
    ] as const)
      writeFileSync(join(project, `${sid}.jsonl`), lines(sid, 0, n))
    // a1's subagent: a file of confA that is not a session of its own.
    mkdirSync(join(projectA, a1, "subagents"), { recursive: true })
    writeFileSync(join(projectA, a1, "subagents", "agent-x1.jsonl"), lines(a1, 100, 3))

    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    const server = await startServer({ home: join(dir, "server-home"), database, port })
    const run = async (claudeDir: string) => {
      const d = startDaemon({ home, claudeDir, serverUrl: server.url })
      await waitDaemonIdle(home, d)
      return d
    }
    const sessionGone = (sid: string) =>
      waitFor(
        `${sid} to be marked gone`,
        async () => ((await get<Api.SessionDetail>(api, `/sessions/${sid}`)).session.sourceGone ? true : null),
        { describe: () => logTail(home) },
      )

    // confA, killed as soon as it has synced (a crash: what it recorded was recorded before it sent).
    let d = await run(confA)
    await d.kill("SIGKILL")
    expect(await marks(api)).toEqual({ [a1]: false, [a2]: false, [a3]: false })

    // confB: confA's files are not here, and are not gone. b2 deleted while this daemon runs is (the
    // notice after the welcome's: once it is marked, the welcome's were handled).
    d = await run(confB)
    rmSync(join(projectB, `${b2}.jsonl`))
    await sessionGone(b2)
    expect(await marks(api)).toEqual({ [a1]: false, [a2]: false, [a3]: false, [b1]: false, [b2]: true })
    await d.kill("SIGTERM")

    // Back to confA, after Claude Code's cleanup deleted a3 there while Overlord was stopped: a3 is
    // reported gone (same folder), confB's b1 is not (not gone, only elsewhere).
    rmSync(join(projectA, `${a3}.jsonl`))
    d = await run(confA)
    await sessionGone(a3)
    expect(await marks(api)).toEqual({ [a1]: false, [a2]: false, [a3]: true, [b1]: false, [b2]: true })
    await d.kill("SIGTERM")

    // And back to confB, where b2 comes back (a restored backup) with the session going on: synced
    // again, it is no longer gone. confA's files are untouched by this run.
    writeFileSync(join(projectB, `${b2}.jsonl`), lines(b2, 0, 4))
    appendFileSync(join(projectB, `${b2}.jsonl`), lines(b2, 4, 2))
    d = await run(confB)
    await waitFor(
      "b2 to be synced again and no longer gone",
      async () => {
        const detail = await get<Api.SessionDetail>(api, `/sessions/${b2}`)
        return detail.session.entryCount === 6 && detail.session.sourceGone !== true ? true : null
      },
      { describe: () => logTail(home) },
    )
    // b1 moved out of the folder (a backup) while this daemon runs: gone.
    const b1Path = join(projectB, `${b1}.jsonl`)
    const b1Away = join(dir, `${b1}.jsonl`)
    renameSync(b1Path, b1Away)
    await sessionGone(b1)
    expect(await marks(api)).toEqual({ [a1]: false, [a2]: false, [a3]: true, [b1]: true, [b2]: false })
    await d.kill("SIGTERM")

    // And moved back, as it was (same bytes, same inode: nothing to append, nothing to reset): the
    // daemon finds a file the welcome says is gone, and tells the server it is back.
    renameSync(b1Away, b1Path)
    d = await run(confB)
    await waitFor(
      "b1 to be no longer gone",
      async () => ((await get<Api.SessionDetail>(api, `/sessions/${b1}`)).session.sourceGone ? null : true),
      { describe: () => logTail(home) },
    )
    expect(await marks(api)).toEqual({ [a1]: false, [a2]: false, [a3]: true, [b1]: false, [b2]: false })
    expect((await get<Api.SessionDetail>(api, `/sessions/${b1}`)).session.entryCount).toBe(6)
    // The record: a file per folder, each with its own files (subagent included, a3 kept).
    const recorded = (conf: string) => {
      const folder = realpathSync(join(conf, "projects"))
      const name = `${createHash("sha256").update(folder).digest("hex")}.keys`
      const [head, ...keys] = readFileSync(join(home, "folder-keys", name), "utf8")
        .trimEnd()
        .split("\n")
      expect(JSON.parse(head!)).toBe(folder)
      return keys.map((k) => JSON.parse(k) as string).toSorted()
    }
    expect(recorded(confA)).toEqual(
      [
        `-home-dev-a/${a1}.jsonl`,
        `-home-dev-a/${a1}/subagents/agent-x1.jsonl`,
        `-home-dev-a/${a2}.jsonl`,
        `-home-dev-a/${a3}.jsonl`,
      ].toSorted(),
    )
    expect(recorded(confB)).toEqual([`-home-dev-b/${b1}.jsonl`, `-home-dev-b/${b2}.jsonl`].toSorted())
    expect(readdirSync(join(home, "folder-keys"))).toHaveLength(2)
    expect(d.running).toBe(true)
  }, 180_000)
})
