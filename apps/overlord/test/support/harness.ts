/**
 * Test-only harness for the fault-injection suites: real `overlord` subprocesses (a standalone
 * server and a daemon that can each be SIGKILLed alone), provisioning without `overlord login`,
 * bounded waits, and the byte-for-byte verification of every session file against the server.
 */
import { Database } from "bun:sqlite"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, relative, resolve, sep } from "node:path"
import { SqliteEngine } from "@overlord/store/sqlite"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"

export const REPO = resolve(import.meta.dirname, "../../../..")
/** Under `bun --bun vitest` this is bun itself. */
export const BUN = process.execPath

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns a truthy value; throws `describe()` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string | Promise<string> } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  let lastError: unknown = null
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
      lastError = null
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      const extra = options.describe ? await options.describe() : ""
      const err = lastError instanceof Error ? ` (last error: ${lastError.message})` : ""
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${what}${err}\n${extra}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

/** A free loopback port (bound, read, released). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}

// ---- child processes ------------------------------------------------------------------------

const children = new Set<Proc>()

export class Proc {
  output = ""
  exitCode: number | null = null
  signal: NodeJS.Signals | null = null
  readonly exited: Promise<void>
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    children.add(this)
    const keep = (b: Buffer) => {
      this.output += b.toString("utf8")
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    this.exited = new Promise((r) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code
        this.signal = signal
        children.delete(this)
        r()
      })
    })
  }
  get pid(): number {
    return this.child.pid!
  }
  get running(): boolean {
    return this.exitCode === null && this.signal === null
  }
  /** Sends `signal` and waits (bounded) until the process is gone and reaped. */
  async kill(signal: NodeJS.Signals = "SIGKILL", timeoutMs = 10_000): Promise<void> {
    if (!this.running) return
    this.child.kill(signal)
    const gone = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)])
    if (!gone) {
      this.child.kill("SIGKILL")
      await Promise.race([this.exited, sleep(5_000)])
    }
  }
  tail(chars = 3000): string {
    return `--- ${this.name} (pid ${this.child.pid}) output tail ---\n${this.output.slice(-chars)}`
  }
}

/** Kills every child this harness started (afterEach/afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map((p) => p.kill("SIGKILL")))
}

export function runOverlord(
  name: string,
  args: readonly string[],
  options: { env?: Record<string, string>; uid?: number; gid?: number; cwd?: string } = {},
): Proc {
  const child = spawn(BUN, [OVERLORD_BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  })
  return new Proc(name, child)
}

/** Runs a short `overlord` command to completion (bounded) and returns its stdout. */
export async function overlordCommand(args: readonly string[], timeoutMs = 20_000): Promise<string> {
  const p = runOverlord(`overlord ${args.join(" ")}`, args)
  const done = await Promise.race([p.exited.then(() => true), sleep(timeoutMs).then(() => false)])
  if (!done) {
    await p.kill()
    throw new Error(`overlord ${args.join(" ")} did not finish within ${timeoutMs} ms\n${p.tail()}`)
  }
  if (p.exitCode !== 0) throw new Error(`overlord ${args.join(" ")} exited ${p.exitCode}\n${p.tail()}`)
  return p.output
}

// ---- standalone server ----------------------------------------------------------------------

export interface Provisioned {
  readonly serverUrl: string
  readonly machineId: string
  readonly machineToken: string
  readonly apiToken: string
}

/**
 * What `overlord login` will do one day: a user, a machine token and an API token in the server's
 * database, and `machine.json` + `credentials.json` (0600) in the daemon's home.
 */
export function provision(database: string, daemonHome: string, serverUrl: string): Provisioned {
  const engine = new SqliteEngine({ path: database })
  const userId = engine.ensureUser("local")
  const machineId = randomUUID()
  const machineToken = engine.issueToken({ userId, kind: "machine", machineUid: machineId })
  const apiToken = engine.issueToken({ userId, kind: "api" })
  engine.close()
  mkdirSync(daemonHome, { recursive: true, mode: 0o700 })
  const write = (name: string, value: unknown) => {
    const path = join(daemonHome, name)
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 })
    chmodSync(path, 0o600)
  }
  write("machine.json", { machineId, name: "test-machine" })
  write("credentials.json", { serverUrl, machineToken, apiToken })
  return { serverUrl, machineId, machineToken, apiToken }
}

export interface ServerHandle {
  readonly port: number
  readonly url: string
  readonly database: string
  proc: Proc
  /** SIGKILL, then `meanwhile` (what happens to the files while it is down), then start again. */
  restart(meanwhile?: () => void): Promise<void>
  kill(): Promise<void>
}

