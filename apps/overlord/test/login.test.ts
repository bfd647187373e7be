/**
 * Pairing a laptop with a standalone server, end to end with the real CLI (the bundle) as child
 * processes and no browser: `overlord serve` on MariaDB prints a setup link once; `overlord login`
 * by device code, approved over the API by the signed-in admin; `overlord start` then syncs (and
 * backfills) to that server with no embedded server; `sessions` and `export` read from there;
 * revoking the machine in the API refuses the running daemon at once and `overlord status` says what
 * to do; `logout`; and a headless machine paired with `overlord keys create` + `login --key`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const SID = "c0c0c0c0-1111-4222-8333-444444444444"

const line = (i: number) =>
  JSON.stringify({
    type: "user",
    uuid: `u${i}`,
    parentUuid: i ? `u${i - 1}` : null,
    sessionId: SID,
    cwd: "/home/dev/paired",
    timestamp: new Date(Date.UTC(2026, 10, 1, 10, 0, i)).toISOString(),
    message: { role: "user", content: `paired question ${i}` },
  })

interface Proc {
  readonly child: ChildProcess
  output(): string
  readonly exited: Promise<number | null>
}

function run(home: string, args: readonly string[]): Proc {
  const chunks: string[] = []
  const child = spawn("bun", [OVERLORD_BIN, "--home", home, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  child.stdout?.on("data", (d) => chunks.push(String(d)))
  child.stderr?.on("data", (d) => chunks.push(String(d)))
  return {
    child,
    output: () => chunks.join(""),
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  }
}

async function cli(home: string, args: readonly string[]): Promise<{ code: number | null; out: string }> {
  const p = run(home, args)
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 60_000)
  const code = await p.exited
  clearTimeout(timer)
  return { code, out: p.output() }
}

let root: string
let databaseUrl: string
let server: Proc
let url: string
let setupOutput: string
let adminCookie: string

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${url}${path}`, { ...init, headers: { cookie: adminCookie, ...(init.headers ?? {}) } })
  const text = await res.text()
  return { status: res.status, text, json: () => JSON.parse(text) as unknown }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "overlord-login-"))
  const db = testMariaDb()
  databaseUrl = db.url(await db.createDatabase())
  server = run(join(root, "server-home"), ["serve", "--port", "0", "--database-url", databaseUrl])
  url = await waitFor(
    "the server's address",
    () => /Overlord server on (http:\/\/\S+?),?\s/.exec(server.output())?.[1],
    60_000,
  )
  const setupUrl = await waitFor(
    "the setup link",
    () => /(https?:\/\/\S+\/setup\/\S+)/.exec(server.output())?.[1],
    30_000,
  )
  setupOutput = server.output()
  const token = new URL(setupUrl).pathname.split("/").pop()!
  const res = await fetch(`${url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, email: "admin@example.com", name: "Admin" }),
  })
  expect(res.status).toBe(200)
  adminCookie = res.headers.get("set-cookie")!.split(";")[0]!
}, 120_000)

afterAll(async () => {
  server?.child.kill("SIGTERM")
  await server?.exited
  await rm(root, { recursive: true, force: true })
})

describe("overlord serve's setup link", () => {
  it("is printed on the first start only, and works once", async () => {
    expect(setupOutput).toMatch(/Set up the first admin \(one-time link, valid 24 h\): http:\/\/\S+\/setup\/ovs_/)
    const token = /\/setup\/(\S+)/.exec(setupOutput)![1]!
    const again = await fetch(`${url}/api/v1/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, email: "eve@example.com", name: "Eve" }),
    })
    expect(again.status).toBe(410)
    // A second server on the same database, now that an admin exists, prints no setup link.
    const second = run(join(root, "server2-home"), ["serve", "--port", "0", "--database-url", databaseUrl])
    await waitFor(
      "the second server's address",
      () => /Overlord server on (http:\/\/\S+?),?\s/.exec(second.output())?.[1],
      60_000,
    )
    await Bun.sleep(500)
    second.child.kill("SIGTERM")
    await second.exited
    expect(second.output()).not.toContain("/setup/")
  }, 90_000)
})

describe("a laptop paired by device code", () => {
  let home: string
  let claudeDir: string
  let sessionFile: string
  let daemon: Proc | null = null

  beforeAll(async () => {
    home = join(root, "laptop-home")
    claudeDir = join(root, "laptop-claude")
    const project = join(claudeDir, "projects", "-home-dev-paired")
    await mkdir(project, { recursive: true })
    sessionFile = join(project, `${SID}.jsonl`)
    // History written before the laptop was paired: the backfill's job.
    await writeFile(sessionFile, `${Array.from({ length: 40 }, (_, i) => line(i)).join("\n")}\n`)
  })
  afterAll(async () => {
    daemon?.child.kill("SIGTERM")
    await daemon?.exited
  })

  it("logs in: shows a code, the signed-in user approves it over the API, server.json is written 0600", async () => {
    const login = run(home, ["login", url])
    const userCode = await waitFor(
      "the code",
      () => /code ([B-Z]{4}-[B-Z]{4})/.exec(login.output())?.[1],
      30_000,
    ).catch((e) => {
      throw new Error(`${String(e)}\nlogin:\n${login.output()}`)
    })
    expect(login.output()).toContain(`${url}/device?code=${userCode}`)
    const shown = await api(`/api/v1/device/${userCode}`)
    expect(shown.json()).toMatchObject({ status: "pending" })
    expect((await api(`/api/v1/device/${userCode}/approve`, { method: "POST" })).status).toBe(200)
    expect(await login.exited).toBe(0)
    expect(login.output()).toContain(`Paired`)
    const file = join(home, "server.json")
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const saved = JSON.parse(await readFile(file, "utf8")) as { url: string; token: string; machineId: string }
    const machine = JSON.parse(await readFile(join(home, "machine.json"), "utf8")) as { machineId: string }
    expect(saved).toEqual({ url, token: expect.stringMatching(/^ovm_/), machineId: machine.machineId })
  }, 60_000)

  it("start syncs the whole history to the paired server, with no embedded server; sessions and export read it there", async () => {
    daemon = run(home, ["start", "--foreground", "--claude-dir", claudeDir, "--port", "0"])
    const listed = await waitFor(
      "the session on the paired server",
      async () => {
        const list = (await api("/api/v1/sessions")).json() as Api.SessionList
        const s = list.sessions.find((x) => x.sessionId === SID)
        return s && s.entryCount === 40 ? s : null
      },
      60_000,
    ).catch((e) => {
      throw new Error(`${String(e)}\ndaemon:\n${daemon?.output()}`)
    })
    expect(listed.entryCount).toBe(40)
    // No embedded server: the daemon wrote no credentials.json and its state names the paired server.
    expect(existsSync(join(home, "credentials.json"))).toBe(false)
    // The daemon writes its state every 500 ms: wait for the write after it connected.
    const status = await waitFor(
      "status: connected",
      async () => {
        const s = JSON.parse((await cli(home, ["status", "--json"])).out) as { serverUrl: string; connected: boolean }
        return s.connected ? s : null
      },
      15_000,
    )
    expect(status.serverUrl).toBe(url)
    const sessions = await cli(home, ["sessions", "--json"])
    expect(sessions.code).toBe(0)
    expect((JSON.parse(sessions.out) as Api.SessionSummary[]).map((s) => s.sessionId)).toEqual([SID])
    const out = join(root, "exported.jsonl")
    expect((await cli(home, ["export", SID, "-o", out])).code).toBe(0)
    expect(await readFile(out)).toEqual(await readFile(sessionFile))
    // `overlord open` prints a one-time sign-in link to the paired server's dashboard.
    const open = await cli(home, ["open"])
    expect(open.out).toContain(`Dashboard: ${url}/auth?token=ovl_`)
  }, 120_000)

  it("a machine revoked in the API is refused at once, and `overlord status` says to log in again", async () => {
    const machine = JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { machineId: string }
    expect((await api(`/api/v1/machines/${machine.machineId}/revoke`, { method: "POST" })).status).toBe(204)
    const said = await waitFor(
      "the refusal in overlord status",
      async () => {
        const r = await cli(home, ["status"])
        return r.out.includes("overlord login") ? r.out : null
      },
      30_000,
    )
    expect(said).toContain("NOT connected")
    expect(said).toContain("revoked")
    // Lines written now are not stored.
    await writeFile(sessionFile, `${line(40)}\n`, { flag: "a" })
    await Bun.sleep(1_000)
    const list = (await api("/api/v1/sessions")).json() as Api.SessionList
    expect(list.sessions.find((s) => s.sessionId === SID)?.entryCount).toBe(40)
    daemon?.child.kill("SIGTERM")
    await daemon?.exited
    daemon = null
  }, 60_000)

  it("logout deletes server.json (the token was revoked already)", async () => {
    const r = await cli(home, ["logout"])
    expect(r.code).toBe(0)
    expect(r.out).toContain(`Logged out of ${url}`)
    expect(existsSync(join(home, "server.json"))).toBe(false)
    expect((await cli(home, ["logout"])).out).toContain("not paired")
  })

  it("a denied request ends the login with a clear message", async () => {
    const login = run(join(root, "denied-home"), ["login", url])
    const userCode = await waitFor("the code", () => /code ([B-Z]{4}-[B-Z]{4})/.exec(login.output())?.[1], 30_000)
    expect((await api(`/api/v1/device/${userCode}/deny`, { method: "POST" })).status).toBe(200)
    expect(await login.exited).toBe(1)
    expect(login.output()).toContain("pairing was denied in the dashboard")
    expect(existsSync(join(root, "denied-home", "server.json"))).toBe(false)
  }, 60_000)
})

describe("a headless machine paired with a pairing key", () => {
  it("keys create on the server's host, login --key once, reads, logout revokes the token on the server", async () => {
    const made = await cli(join(root, "server-home"), [
      "keys",
      "create",
      "--database-url",
      databaseUrl,
      "--user",
      "admin@example.com",
    ])
    expect(made.code, made.out).toBe(0)
    const key = /ovk_\S+/.exec(made.out)![0]
    const home = join(root, "headless-home")
    const login = await cli(home, ["login", url, "--key", key])
    expect(login.code, login.out).toBe(0)
    const saved = JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { token: string }
    expect((await cli(home, ["sessions", "--json"])).code).toBe(0)
    // Single use: a second machine cannot use it.
    const again = await cli(join(root, "headless2-home"), ["login", url, "--key", key])
    expect(again.code).toBe(1)
    expect(again.out).toContain("invalid, expired, revoked or already used")
    const out = await cli(home, ["logout"])
    expect(out.out).toContain("this machine's token is revoked there")
    const res = await fetch(`${url}/api/v1/sessions`, { headers: { authorization: `Bearer ${saved.token}` } })
    expect(res.status).toBe(401)
    // An unknown user is said so.
    const nobody = await cli(join(root, "server-home"), [
      "keys",
      "create",
      "--database-url",
      databaseUrl,
      "--user",
      "no@example.com",
    ])
    expect(nobody.code).toBe(1)
    expect(nobody.out).toContain("no user with the e-mail no@example.com")
  }, 90_000)
})
