/**
 * A machine renamed in the dashboard while its daemon runs: the daemon learnt the name only at its next
 * `overlord start` or `login` (machine-rename notes, "known limits"), so `overlord status`, `machine.json`
 * and the laptop's part of new sandboxes' names kept the old one for as long as it ran. The server now
 * tells a connected daemon that asked (`hello.machineNames`) its new name at once (`machine-name`), and its
 * stored name at every welcome (`welcome.machineName`: renamed while the daemon was away); a daemon that
 * did not ask (an older one, a sandbox's sync) is sent neither. The real daemon and `overlord serve`.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Sync } from "@overlord/protocol"
import {
  type CliProcess,
  cli,
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
  statusOf,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: StandaloneServer
let admin: ServerAdmin
let root: string
const daemons: CliProcess[] = []

beforeAll(async () => {
  server = await startStandaloneServer("overlord-rename-running-")
  admin = await setUpAdmin(server)
  root = await mkdtemp(join(tmpdir(), "overlord-rename-running-"))
})

afterAll(async () => {
  for (const d of daemons) d.stop()
  await Promise.all(daemons.map((d) => d.exited))
  await server?.stop()
  if (root) await rm(root, { recursive: true, force: true })
})

const machineJsonName = async (home: string) =>
  (JSON.parse(await readFile(join(home, "machine.json"), "utf8")) as { name: string }).name
const serverJson = async (home: string) =>
  JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { url: string; token: string; machineId: string }

/** A raw sync socket's hello (`asks`: with `machineNames`), and every message the server sends it. */
async function rawDaemon(home: string, name: string, asks: boolean) {
  const { token, machineId } = await serverJson(home)
  const messages: Record<string, unknown>[] = []
  const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/api/v1/sync`)
  socket.onmessage = (e) => messages.push(JSON.parse(String(e.data)) as Record<string, unknown>)
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve()
    socket.onerror = () => reject(new Error("the sync socket did not open"))
  })
  const hello: Sync.Hello = {
    type: "hello",
    protocolVersion: Sync.PROTOCOL_VERSION,
    protocolMinor: Sync.PROTOCOL_MINOR,
    daemonVersion: "0.1.0",
    machineId,
    machineName: name,
    token,
    ...(asks ? { machineNames: true } : {}),
  }
  socket.send(JSON.stringify(hello))
  await waitFor("the welcome", async () => (messages.some((m) => m.type === "welcome") ? true : undefined), 30_000)
  return { messages, close: () => socket.close() }
}

describe("a machine renamed in the dashboard while its daemon runs", () => {
  it("is told to the daemon at once: machine.json, overlord status and the log have the new name", async () => {
    const home = join(root, "laptop")
    await pairWithKey(server, admin, home, ["--name", "lab"])
    const { machineId } = await serverJson(home)
    const claudeDir = join(home, "claude")
    await mkdir(join(claudeDir, "projects"), { recursive: true })
    const daemon = runCli(home, ["start", "--foreground", "--claude-dir", claudeDir])
    daemons.push(daemon)
    const says = async (name: string) => {
      const s = await statusOf(home)
      return s.json?.connected === true && s.json.machineName === name ? true : undefined
    }
    await waitFor("the daemon connected as lab", () => says("lab"), 30_000).catch((e) => {
      throw new Error(`${String(e)}\n${daemon.output()}`)
    })

    expect((await admin.api(`/machines/${machineId}/rename`, { name: "lab bench" })).status).toBe(200)
    // No restart: the running daemon's status and machine.json follow.
    await waitFor("the daemon to say lab bench", () => says("lab bench"), 30_000).catch((e) => {
      throw new Error(`${String(e)}\n${daemon.output()}`)
    })
    expect(await machineJsonName(home)).toBe("lab bench")
    const status = await cli(home, ["status"])
    expect(status.output).toContain("this machine: lab bench")
    const log = await readFile(join(home, "logs", "overlord.log"), "utf8").catch(() => daemon.output())
    expect(`${log}\n${daemon.output()}`).toContain("this machine is named lab bench on the server (it was lab)")
    // The dashboard's name stays through the daemon's reconnects (its hello now says it).
    const listed = await admin.api<{ machines: { machineId: string; name: string }[] }>("/machines")
    expect(listed.json.machines.find((m) => m.machineId === machineId)?.name).toBe("lab bench")
    // The stopped daemon's status still names the machine (its next start says that name).
    daemon.stop()
    await daemon.exited
    expect((await statusOf(home)).json?.machineName).toBe("lab bench")
  }, 120_000)

  it("is sent at the welcome to a daemon that asks, and to no daemon that does not", async () => {
    const home = join(root, "older")
    await pairWithKey(server, admin, home, ["--name", "desk"])
    const { machineId } = await serverJson(home)
    const older = await rawDaemon(home, "desk", false)
    expect((await admin.api(`/machines/${machineId}/rename`, { name: "desk two" })).status).toBe(200)
    expect(older.messages.map((m) => m.type)).toEqual(["welcome"])
    expect(older.messages[0]).not.toHaveProperty("machineName")
    older.messages.length = 0
    const current = await rawDaemon(home, "desk", true)
    // Renamed while it was away (its hello repeats its old name, which the server keeps apart).
    expect(current.messages.find((m) => m.type === "welcome")?.machineName).toBe("desk two")
    expect((await admin.api(`/machines/${machineId}/rename`, { name: "desk three" })).status).toBe(200)
    await waitFor(
      "machine-name",
      async () => (current.messages.some((m) => m.type === "machine-name") ? true : undefined),
      30_000,
    )
    expect(current.messages.filter((m) => m.type === "machine-name")).toEqual([
      { type: "machine-name", name: "desk three" },
    ])
    // The one that did not ask: neither the welcome's name nor the message, so nothing it does not know.
    expect(older.messages).toEqual([])
    older.close()
    current.close()
  }, 60_000)
})
