/**
 * Issue #14 §1, upgrades: a daemon newer or older than its server by one minor version still syncs, or
 * is refused with a message saying which side to upgrade (`Sync.protocolSkew`).
 *
 * The real daemon and the real standalone server, with a relay between them that rewrites the versions
 * one side claims (`protocolMinor`, `protocolVersion`, the app version) and can add a message of a type
 * neither knows, as the next minor's server would send. Everything else passes through untouched, so
 * what syncs is the real daemon's sync with the real server's store.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Sync } from "@overlord/protocol"
import type { Server, ServerWebSocket } from "bun"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import {
  apiGet,
  diskFiles,
  expectServerMatchesDisk,
  freePort,
  killAll,
  logTail,
  type Proc,
  provision,
  readState,
  type ServerHandle,
  startDaemon,
  startServer,
  waitFor,
} from "./support/harness.ts"

type Message = Record<string, unknown>

interface Rewrites {
  /** Changes the daemon's hello on its way to the server. */
  hello?: (m: Message) => Message
  /** Changes the server's welcome on its way to the daemon. */
  welcome?: (m: Message) => Message
  /** Sent to the daemon right after the welcome. */
  afterWelcome?: Message[]
}

interface Relay {
  readonly url: string
  stop(): void
}

/** A relay for the sync socket in front of `serverUrl`, rewriting what `rewrites` says. */
function startRelay(serverUrl: string, rewrites: Rewrites): Relay {
  type Data = { upstream: WebSocket | null; queue: (string | Uint8Array<ArrayBuffer>)[] }
  const rewrite = (text: string, type: string, f: ((m: Message) => Message) | undefined) => {
    if (!f) return text
    const m = JSON.parse(text) as Message
    return m.type === type ? JSON.stringify(f(m)) : text
  }
  const server: Server<Data> = Bun.serve<Data>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: { upstream: null, queue: [] } })) return undefined
      return new Response("only the sync socket goes through this relay", { status: 404 })
    },
    websocket: {
      open(ws: ServerWebSocket<Data>) {
        const up = new WebSocket(`${serverUrl.replace(/^http/, "ws")}/api/v1/sync`)
        up.binaryType = "arraybuffer"
        ws.data.upstream = up
        up.onopen = () => {
          for (const m of ws.data.queue) up.send(m)
          ws.data.queue = []
        }
        up.onmessage = (e) => {
          if (typeof e.data !== "string") return void ws.send(new Uint8Array(e.data as ArrayBuffer))
          const text = rewrite(e.data, "welcome", rewrites.welcome)
          ws.send(text)
          if ((JSON.parse(text) as Message).type === "welcome")
            for (const extra of rewrites.afterWelcome ?? []) ws.send(JSON.stringify(extra))
        }
        up.onclose = (e) => ws.close(e.code >= 4000 ? e.code : 1000, e.reason)
      },
      message(ws: ServerWebSocket<Data>, m: string | Buffer) {
        const out = typeof m === "string" ? rewrite(m, "hello", rewrites.hello) : new Uint8Array(m)
        const up = ws.data.upstream
        if (up && up.readyState === WebSocket.OPEN) up.send(out)
        else ws.data.queue.push(out)
      },
      close(ws: ServerWebSocket<Data>) {
        ws.data.upstream?.close()
      },
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) }
}

const SESSION = "7e7e7e7e-0000-4000-8000-000000000001"

function sessionFile(claudeDir: string): void {
  const folder = join(claudeDir, "projects", "-home-dev-skew")
  mkdirSync(folder, { recursive: true })
  const lines = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({
      type: i % 2 ? "assistant" : "user",
      uuid: `skew-${i}`,
      sessionId: SESSION,
      cwd: "/home/dev/skew",
      timestamp: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      message: { role: i % 2 ? "assistant" : "user", content: `line ${i} ${"x".repeat(i * 50)}` },
    }),
  )
  writeFileSync(join(folder, `${SESSION}.jsonl`), `${lines.join("\n")}\n`)
}

let dir = ""
let relay: Relay | null = null
afterEach(async () => {
  relay?.stop()
  relay = null
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})
afterAll(killAll)

/** A server, a relay with `rewrites` in front of it, and a daemon syncing one session through the relay. */
async function setUp(rewrites: Rewrites): Promise<{
  server: ServerHandle
  daemon: Proc
  home: string
  claudeDir: string
  api: ReturnType<typeof provision>
}> {
  dir = mkdtempSync(join(tmpdir(), "overlord-skew-"))
  const claudeDir = join(dir, "claude")
  sessionFile(claudeDir)
  const home = join(dir, "daemon-home")
  const database = join(dir, "server.db")
  const port = freePort()
  const direct = `http://127.0.0.1:${port}`
  const server = await startServer({ home: join(dir, "server-home"), database, port })
  relay = startRelay(direct, rewrites)
  const provisioned = provision(database, home, relay.url)
  const daemon = startDaemon({ home, claudeDir, serverUrl: relay.url })
  // The API is asked directly; only the sync socket goes through the relay.
  return { server, daemon, home, claudeDir, api: { ...provisioned, serverUrl: direct } }
}

