/**
 * `overlord serve --database-url` (or `DATABASE_URL`): the engine chosen from the URL, and the bad
 * conditions around it, each with a one-line message and nothing lost: a malformed URL, a database
 * that is not up yet (serve retries with backoff and comes up with it), PlanetScale refusing the
 * credentials at start, a quota error at start (retried), and refused credentials mid-stream (the
 * daemon's log and status say so, and it resumes).
 */
import { Database } from "bun:sqlite"
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connectPlanetscale, MysqlEngine } from "@overlord/store/mysql"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { startMariaDb, testMariaDb } from "@overlord/testkit/mariadb"
import { type PlanetScaleBridge, startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import { DatabaseUrlError, parseDatabaseUrl } from "../src/store-from-url.ts"
import {
  compareWithServer,
  diskFiles,
  freePort,
  killAll,
  logTail,
  type Proc,
  readState,
  runOverlord,
  startDaemon,
  waitDaemonIdle,
  waitFor,
} from "./support/harness.ts"
import { mariaDatabase } from "./support/server-database.ts"

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  await killAll()
  for (const c of cleanup.reverse()) await c()
  cleanup = []
})

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "overlord-dburl-"))
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const serve = (home: string, port: number, args: readonly string[], env: Record<string, string> = {}): Proc =>
  runOverlord("serve", ["--home", home, "serve", "--port", String(port), ...args], { env })

/** Waits for the process to exit (bounded) and returns its output. */
async function exited(p: Proc, timeoutMs = 20_000): Promise<string> {
  await waitFor(`${p.name} to exit`, () => !p.running, { timeoutMs, describe: () => p.tail() })
  return p.output
}

const noStack = (output: string) => expect(output).not.toMatch(/^\s+at /m)

describe("parseDatabaseUrl", () => {
  it("chooses the engine from each accepted form", () => {
    expect(parseDatabaseUrl("/var/lib/overlord/o.db")).toEqual({ engine: "sqlite", path: "/var/lib/overlord/o.db" })
    expect(parseDatabaseUrl("data/o.db", "/srv")).toEqual({ engine: "sqlite", path: "/srv/data/o.db" })
    expect(parseDatabaseUrl("sqlite:/tmp/o.db")).toEqual({ engine: "sqlite", path: "/tmp/o.db" })
    expect(parseDatabaseUrl("sqlite:///tmp/o.db")).toEqual({ engine: "sqlite", path: "/tmp/o.db" })
    expect(parseDatabaseUrl("mysql://u:p@db.internal:3306/overlord")).toEqual({
      engine: "mysql",
      url: "mysql://u:p@db.internal:3306/overlord",
    })
    expect(parseDatabaseUrl("mariadb://u:p@db/overlord")).toEqual({ engine: "mysql", url: "mysql://u:p@db/overlord" })
    expect(parseDatabaseUrl("https://u:p@aws.connect.psdb.cloud")).toEqual({
      engine: "planetscale",
      url: "https://u:p@aws.connect.psdb.cloud",
    })
    expect(parseDatabaseUrl("planetscale://u:p@aws.connect.psdb.cloud")).toEqual({
      engine: "planetscale",
      url: "https://u:p@aws.connect.psdb.cloud",
    })
    expect(parseDatabaseUrl("http://u:p@127.0.0.1:8080")).toEqual({
      engine: "planetscale",
      url: "http://u:p@127.0.0.1:8080",
    })
  })

  it("refuses malformed URLs with what is wrong and the accepted forms, never the password", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["ftp://u:hunter2@h/db", /ftp: is not a database/],
      ["mysql://u:hunter2@h", /names no database/],
      ["mysql://", /not a valid URL|names no host/],
      ["https://aws.connect.psdb.cloud", /user name and password/],
      ["http://u:hunter2@db.example.com", /this machine only/],
      ["sqlite:", /needs a file path/],
    ]
    for (const [url, problem] of cases) {
      const result = parseDatabaseUrl(url)
      expect(result, url).toBeInstanceOf(DatabaseUrlError)
      const message = (result as DatabaseUrlError).message
      expect(message).toMatch(problem)
      expect(message).toContain("Accepted database URLs")
      expect(message).not.toContain("hunter2")
    }
  })
})

