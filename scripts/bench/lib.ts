/** Shared helpers for the benchmarks: launching the daemon, /proc sampling, API and DB polling. */
import { Database } from "bun:sqlite"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { buildDaemon } from "../build-daemon.ts"
import { ARTIFACTS, REPO } from "./seed.ts"

export { ARTIFACTS, REPO }
/** What users run (`npm start`): the bundled daemon, built afresh so it matches the sources. */
export const BIN = await buildDaemon()
export const CLK_TCK = 100 // getconf CLK_TCK on Linux x86_64
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
export const now = () => performance.now()

export interface ProcSample {
  readonly t: number
  readonly rssKb: number
  readonly hwmKb: number
  /** RSS split: anonymous (heaps) vs file-backed (mostly the bun binary's mapped pages). */
  readonly anonKb: number
  readonly fileKb: number
  /** /proc/<pid>/io: bytes this process caused to be written to / read from storage. */
  readonly ioWriteBytes: number
  readonly ioReadBytes: number
  /** utime + stime, seconds. */
  readonly cpuS: number
}

/**
 * CPU seconds by thread, named by `comm` and numbered in creation order when names repeat: in the
 * daemon, "bun" is its own thread, "Worker 1" the embedded server, "Worker 2" the WAL checkpointer.
 */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  const seen = new Map<string, number>()
  try {
    const tids = readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .sort((a, b) => a - b)
    for (const tid of tids) {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim()
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const n = (seen.get(name) ?? 0) + 1
      seen.set(name, n)
      const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK
      if (cpu > 0) out[name === "Worker" ? `${name} ${n}` : n > 1 ? `${name} ${n}` : name] = cpu
    }
  } catch {}
  return out
}

/**
 * The machine's CPU ticks so far (/proc/stat): `steal` is time the hypervisor gave our virtual CPUs
 * to someone else. On this VM the same run varies ±15 %, and steal is how a noisy minute shows.
 */
export function machineTicks(): { total: number; steal: number; idle: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  return { total: f.reduce((a, b) => a + b, 0), idle: (f[3] ?? 0) + (f[4] ?? 0), steal: f[7] ?? 0 }
}

export function readProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    let io = ""
    try {
      io = readFileSync(`/proc/${pid}/io`, "utf8")
    } catch {}
    const ioField = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, "m").exec(io)?.[1] ?? 0)
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
    return {
      t: now(),
      rssKb: kb("VmRSS"),
      hwmKb: kb("VmHWM"),
      anonKb: kb("RssAnon"),
      fileKb: kb("RssFile"),
      ioWriteBytes: ioField("write_bytes"),
      ioReadBytes: ioField("read_bytes"),
      cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK,
    }
  } catch {
    return null
  }
}

/** Samples /proc every `everyMs` until stopped; keeps the last sample and the peak RSS seen. */
export function procSampler(pid: number, everyMs = 100) {
  let last: ProcSample | null = readProc(pid)
  let peakRssKb = last?.rssKb ?? 0
  const timer = setInterval(() => {
    const s = readProc(pid)
    if (!s) return
    last = s
    peakRssKb = Math.max(peakRssKb, s.rssKb)
  }, everyMs)
  return {
    sample: () => {
      const s = readProc(pid)
      if (s) {
        last = s
        peakRssKb = Math.max(peakRssKb, s.rssKb)
      }
      return last
    },
    peakRssKb: () => Math.max(peakRssKb, last?.hwmKb ?? 0),
    stop: () => clearInterval(timer),
  }
}

// Stoppable: on SIGINT/SIGTERM (Ctrl-C, `timeout`) run the registered cleanups (stop the daemon we
// launched, restore files), then exit. Cleanups run in reverse order of registration.
const cleanups: (() => void)[] = []
export function onAbort(fn: () => void): void {
  cleanups.push(fn)
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    for (const fn of cleanups.reverse()) {
      try {
        fn()
      } catch {}
    }
    process.exit(130)
  })
}

export interface Daemon {
  readonly child: ChildProcess
  readonly pid: number
  readonly home: string
  readonly startedAt: number
  readonly output: () => string
  readonly dashboardUrl: () => string | null
  readonly stop: () => Promise<void>
}

