/**
 * Found in the walkthrough: two homes on one host (two OS users, or two CLAUDE_CONFIG_DIRs each with
 * its own --home) paired with one user's account both showed as the host name in the dashboard's
 * Machines page, nothing telling them apart. A machine's name is now unique among its user's machines:
 * checked at login and at each start of a paired machine (a machine is listed from its daemon's first
 * hello on), the second home becoming `<host> (<OS user>)`, a third `<host>-2`; `--name` picks one.
 *
 * Then (issue #11 follow-up): a machine renamed in the dashboard. Its daemon's hello kept sending the name
 * in `machine.json`, which replaced the dashboard's at every reconnect; now the server keeps a rename while
 * the daemon repeats its old name, the next `overlord start` takes the dashboard's name into `machine.json`,
 * and `start --name` with the old name is sent to the server with the machine's token (a hello repeating
 * the old name would not replace the rename).
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { hostname, tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import {
  type CliProcess,
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: StandaloneServer
let admin: ServerAdmin
let root: string
const daemons: CliProcess[] = []

beforeAll(async () => {
  server = await startStandaloneServer("overlord-machine-names-")
  admin = await setUpAdmin(server)
  root = await mkdtemp(join(tmpdir(), "overlord-machine-names-"))
})

afterAll(async () => {
  for (const d of daemons) d.stop()
  await Promise.all(daemons.map((d) => d.exited))
  await server?.stop()
  if (root) await rm(root, { recursive: true, force: true })
})

const machineName = async (home: string) =>
  (JSON.parse(await readFile(join(home, "machine.json"), "utf8")) as { name: string }).name

/** Starts a daemon for `home` and waits until the server lists its machine under `name`. */
const startAndAwait = async (home: string, name: string, args: readonly string[] = []) => {
  const claudeDir = join(home, "claude")
  await mkdir(join(claudeDir, "projects"), { recursive: true })
  const daemon = runCli(home, ["start", "--foreground", "--claude-dir", claudeDir, ...args])
  daemons.push(daemon)
  const { machineId } = JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { machineId: string }
  await waitFor(
    `the server to list ${name}`,
    async () => {
      const r = await admin.api<{ machines: { machineId: string; name: string }[] }>("/machines")
      return r.json.machines.find((m) => m.machineId === machineId)?.name === name ? true : undefined
    },
    30_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\n${daemon.output()}`)
  })
  return daemon
}

describe("two homes on one host", () => {
  it("get names that tell them apart, at login or at the second one's start", async () => {
    const host = hostname()
    const user = userInfo().username
    const [a, b, c] = ["home-a", "home-b", "home-c"].map((h) => join(root, h)) as [string, string, string]
    await pairWithKey(server, admin, a)
    expect(await machineName(a)).toBe(host)
    await startAndAwait(a, host)

    // Paired while the first one is listed: told apart at login.
    await pairWithKey(server, admin, b)
    expect(await machineName(b)).toBe(`${host} (${user})`)
    // Paired before b's daemon ran (b not yet listed): the same name at login, told apart at its start.
    await pairWithKey(server, admin, c)
    expect(await machineName(c)).toBe(`${host} (${user})`)
    await startAndAwait(b, `${host} (${user})`)
    await startAndAwait(c, `${host}-2`)

    const r = await admin.api<{ machines: { name: string }[] }>("/machines")
    expect(r.json.machines.map((m) => m.name).sort()).toEqual([host, `${host} (${user})`, `${host}-2`].sort())
  }, 120_000)

  it("take the name --name gives, kept for later starts", async () => {
    const d = join(root, "home-d")
    expect(await pairWithKey(server, admin, d, ["--name", "build box"])).toContain("Paired build box with")
    const daemon = await startAndAwait(d, "build box")
    daemon.stop()
    await daemon.exited
    await startAndAwait(d, "build box")
    // Renamed by start --name: the server hears it at the next hello.
    daemons.at(-1)?.stop()
    await daemons.at(-1)?.exited
    await startAndAwait(d, "ci", ["--name", "ci"])
    expect(await machineName(d)).toBe("ci")
  })

  it("keep a name given in the dashboard; start takes it into machine.json, start --name gives the old one back", async () => {
    const e = join(root, "home-e")
    await pairWithKey(server, admin, e, ["--name", "lab"])
    const { machineId } = JSON.parse(await readFile(join(e, "server.json"), "utf8")) as { machineId: string }
    const stop = async () => {
      daemons.at(-1)?.stop()
      await daemons.at(-1)?.exited
    }
    await startAndAwait(e, "lab")
    await stop()

    // Renamed in the dashboard while the daemon is stopped; its daemon has said "lab" before.
    expect((await admin.api(`/machines/${machineId}/rename`, { name: "lab bench" })).status).toBe(200)
    // `start --name lab`: the chosen name reaches the server before the hello, which repeats "lab".
    const named = await startAndAwait(e, "lab", ["--name", "lab"])
    expect(await machineName(e)).toBe("lab")
    await stop()
    expect(named.output()).not.toContain("in the dashboard")

    // Renamed in the dashboard again: a plain start takes that name (machine.json, then the hello).
    expect((await admin.api(`/machines/${machineId}/rename`, { name: "lab bench" })).status).toBe(200)
    const before = new Date().toISOString()
    const plain = await startAndAwait(e, "lab bench")
    // The server had the name already: wait for this daemon's hello (online, seen since) before reading.
    const listed = async () =>
      (
        await admin.api<{ machines: { machineId: string; name: string; online: boolean; lastSeenAt: string }[] }>(
          "/machines",
        )
      ).json.machines.find((m) => m.machineId === machineId)
    await waitFor(
      "the daemon's hello",
      async () => {
        const m = await listed()
        return m?.online && m.lastSeenAt >= before ? true : undefined
      },
      30_000,
    )
    expect(await machineName(e)).toBe("lab bench")
    expect(plain.output()).toContain("This machine is named lab bench in the dashboard (it was lab here)")
    expect((await listed())?.name).toBe("lab bench")
  })
})
