/**
 * `SandboxSync` against the real embedded server's socket: a sandbox's kept session files sync under
 * a child machine of the laptop, exactly once across a restart of the sync (resumed from
 * `<home>/sandboxes`), and a run that kept no file makes no machine.
 */
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { type OverlordCredentials, type OverlordProcess, startOverlord } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type MachineIdentity, readJson } from "../../src/home.ts"
import { silentLogger } from "../../src/logger.ts"
import { sandboxProjectsDir } from "../../src/remote/sandbox-command.ts"
import { SandboxSync, sandboxMachineFor } from "../../src/remote/sandbox-sync.ts"

const SID = "22222222-3333-4444-8555-666666666666"
const line = (n: number) =>
  `${JSON.stringify({ type: "user", uuid: `u-${n}`, parentUuid: null, sessionId: SID, cwd: "/home/daytona/app", timestamp: "2026-12-06T10:00:00.000Z", message: { role: "user", content: `turn ${n}` } })}\n`

describe("SandboxSync", () => {
  let root: string
  let home: string
  let daemon: OverlordProcess
  let creds: OverlordCredentials
  let laptop: MachineIdentity
  let token: string

  const api = async <T>(path: string): Promise<T> =>
    (await (
      await fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })
    ).json()) as T

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-sandbox-sync-"))
    home = join(root, "home")
    const claudeDir = join(root, "claude")
    await mkdir(join(claudeDir, "projects"), { recursive: true })
    daemon = startOverlord(home, claudeDir)
    creds = await daemon.credentials()
    laptop = readJson<MachineIdentity>(join(home, "machine.json"))!
    token = readJson<{ machineToken: string }>(join(home, "credentials.json"))!.machineToken
    // The API answers before the daemon's sync socket has said hello and registered the laptop.
    await waitFor("the laptop's machine", async () =>
      (await api<{ machines: Api.Machine[] }>("/machines")).machines.some((m) => m.machineId === laptop.machineId),
    )
  }, 60_000)
  afterAll(async () => {
    daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  const open = () =>
    new SandboxSync({ home, serverUrl: creds.serverUrl, token, parent: laptop, log: silentLogger, warn: () => {} })
  const machine = () =>
    sandboxMachineFor(laptop, { id: "sb-1", name: "overlord-app-1234", folder: "daytona-overlord-app-1234" }, "app")
  const file = () => join(sandboxProjectsDir(home, machine().folder), "-home-daytona-app", `${SID}.jsonl`)
  const exported = async () =>
    (
      await fetch(`${creds.serverUrl}/api/v1/sessions/${SID}/export`, {
        headers: { authorization: `Bearer ${creds.apiToken}` },
      })
    ).text()

  it("makes no machine for a run that kept no file", async () => {
    const sync = open()
    expect(await sync.sync(machine(), [])).toBe(true)
    const { machines } = await api<{ machines: Api.Machine[] }>("/machines")
    expect(machines.map((m) => m.machineId)).toEqual([laptop.machineId])
    await sync.close()
  })

  it("syncs kept files under the child machine, and exactly once across a restart", async () => {
    await mkdir(join(file(), ".."), { recursive: true })
    await writeFile(file(), line(1) + line(2))
    const first = open()
    expect(await first.sync(machine(), [file()])).toBe(true)
    expect(await exported()).toBe(line(1) + line(2))
    const { machines } = await api<{ machines: Api.Machine[] }>("/machines")
    expect(machines.find((m) => m.machineId === machine().machineId)).toMatchObject({
      name: `${laptop.name}/sandbox-app`,
      parent: { machineId: laptop.machineId, kind: "sandbox" },
    })
    await first.close()
    // Grown while nothing synced it; a new SandboxSync resumes the machine from the home and ships only the rest.
    await appendFile(file(), line(3))
    const second = open()
    second.resume()
    expect(second.status().map((s) => s.machineId)).toEqual([machine().machineId])
    expect(await second.sync(machine(), [file()])).toBe(true)
    expect(await exported()).toBe(line(1) + line(2) + line(3))
    const entries = await api<Api.EntryPage>(`/sessions/${SID}/entries?limit=100`)
    expect(entries.entries.map((e) => e.lineNo)).toEqual([0, 1, 2])
    await second.close()
  })

  it("does not hold a run's exit when the server refuses the sandbox's machine (its laptop revoked)", async () => {
    const revoked = await fetch(`${creds.serverUrl}/api/v1/machines/${laptop.machineId}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${creds.apiToken}`, origin: creds.serverUrl },
    })
    expect(revoked.status).toBe(204)
    await appendFile(file(), line(4))
    const warnings: string[] = []
    const sync = new SandboxSync({
      home,
      serverUrl: creds.serverUrl,
      token,
      parent: laptop,
      log: silentLogger,
      warn: (m) => warnings.push(m),
    })
    sync.resume()
    // A ten-minute limit: resolving at all (within the test's time) means the refusal ended the wait.
    expect(await sync.sync(machine(), [file()], 600_000)).toBe(false)
    expect(warnings.join("\n")).toContain("the server refused this daemon")
    // As the laptop's own refusal reads in `overlord status`: the server named, not a placeholder.
    expect(warnings.join("\n")).toContain(`overlord login ${creds.serverUrl}`)
    expect(warnings.join("\n")).not.toContain("<this server's URL>")
    await sync.close()
  })
})
