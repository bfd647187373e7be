/**
 * Found by following README's team setup as a new admin would (the walkthrough): a laptop paired with
 * `overlord serve` on MariaDB, the real bundled CLI as child processes.
 *
 * - `overlord search` and `overlord run` read only the embedded server's `credentials.json`, so on a
 *   paired laptop whose daemon was running they said "Overlord has not been started on this machine
 *   yet: run `overlord start`".
 * - Once the machine was revoked in the dashboard, `sessions` said "sign in with the link `overlord
 *   start` printed", `export` "401 Unauthorized" and `open` printed the server's raw JSON; none said to
 *   pair again.
 * - With the paired server down, `sessions` asked whether `overlord start` was running (it was).
 * - `overlord login http://<another host>` sent the pairing key and then every transcript unencrypted
 *   without a word; a URL that answers 404 (not an Overlord server) said only "pairing failed: 404".
 * - A database URL whose password holds a bare `%` made `overlord serve` print mysql2's URIError
 *   stack trace and nothing else.
 * - `overlord logout` or a new `overlord login` while the daemon ran changed nothing for that daemon,
 *   and `overlord status` showed only the refusal, with "run `overlord login <this server's URL>`".
 *   Then it said to restart the daemon; now the daemon reads `server.json` again when it changes and
 *   reconnects with the new token, to the new server if the login named another (walkthrough-2).
 * - `overlord start --server <url>` on a machine not paired with it printed a stack trace (foreground)
 *   or "the daemon did not start; see daemon.out" (detached).
 */
import { appendFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
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
import { LoginError, serverOrigin } from "../../src/login-command.ts"
import { DatabaseUrlError, parseDatabaseUrl } from "../../src/store-from-url.ts"

let server: StandaloneServer
let admin: ServerAdmin
let root: string
let home: string

beforeAll(async () => {
  server = await startStandaloneServer("overlord-paired-messages-")
  admin = await setUpAdmin(server)
  root = await mkdtemp(join(tmpdir(), "overlord-paired-laptop-"))
  home = join(root, "laptop-home")
  await pairWithKey(server, admin, home)
})

let daemon: CliProcess | null = null

afterAll(async () => {
  daemon?.stop()
  await daemon?.exited
  await server?.stop()
  if (root) await rm(root, { recursive: true, force: true })
})

/** No stack frame, no raw JSON body: a sentence for a person. */
const expectOneSentence = (output: string) => {
  expect(output).not.toMatch(/\n\s+at /)
  expect(output).not.toContain('{"error"')
}

describe("a paired laptop", () => {
  it("searches the paired server, which `sessions` and `export` already read", async () => {
    const r = await cli(home, ["search", "--text", "anything"])
    expect(r.output).not.toContain("has not been started")
    expect(r.code, r.output).toBe(0)
    expect(r.output).toContain("no matches")
  })

  it("is told that `overlord run` needs the dashboard, not to start a daemon", async () => {
    const r = await cli(home, ["run", "hello", "--project", root])
    expect(r.code).toBe(1)
    expect(r.output).toContain(`${server.url}/#/run`)
    expect(r.output).not.toContain("has not been started")
    expectOneSentence(r.output)
  })

  it("once revoked, every read says to pair again with that server", async () => {
    const other = join(root, "revoked-home")
    await pairWithKey(server, admin, other)
    const { machineId } = JSON.parse(await Bun.file(join(other, "server.json")).text()) as { machineId: string }
    // Readable until revoked: the same command then fails only because of the revoke.
    const before = await cli(other, ["sessions"])
    expect(before.code, before.output).toBe(0)
    const revoked = await fetch(`${server.url}/api/v1/machines/${machineId}/revoke`, {
      method: "POST",
      headers: { cookie: admin.cookie, origin: server.url },
    })
    expect(revoked.status).toBe(204)
    for (const args of [["sessions"], ["export", "some-session"], ["open"], ["search", "--text", "x"]]) {
      const r = await cli(other, args)
      expect(r.code, args.join(" ")).toBe(1)
      expect(r.output, args.join(" ")).toContain(`overlord login ${server.url}`)
      expectOneSentence(r.output)
    }
  })
})

describe("a running daemon", () => {
  it("picks up a new login by itself (the same server again, then another), each line stored exactly once", async () => {
    const daemonHome = join(root, "daemon-home")
    const claudeDir = join(root, "daemon-claude")
    const sid = "d0d0d0d0-1111-4222-8333-444444444444"
    const file = join(claudeDir, "projects", "-home-dev-p", `${sid}.jsonl`)
    await mkdir(join(claudeDir, "projects", "-home-dev-p"), { recursive: true })
    let written = 0
    const append = async () => {
      await appendFile(file, `${sessionRecord(sid, written)}\n`)
      written += 1
    }
    /** The session's lines as the server that `server.json` names now holds them, when they are the file's. */
    const serverHoldsTheFile = async () => {
      const out = join(root, `export-${written}.jsonl`)
      const r = await cli(daemonHome, ["export", sid, "-o", out])
      if (r.code !== 0) return undefined
      return (await readFile(out, "utf8")) === (await readFile(file, "utf8")) ? true : undefined
    }
    await append()
    await pairWithKey(server, admin, daemonHome)
    daemon = runCli(daemonHome, ["start", "--foreground", "--claude-dir", claudeDir])
    await waitFor("the daemon connected", async () => (await statusOf(daemonHome)).json?.connected === true, 60_000)
    await waitFor("the first line on the server", serverHoldsTheFile, 30_000)
    expect((await cli(daemonHome, ["status"])).output).not.toContain("restart it")

    // logout revokes the token this daemon holds: it is refused, and the status says why and what to do.
    expect((await cli(daemonHome, ["logout"])).code).toBe(0)
    const afterLogout = await waitFor(
      "the refusal in the status",
      async () => {
        const r = await cli(daemonHome, ["status"])
        return r.output.includes("last error") ? r.output : undefined
      },
      30_000,
    )
    expect(afterLogout).not.toContain("<this server's URL>")
    expect(afterLogout).toContain("no longer paired")
    expect(afterLogout).toContain("picks up the next `overlord login`")
    await append()

    // Paired again: the daemon reads the new token and syncs on, with no restart (it stayed refused).
    await pairWithKey(server, admin, daemonHome)
    await waitFor(
      "the daemon connected with its new token",
      async () => {
        const s = await statusOf(daemonHome)
        return s.json?.connected === true && s.json.lastError === null ? true : undefined
      },
      30_000,
    ).catch(async (e) => {
      throw new Error(`${String(e)}\n${(await statusOf(daemonHome)).text}\n${daemon?.output()}`)
    })
    await waitFor("the line written while refused, once", serverHoldsTheFile, 30_000)
    expect((await cli(daemonHome, ["status"])).output).not.toContain("restart it")

    // Paired with another server: the daemon moves there and sends it the whole session, once.
    const other = await startStandaloneServer("overlord-paired-other-")
    try {
      const otherAdmin = await setUpAdmin(other)
      await append()
      await pairWithKey(other, otherAdmin, daemonHome)
      await waitFor(
        "the daemon connected to the other server",
        async () => {
          const s = await statusOf(daemonHome)
          return s.json?.connected === true && s.json.serverUrl === other.url ? true : undefined
        },
        30_000,
      )
      await waitFor("the whole session on the other server, once", serverHoldsTheFile, 30_000)
      const status = (await cli(daemonHome, ["status"])).output
      expect(status).toContain(`connected to ${other.url}`)
      expect(status).not.toContain("restart it")
    } finally {
      await other.stop()
    }
  })
})

describe("logging in", () => {
  it("refuses plain http:// to another host unless --allow-http, and says why", async () => {
    const r = await cli(join(root, "http-home"), ["login", "http://10.255.255.1:7420", "--key", "ovk_x"])
    expect(r.code).toBe(1)
    expect(r.output).toContain("unencrypted")
    expect(r.output).toContain("--allow-http")
    expect(() => serverOrigin("http://10.255.255.1:7420")).toThrow(LoginError)
    expect(serverOrigin("http://10.255.255.1:7420/", { allowHttp: true })).toBe("http://10.255.255.1:7420")
    // This machine's own addresses never cross a network.
    for (const url of ["http://127.0.0.1:7420", "http://127.0.0.2:7420", "http://localhost:7420", "http://[::1]:7420"])
      expect(serverOrigin(url)).toBe(new URL(url).origin)
  })

  it("says a URL that answers 404 is not an Overlord server", async () => {
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("no", { status: 404 }) })
    try {
      const url = `http://127.0.0.1:${other.port}`
      for (const args of [
        ["login", url, "--key", "ovk_x"],
        ["login", url],
      ]) {
        const r = await cli(join(root, "not-overlord-home"), args)
        expect(r.code).toBe(1)
        expect(r.output).toContain("does not look like an Overlord server")
      }
    } finally {
      other.stop(true)
    }
  })

  it("says what to do with a refused pairing key", async () => {
    const r = await cli(join(root, "bad-key-home"), ["login", server.url, "--key", "ovk_not-a-key"])
    expect(r.code).toBe(1)
    expect(r.output).toContain("Pairing keys")
    expect(r.output).toContain("overlord keys create")
  })
})