describe("overlord serve --database-url", () => {
  it("exits with one line naming the accepted forms for a malformed URL, from the flag or DATABASE_URL", async () => {
    const home = tempDir()
    const byFlag = await exited(serve(home, freePort(), ["--database-url", "ftp://u:hunter2@h/db"]))
    expect(byFlag).toMatch(/overlord: ftp: is not a database Overlord can use\. Accepted database URLs: /)
    expect(byFlag).not.toContain("hunter2")
    noStack(byFlag)
    const byEnv = serve(home, freePort(), [], { DATABASE_URL: "mysql://u:hunter2@db.internal" })
    const out = await exited(byEnv)
    expect(byEnv.exitCode).toBe(1)
    expect(out).toMatch(/names no database/)
    noStack(out)
  })

  it("refuses, in one line, a database a newer Overlord migrated", async () => {
    const dir = tempDir()
    const path = join(dir, "team.db")
    const db = new Database(path)
    db.run("PRAGMA user_version = 9999")
    db.close()
    const p = serve(tempDir(), freePort(), ["--database-url", path])
    const out = await exited(p)
    expect(p.exitCode).toBe(1)
    expect(out).toMatch(
      /migrated by a newer Overlord \(schema version 9999; this one knows up to \d+\): upgrade Overlord/,
    )
    noStack(out)
  })

  it("retries with backoff while MariaDB is not up, says so, and comes up with it", async () => {
    const maria = await startMariaDb()
    cleanup.push(() => maria.destroy())
    const db = await mariaDatabase(maria)
    await maria.stop()
    const port = freePort()
    const p = serve(tempDir(), port, db.serveArgs)
    await waitFor(
      "serve to report the database unreachable twice",
      () => (p.output.match(/retrying in/g) ?? []).length >= 2,
      {
        timeoutMs: 20_000,
        describe: () => p.tail(),
      },
    )
    expect(p.output).toMatch(
      /cannot open the database \(MySQL at 127\.0\.0\.1:\d+\/test_[0-9a-f]+\), attempt 1: store unavailable/,
    )
    expect(p.output).not.toContain(maria.password)
    expect(p.running).toBe(true)
    await maria.restart()
    await waitFor("serve to come up", () => p.output.includes("Overlord server on"), {
      timeoutMs: 30_000,
      describe: () => p.tail(),
    })
    // Migrated and serving: an API call is answered (401 without credentials).
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/sessions`)).status).toBe(401)
    noStack(p.output)
  }, 90_000)

  describe("through the PlanetScale driver", () => {
    async function bridge(): Promise<PlanetScaleBridge> {
      const maria = testMariaDb()
      const b = await startPlanetScaleBridge({ mariadb: maria, database: await maria.createDatabase() })
      cleanup.push(() => b.stop())
      return b
    }

    it("exits with a clear message when PlanetScale refuses the credentials at start", async () => {
      const b = await bridge()
      const url = new URL(b.url)
      url.password = "wrong-password"
      const p = serve(tempDir(), freePort(), ["--database-url", url.toString()])
      const out = await exited(p)
      expect(p.exitCode).toBe(1)
      expect(out).toMatch(
        /overlord serve: PlanetScale at 127\.0\.0\.1:\d+: .*PlanetScale refused the credentials \(HTTP 401\)/,
      )
      expect(out).not.toContain("wrong-password")
      noStack(out)
    })

    it("retries a quota error at start and comes up", async () => {
      const b = await bridge()
      b.failNext({ status: 429, body: { error: { code: "RESOURCE_EXHAUSTED", message: "rows read quota exceeded" } } })
      const p = serve(tempDir(), freePort(), ["--database-url", b.url])
      await waitFor("serve to come up", () => p.output.includes("Overlord server on"), {
        timeoutMs: 30_000,
        describe: () => p.tail(),
      })
      expect(p.output).toMatch(/attempt 1: .*quota or rate limit is reached \(HTTP 429\); retrying in 0\.5 s/)
      noStack(p.output)
    })

    it("tells the daemon's log and status when the credentials are refused mid-stream, then resumes", async () => {
      const b = await bridge()
      const dir = tempDir()
      const port = freePort()
      const serverUrl = `http://127.0.0.1:${port}`
      const home = join(dir, "home")
      const claudeDir = join(dir, "claude")
      const sid = crypto.randomUUID()
      const file = join(claudeDir, "projects", "-home-dev-proj", `${sid}.jsonl`)
      mkdirSync(join(claudeDir, "projects", "-home-dev-proj"), { recursive: true })
      writeFileSync(file, `${sessionRecord(sid, 0)}\n`)
      const engine = await MysqlEngine.open(connectPlanetscale({ url: b.url }))
      const userId = await engine.ensureUser("local")
      const machineId = crypto.randomUUID()
      const machineToken = await engine.issueToken({ userId, kind: "machine", machineUid: machineId })
      const apiToken = await engine.issueToken({ userId, kind: "api" })
      await engine.close()
      mkdirSync(home, { recursive: true, mode: 0o700 })
      writeFileSync(join(home, "machine.json"), JSON.stringify({ machineId, name: "test-machine" }), { mode: 0o600 })
      writeFileSync(join(home, "credentials.json"), JSON.stringify({ serverUrl, machineToken, apiToken }), {
        mode: 0o600,
      })
      const server = serve(join(dir, "server-home"), port, ["--database-url", b.url])
      await waitFor("serve to come up", () => server.output.includes("Overlord server on"), {
        timeoutMs: 30_000,
        describe: () => server.tail(),
      })
      const daemon = startDaemon({ home, claudeDir, serverUrl })
      await waitDaemonIdle(home, daemon)

      // The credentials stop working (rotated, revoked) for the next few requests, then work again.
      for (let i = 0; i < 3; i++) {
        b.failNext({ status: 401, body: { error: { code: "UNAUTHENTICATED", message: "invalid password" } } })
      }
      appendFileSync(file, `${sessionRecord(sid, 1)}\n`)
      let seenInStatus = ""
      await waitFor(
        "the refusal to reach the daemon's log",
        () => {
          const e = readState(home)?.lastError ?? ""
          if (/refused the credentials/.test(e)) seenInStatus = e
          return /PlanetScale refused the credentials \(HTTP 401\)/.test(logTail(home, 100_000))
        },
        { timeoutMs: 30_000, intervalMs: 20, describe: () => `${logTail(home)}\n${server.tail()}` },
      )
      console.log(`[credentials mid-stream] daemon status said: ${seenInStatus || "(cleared before it was read)"}`)
      expect(server.output).toMatch(/PlanetScale refused the credentials/)
      // Nothing lost: the daemon kept its bytes and sends them again once the database answers.
      await waitFor(
        "the server to hold the file",
        async () =>
          (await compareWithServer({ serverUrl, machineId, machineToken, apiToken }, diskFiles(claudeDir))).length ===
          0,
        { timeoutMs: 60_000, intervalMs: 500, describe: () => `${logTail(home)}\n${server.tail()}` },
      )
      expect(daemon.running).toBe(true)
    }, 120_000)
  })
})
