/**
 * Walkthrough-6's "still open": the daemon's reason its Daytona sandboxes are off (a `daytona.json` it
 * cannot use) reached the server only as the machine's last error, its latest warning. Any later
 * warning replaced it, and the server's `sandbox-unavailable` refusal (and the Run panel's note) fell
 * back to "no Daytona settings: put apiKey and anthropicApiKey in daytona.json", keys that were there.
 * The reason is now `remote.sandboxesOff`, kept in `machine_remote.sandboxes_off`.
 *
 * Real daemon and server: `overlord serve` on SQLite and a paired daemon run as `nobody`, so that a
 * project folder without read permission really is unreadable (tests run as root): its "cannot read"
 * warning comes after the Daytona one (the watcher starts after the settings are read) and is the
 * machine's last error from the first status on.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { afterAll, describe, expect, it } from "vitest"
import {
  freePort,
  killAll,
  logTail,
  provision,
  readState,
  startDaemon,
  startServer,
  waitFor,
} from "../support/harness.ts"

const NOBODY = 65534
let dir = ""

afterAll(async () => {
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("a daemon whose Daytona settings are unusable, then warns of something else", () => {
  it("the server's refusal and the machines API still give the Daytona reason", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-sandbox-reason-"))
    chmodSync(dir, 0o755)
    const claudeDir = join(dir, "claude")
    const locked = join(claudeDir, "projects", "-home-dev-locked")
    mkdirSync(locked, { recursive: true })
    const sid = crypto.randomUUID()
    writeFileSync(join(locked, `${sid}.jsonl`), `${sessionRecord(sid, 0)}\n`)
    const home = join(dir, "home")
    const database = join(dir, "server", "overlord.db")
    mkdirSync(join(dir, "server"))
    const port = freePort()
    const api = provision(database, home, `http://127.0.0.1:${port}`)
    mkdirSync(join(home, "remote"), { mode: 0o700 })
    writeFileSync(join(home, "remote", "config.json"), '{"enabled": true}\n', { mode: 0o600 })
    // One comma from valid: its keys are there.
    writeFileSync(join(home, "daytona.json"), '{"apiKey": "dtn_k", "anthropicApiKey": "sk-ant-k",}', { mode: 0o600 })
    for (const path of [claudeDir, home]) spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, path])
    chmodSync(locked, 0o000)

    await startServer({ home: join(dir, "server-home"), database, port })
    const daemon = startDaemon({ home, claudeDir, serverUrl: api.serverUrl, uid: NOBODY, gid: NOBODY })
    const context = () => `state: ${JSON.stringify(readState(home))}\n${daemon.tail()}\n${logTail(home)}`
    const get = async (path: string, body?: unknown) =>
      fetch(`${api.serverUrl}/api/v1${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${api.apiToken}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })

    // The later warning is the machine's last error: the Daytona one is not in it.
    const machine = await waitFor(
      "the machine's last error to be the later warning",
      async () => {
        const { machines } = (await (await get("/machines")).json()) as { machines: Api.Machine[] }
        return machines.find((m) => m.remote && m.lastError?.includes(`cannot read ${locked}`)) ?? null
      },
      { timeoutMs: 60_000, describe: context },
    )
    expect(machine.lastError).not.toContain("Daytona")
    // Both are warnings of `overlord status`.
    const warnings = readState(home)?.warnings ?? []
    expect(warnings.some((w) => w.includes("Daytona settings unusable, sandboxes off"))).toBe(true)

    const reason = `${join(home, "daytona.json")} is not valid JSON: fix it, then restart the daemon`
    const res = await get("/commands", {
      machineId: machine.machineId,
      projectDir: "/home/dev/x",
      prompt: "hi",
      where: "sandbox",
    })
    expect(res.status).toBe(409)
    const { error } = (await res.json()) as Api.ApiError & { error: { reason?: string } }
    expect(error.reason).toBe("sandbox-unavailable")
    expect(error.message).toBe(`this machine's daemon runs no sandboxes, its Daytona settings are unusable: ${reason}`)
    // The machines API carries it (the Run panel's note reads it there).
    expect(machine.remote?.sandbox).toBe(false)
    expect(machine.remote?.sandboxesOff).toBe(reason)
  }, 120_000)
})