describe("`overlord start --server` on a machine not paired with it", () => {
  it("says to log in first, in one line, and a detached start shows it as the reason", async () => {
    const unpaired = join(root, "unpaired-home")
    const claudeDir = join(root, "unpaired-claude")
    const foreground = await cli(unpaired, ["start", "--foreground", "--claude-dir", claudeDir, "--server", server.url])
    expect(foreground.code).toBe(1)
    expect(foreground.output).toContain(`overlord login ${server.url}`)
    expectOneSentence(foreground.output)
    const detached = await cli(unpaired, ["start", "--claude-dir", claudeDir, "--server", server.url])
    expect(detached.code).toBe(1)
    expect(detached.output).toContain(`the daemon did not start: this machine is not paired with ${server.url}`)
  })
})

describe("the paired server down", () => {
  it("blames the server, not `overlord start`", async () => {
    const down = await startStandaloneServer("overlord-paired-down-")
    const downHome = join(root, "down-home")
    try {
      await pairWithKey(down, await setUpAdmin(down), downHome)
    } finally {
      await down.stop()
    }
    const r = await cli(downHome, ["sessions"])
    expect(r.code).toBe(1)
    expect(r.output).toContain(`cannot reach the server at ${down.url}`)
    expect(r.output).toContain("overlord serve")
    expect(r.output).not.toContain("is `overlord start` running")
  })
})

describe("a database URL with a bare % in its password", () => {
  it("is refused with what to write instead, not a stack trace", async () => {
    const parsed = parseDatabaseUrl("mysql://overlord:pa%ss@127.0.0.1:3306/overlord")
    expect(parsed).toBeInstanceOf(DatabaseUrlError)
    expect((parsed as DatabaseUrlError).message).toContain("%25")
    expect((parsed as DatabaseUrlError).message).not.toContain("pa%ss")
    // An escaped one is a password like any other.
    expect(parseDatabaseUrl("mysql://overlord:pa%25ss@127.0.0.1:3306/overlord")).toMatchObject({ engine: "mysql" })
    const r = await cli(join(root, "serve-home"), [
      "serve",
      "--port",
      "0",
      "--database-url",
      "mysql://overlord:pa%ss@127.0.0.1:1/overlord",
    ])
    expect(r.code).toBe(1)
    expect(r.output).toContain("%25")
    expectOneSentence(r.output)
  })
})