export async function startServer(options: {
  home: string
  database: string
  port: number
  /** How `serve` finds its database (default `--database <database>`), e.g. `--database-url mysql://…`. */
  serveArgs?: readonly string[]
}): Promise<ServerHandle> {
  const url = `http://127.0.0.1:${options.port}`
  const launch = async (): Promise<Proc> => {
    let proc: Proc | null = null
    // A port freed by SIGKILL is normally reusable at once; retry a few times just in case.
    await waitFor(
      `the server to listen on ${url}`,
      async () => {
        if (!proc?.running) {
          proc = runOverlord("server", [
            "--home",
            options.home,
            "serve",
            "--port",
            String(options.port),
            ...(options.serveArgs ?? ["--database", options.database]),
          ])
        }
        return proc.output.includes("Overlord server on")
      },
      { timeoutMs: 30_000, intervalMs: 50, describe: () => proc?.tail() ?? "" },
    )
    return proc!
  }
  const handle: ServerHandle = {
    port: options.port,
    url,
    database: options.database,
    proc: await launch(),
    async restart(meanwhile?: () => void) {
      await handle.proc.kill("SIGKILL")
      meanwhile?.()
      handle.proc = await launch()
    },
    async kill() {
      await handle.proc.kill("SIGKILL")
    },
  }
  return handle
}

// ---- daemon ---------------------------------------------------------------------------------

export interface DaemonState {
  pid: number | null
  connected?: boolean
  bytesPending?: number
  filesTracked?: number
  lastError?: string | null
  warnings?: string[]
  notices?: { fileKey: string; count: number; last: string }[]
  updatedAt?: string
}

export const readState = (home: string): DaemonState | null => {
  try {
    return JSON.parse(readFileSync(join(home, "daemon-state.json"), "utf8")) as DaemonState
  } catch {
    return null
  }
}

export function startDaemon(options: {
  home: string
  claudeDir: string
  serverUrl: string
  chunkBytes?: number
  /** Frames in flight (the daemon's default is 256). */
  window?: number
  uid?: number
  gid?: number
}): Proc {
  return runOverlord(
    "daemon",
    ["--home", options.home, "start", "--foreground", "--claude-dir", options.claudeDir, "--server", options.serverUrl],
    {
      env: {
        ...(options.chunkBytes ? { OVERLORD_CHUNK_BYTES: String(options.chunkBytes) } : {}),
        ...(options.window ? { OVERLORD_WINDOW: String(options.window) } : {}),
      },
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    },
  )
}

/** Waits until this daemon process reports itself connected with nothing pending. */
export async function waitDaemonIdle(home: string, daemon: Proc, timeoutMs = 60_000): Promise<DaemonState> {
  return waitFor(
    "the daemon to report connected with bytesPending 0",
    () => {
      if (!daemon.running) throw new Error(`the daemon exited (${daemon.exitCode ?? daemon.signal})`)
      const s = readState(home)
      return s && s.pid === daemon.pid && s.connected === true && s.bytesPending === 0 ? s : null
    },
    {
      timeoutMs,
      describe: () => `state: ${JSON.stringify(readState(home))}\n${daemon.tail()}\n${logTail(home)}`,
    },
  )
}

export function logTail(home: string, chars = 3000): string {
  try {
    const log = readFileSync(join(home, "logs", "overlord.log"), "utf8")
    return `--- daemon log tail ---\n${log.slice(-chars)}`
  } catch {
    return "(no daemon log)"
  }
}

// ---- what is on disk ------------------------------------------------------------------------

export interface DiskFile {
  readonly fileKey: string
  readonly path: string
  readonly sessionId: string
  readonly agentId: string | null
  readonly bytes: Buffer
  /** Newline-terminated lines plus an unterminated last piece. */
  readonly lines: number
}

export function countLines(b: Uint8Array): number {
  let n = 0
  for (const byte of b) if (byte === 0x0a) n++
  return b.length > 0 && b[b.length - 1] !== 0x0a ? n + 1 : n
}

/** Main (`<proj>/<sid>.jsonl`) or subagent (`<proj>/<sid>/subagents/agent-<id>.jsonl`) file keys. */
export function classify(fileKey: string): { sessionId: string; agentId: string | null } | null {
  const parts = fileKey.split("/")
  if (parts.length === 2 && parts[1]!.endsWith(".jsonl") && !parts[1]!.startsWith("agent-")) {
    return { sessionId: parts[1]!.slice(0, -".jsonl".length), agentId: null }
  }
  const agent = /^agent-(.+)\.jsonl$/.exec(parts[3] ?? "")
  if (parts.length === 4 && parts[2] === "subagents" && agent) return { sessionId: parts[1]!, agentId: agent[1]! }
  return null
}

/** Every session file under `<claudeDir>/projects`, not following symlinks, skipping `skipDirs`. */
export function diskFiles(claudeDir: string, skipDirs: readonly string[] = []): DiskFile[] {
  const root = join(claudeDir, "projects")
  const out: DiskFile[] = []
  const walk = (dir: string) => {
    if (skipDirs.includes(dir)) return
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const fileKey = relative(root, path).split(sep).join("/")
        const place = classify(fileKey)
        if (!place) continue
        const bytes = readFileSync(path)
        out.push({ fileKey, path, ...place, bytes, lines: countLines(bytes) })
      }
    }
  }
  walk(root)
  return out.sort((a, b) => a.fileKey.localeCompare(b.fileKey))
}

// ---- what the server holds ------------------------------------------------------------------

interface SessionDetail {
  files: { fileKey: string; agentId: string | null; bytes: number; entryCount: number }[]
}