export function freshDir(name: string): string {
  const dir = join(ARTIFACTS, "runs", `${name}-${process.pid}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

/** `overlord start --foreground` with a fresh home; the bun process IS the daemon + embedded server. */
export function startDaemon(opts: {
  home: string
  claudeDir: string
  port: number
  extraArgs?: string[]
  env?: Record<string, string>
}): Daemon {
  const startedAt = now()
  const child = spawn(
    "bun",
    [
      ...(opts.extraArgs ?? []),
      BIN,
      "--home",
      opts.home,
      "start",
      "--foreground",
      "--claude-dir",
      opts.claudeDir,
      "--port",
      String(opts.port),
    ],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } },
  )
  onAbort(() => child.exitCode === null && child.kill("SIGTERM"))
  let out = ""
  child.stdout!.on("data", (d) => (out += d))
  child.stderr!.on("data", (d) => (out += d))
  return {
    child,
    pid: child.pid!,
    home: opts.home,
    startedAt,
    output: () => out,
    dashboardUrl: () => /Dashboard: (\S+)/.exec(out)?.[1] ?? null,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill("SIGTERM")
      for (let i = 0; i < 100 && child.exitCode === null; i++) await sleep(100)
      if (child.exitCode === null) child.kill("SIGKILL")
    },
  }
}

export interface DaemonState {
  readonly connected?: boolean
  readonly bytesPending?: number
  readonly filesTracked?: number
  readonly updatedAt?: string
  readonly lastError?: string | null
}
export const readJson = <T>(p: string): T | null => {
  try {
    return JSON.parse(readFileSync(p, "utf8")) as T
  } catch {
    return null
  }
}
export const daemonState = (home: string) => readJson<DaemonState>(join(home, "daemon-state.json"))
export const credentials = (home: string) =>
  readJson<{ serverUrl: string; apiToken: string }>(join(home, "credentials.json"))
export const dbPath = (home: string) => join(home, "data", "overlord.db")

export async function waitFor<T>(
  what: string,
  fn: () => T | null | undefined | false,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v) return v
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/**
 * Waits until the server's database holds every corpus file at its full size: `files.offset` only
 * advances in the transaction that stores the lines. Fails at once if `daemon` exits meanwhile.
 */
export async function waitForStored(
  db: Database,
  corpus: { readonly files: number; readonly bytes: number },
  opts: { readonly daemon?: Daemon; readonly timeoutMs: number; readonly everyMs: number },
): Promise<void> {
  const q = db.query("SELECT count(*) AS n, coalesce(sum(offset), 0) AS b FROM files")
  await waitFor(
    "initial sync",
    () => {
      if (opts.daemon && opts.daemon.child.exitCode !== null) {
        throw new Error(`daemon exited:\n${opts.daemon.output()}`)
      }
      const r = q.get() as { n: number; b: number }
      return r.n === corpus.files && r.b === corpus.bytes
    },
    opts.timeoutMs,
    opts.everyMs,
  )
}

export async function api<T>(home: string, path: string): Promise<T> {
  const c = credentials(home)
  if (!c) throw new Error("no credentials.json yet")
  const res = await fetch(`${c.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${c.apiToken}` } })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** Every session through the paginated API: count, and entry counts summed over every file of each. */
export async function apiSessionTotals(
  home: string,
): Promise<{ sessions: number; entries: number; mainEntries: number }> {
  let cursor: string | null = null
  let sessions = 0
  let entries = 0
  let mainEntries = 0
  const ids: string[] = []
  do {
    const page: { sessions: { sessionId: string; entryCount: number }[]; nextCursor: string | null } = await api(
      home,
      `/sessions?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    )
    sessions += page.sessions.length
    for (const s of page.sessions) mainEntries += s.entryCount
    ids.push(...page.sessions.map((s) => s.sessionId))
    cursor = page.nextCursor
  } while (cursor)
  // The list's entryCount is the main transcript; the detail lists every file (subagents too).
  for (const id of ids) {
    const d: { files: { entryCount: number }[] } = await api(home, `/sessions/${encodeURIComponent(id)}`)
    for (const f of d.files) entries += f.entryCount
  }
  return { sessions, entries, mainEntries }
}

/** A read-only handle on the server's SQLite file (WAL: reading never blocks the writer). */
export function openDbReadOnly(home: string): Database | null {
  if (!existsSync(dbPath(home))) return null
  try {
    const db = new Database(dbPath(home), { readonly: true })
    db.query("SELECT count(*) FROM files").get()
    return db
  } catch {
    return null
  }
}

export function portFree(): number {
  return 20000 + Math.floor(Math.random() * 20000)
}

export const mb = (bytes: number) => bytes / 1e6
export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a")

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

/** Appends one result record (JSON line) to `.artifacts/bench/results.jsonl` for run-all.ts. */
export function record(name: string, result: unknown): void {
  mkdirSync(ARTIFACTS, { recursive: true })
  const line = `${JSON.stringify({ name, at: new Date().toISOString(), result })}\n`
  require("node:fs").appendFileSync(join(ARTIFACTS, "results.jsonl"), line)
}