const context = (home: string, server: ServerHandle, daemon: Proc) => () =>
  `${daemon.tail()}\n${server.proc.tail()}\n${logTail(home)}`

/** The daemon's `lastError`, as `overlord status` shows it, once it is set. */
const refusalShown = (home: string, daemon: Proc) =>
  waitFor("the daemon to show why it does not sync", () => readState(home)?.lastError ?? null, {
    describe: () => `${daemon.tail()}\n${logTail(home)}`,
  })

const MINOR = Sync.PROTOCOL_MINOR

describe("a daemon and a server one minor version apart", () => {
  it("sync byte for byte when the daemon is one minor newer", async () => {
    const { server, daemon, home, claudeDir, api } = await setUp({
      hello: (m) => ({ ...m, protocolMinor: MINOR + 1, daemonVersion: "0.2.0" }),
    })
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context(home, server, daemon))
    expect(readState(home)?.lastError ?? null).toBeNull()
  })

  it("sync byte for byte when the daemon is one minor older, or predates protocolMinor", async () => {
    const { server, daemon, home, claudeDir, api } = await setUp({
      // A daemon released before the minor was sent: minor 0, one below the server's.
      hello: ({ protocolMinor: _, ...m }) => ({ ...m, daemonVersion: "0.0.9" }),
    })
    expect(MINOR).toBe(1)
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context(home, server, daemon))
    expect(readState(home)?.lastError ?? null).toBeNull()
  })

  it("sync when the server is one minor newer and sends a message the daemon does not know", async () => {
    const { server, daemon, home, claudeDir, api } = await setUp({
      welcome: (m) => ({ ...m, protocolMinor: MINOR + 1, serverVersion: "0.2.0" }),
      afterWelcome: [
        { type: "machine-renamed", name: "from the future" },
        { type: "machine-renamed", name: "again" },
      ],
    })
    await expectServerMatchesDisk(api, () => diskFiles(claudeDir), context(home, server, daemon))
    // Ignored with one warning per type in the daemon's log, and no error in its status.
    await waitFor("the daemon to log the unknown message", () => logTail(home, 100_000).includes("machine-renamed"))
    const log = logTail(home, 100_000)
    expect(log).toMatch(/ignored a "machine-renamed" message from the server: this daemon does not know it/)
    expect(log.split('"machine-renamed"').length - 1).toBe(1)
    expect(readState(home)?.lastError ?? null).toBeNull()
    expect(daemon.running).toBe(true)
  })
})

describe("further apart, both sides refuse and say which side to upgrade", () => {
  it("a daemon two minors newer: the server refuses it, both say upgrade the server", async () => {
    const { server, daemon, home, api } = await setUp({
      hello: (m) => ({ ...m, protocolMinor: MINOR + 2, daemonVersion: "0.3.0" }),
    })
    const shown = await refusalShown(home, daemon)
    expect(shown).toMatch(/^the server refused this daemon: /)
    expect(shown).toContain(`speaks sync protocol 1.${MINOR + 2}`)
    expect(shown).toMatch(/upgrade the server to overlord 0\.3\.0 or later/)
    await waitFor("the server to log the refusal", () => server.proc.output.includes("upgrade the server"))
    expect(server.proc.output).toMatch(/refused machine .*upgrade the server to overlord 0\.3\.0/)
    // Nothing was synced.
    const sessions = (await (await apiGet(api, "/sessions")).json()) as { sessions: unknown[] }
    expect(sessions.sessions).toEqual([])
  })

  it("a daemon of a newer major: refused, upgrade the server (an older major: protocol-refusal.test.ts)", async () => {
    const newer = await setUp({ hello: (m) => ({ ...m, protocolVersion: Sync.PROTOCOL_VERSION + 1 }) })
    expect(await refusalShown(newer.home, newer.daemon)).toMatch(/upgrade the server/)
    await waitFor("the server to log the refusal", () => newer.server.proc.output.includes("upgrade the server"))
  })

  it("a server two minors newer that did not check: the daemon refuses it, both know to upgrade the daemon", async () => {
    // As a server released before protocolMinor would: it welcomes anything of its major.
    const { home, daemon, api } = await setUp({
      welcome: (m) => ({ ...m, protocolMinor: MINOR + 2, serverVersion: "0.3.0" }),
    })
    const shown = await refusalShown(home, daemon)
    expect(shown).toMatch(/^this daemon refuses the server: /)
    expect(shown).toMatch(/upgrade the daemon to overlord 0\.3\.0 or later/)
    expect(logTail(home, 100_000)).toContain("upgrade the daemon to overlord 0.3.0 or later")
    const sessions = (await (await apiGet(api, "/sessions")).json()) as { sessions: unknown[] }
    expect(sessions.sessions).toEqual([])
  })
})