export async function apiGet(p: Provisioned, path: string): Promise<Response> {
  return fetch(`${p.serverUrl}/api/v1${path}`, {
    headers: { authorization: `Bearer ${p.apiToken}` },
    signal: AbortSignal.timeout(15_000),
  })
}

const describeDiff = (want: Uint8Array, got: Uint8Array): string => {
  let i = 0
  while (i < want.length && i < got.length && want[i] === got[i]) i++
  return `disk ${want.length} B, export ${got.length} B, first difference at byte ${i}`
}

/**
 * Compares every file on disk with the server, through the API: the export must equal the file's
 * bytes and the stored entry count its line count. Returns the problems (empty when all match).
 * An empty file may be absent on the server (nothing to sync).
 */
export async function compareWithServer(p: Provisioned, files: readonly DiskFile[]): Promise<string[]> {
  const problems: string[] = []
  const bySession = new Map<string, DiskFile[]>()
  for (const f of files) bySession.set(f.sessionId, [...(bySession.get(f.sessionId) ?? []), f])
  for (const [sessionId, group] of bySession) {
    const res = await apiGet(p, `/sessions/${encodeURIComponent(sessionId)}`)
    if (res.status === 404) {
      await res.body?.cancel()
      for (const f of group)
        if (f.bytes.length > 0) problems.push(`${f.fileKey}: session ${sessionId} not on the server`)
      continue
    }
    if (!res.ok) throw new Error(`GET /sessions/${sessionId}: ${res.status} ${await res.text()}`)
    const detail = (await res.json()) as SessionDetail
    for (const f of group) {
      const stored = detail.files.find((x) => x.fileKey === f.fileKey)
      if (!stored) {
        if (f.bytes.length > 0) problems.push(`${f.fileKey}: not on the server`)
        continue
      }
      const exp = await apiGet(
        p,
        `/sessions/${encodeURIComponent(sessionId)}/export?file=${encodeURIComponent(f.fileKey)}`,
      )
      if (!exp.ok) {
        problems.push(`${f.fileKey}: export ${exp.status}`)
        await exp.body?.cancel()
        continue
      }
      const got = new Uint8Array(await exp.arrayBuffer())
      if (!f.bytes.equals(got)) problems.push(`${f.fileKey}: export differs: ${describeDiff(f.bytes, got)}`)
      if (stored.entryCount !== f.lines)
        problems.push(`${f.fileKey}: ${stored.entryCount} entries stored, ${f.lines} lines on disk`)
      if (stored.bytes !== f.bytes.length)
        problems.push(`${f.fileKey}: server offset ${stored.bytes}, file size ${f.bytes.length}`)
    }
  }
  return problems
}

/** Polls until the server matches the disk exactly (the daemon may still be finishing). */
export async function expectServerMatchesDisk(
  p: Provisioned,
  files: () => DiskFile[],
  context: () => string,
  timeoutMs = 45_000,
): Promise<DiskFile[]> {
  let last: string[] = []
  let snapshot: DiskFile[] = []
  await waitFor(
    "every file's export to equal its bytes",
    async () => {
      snapshot = files()
      last = await compareWithServer(p, snapshot)
      return last.length === 0
    },
    {
      timeoutMs,
      intervalMs: 500,
      describe: () => `${last.length} problem(s):\n${last.slice(0, 15).join("\n")}\n${context()}`,
    },
  )
  return snapshot
}

/**
 * Straight from the database (read-only, WAL): per file, the live entries must be exactly one per
 * line, at distinct offsets, contiguous from byte 0 to the file's size.
 */
export function databaseProblems(database: string, files: readonly DiskFile[]): string[] {
  const db = new Database(database, { readonly: true })
  try {
    const problems: string[] = []
    for (const f of files) {
      const rows = db
        .query(
          `SELECT e.byte_offset AS o, e.raw_len + e.terminated AS n FROM entries e JOIN files fl ON fl.id = e.file_id
           WHERE fl.file_key = ? AND e.superseded = 0 ORDER BY e.byte_offset`,
        )
        .all(f.fileKey) as { o: number; n: number }[]
      if (rows.length !== f.lines) problems.push(`${f.fileKey}: ${rows.length} live entries, ${f.lines} lines`)
      let at = 0
      for (const r of rows) {
        if (r.o !== at) {
          problems.push(`${f.fileKey}: live entry at ${r.o}, expected one at ${at} (duplicate or gap)`)
          break
        }
        at += r.n
      }
      if (at !== f.bytes.length && rows.length === f.lines) problems.push(`${f.fileKey}: live entries end at ${at}`)
    }
    return problems
  } finally {
    db.close()
  }
}

/** A Claude folder holding one session of one line (`projects/-home-dev-app/<sid>.jsonl`); its session id. */
export function writeOneSession(claudeDir: string): string {
  const sid = randomUUID()
  mkdirSync(join(claudeDir, "projects", "-home-dev-app"), { recursive: true })
  writeFileSync(join(claudeDir, "projects", "-home-dev-app", `${sid}.jsonl`), `${sessionRecord(sid, 0)}\n`)
  return sid
}
