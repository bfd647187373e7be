/**
 * The whole path on each engine, side by side in one run: a paired daemon (`overlord login --key`, then
 * `overlord start`) backfilling a history into a real `overlord serve --database-url …` on
 *
 * - SQLite (`--database <file>`),
 * - MariaDB through mysql2 (a private `startMariaDb`, as engines.ts uses),
 * - PlanetScale: the real `@planetscale/database` driver in the server, through the testkit bridge in front
 *   of the same MariaDB, with `--latency-ms` (20) added to every request.
 *
 *   bun scripts/bench/engines-e2e.ts [corpusDir] [--slice-mb 100] [--engines sqlite,mariadb,planetscale]
 *                                    [--repeat 1] [--latency-ms 20] [--timeout-s 900] [--verify-sessions 6]
 *                                    [--window 64,256] [--trace-groups]
 *
 * The corpus: a slice of the realistic-history corpus (`corpus.ts --shape history`, generated when missing):
 * whole sessions (main file and its subagent files) in path order while they fit in `--slice-mb`, hard-linked
 * into `<corpus>-slice-<MB>` so every engine reads the same files. The same slice for every engine.
 *
 * Timed from `overlord start` to "stored": the server's database holds every slice file at its full size
 * (SQLite: `files.offset`, read-only in WAL; MySQL: `files.file_offset` read from the MariaDB, which the bridge
 * fronts too; either advances only in the transaction that stores the lines), polled every 50 ms. The
 * daemon's start-up is inside the time, as in backfill.ts. CPU: utime + stime of the daemon and of the
 * server process at "stored", `mariadbd`'s for the network engines, and the bridge's (a process of its own,
 * `planetscale-bridge-process.ts`: real PlanetScale is remote, so its work must not take the client's CPU).
 * Peak RSS: VmHWM of the server process and of the daemon, read after the exactly-once check, before either
 * stops (the server's inbox is bounded by the daemon's window; what grows with `Engine.groupChunks` is one
 * group's store work, so this is where a larger group would show). Server VmHWM, 100 MB slice, load 0.1-2.1:
 * SQLite 139-151 MB, MariaDB 225-238, PlanetScale 186-223 with 4 chunks a group (6 runs) and 200-244 with 8
 * (9 runs, interleaved with the 4s): the spread of one setting is about as wide as the step between them.
 * Load: /proc/loadavg (1 min) before and at "stored". `--repeat N` rotates the engine order each round
 * (round r starts at engine r mod 3), so no engine always runs first on a cold machine.
 * `--window 64,256` runs each engine once per daemon window (`OVERLORD_WINDOW`, frames in flight), in turn.
 * Network engines: MariaDB's `Com_commit` over the run: the server's groups (one transaction each) plus the
 * search indexer's batches (one every 250 ms while lines arrive), so not groups alone. `--trace-groups`:
 * what each 50 ms poll saw stored; on PlanetScale a group takes longer than a poll, so one change is one group.
 *
 * Exactly-once check per engine: the API's sessions and entries (every file) equal the slice's sessions and
 * lines, the usage token total is the same on every engine, and `--verify-sessions` sessions (the largest and
 * some others) are exported file by file (`GET /sessions/:id/export?file=`) and compared byte for byte with
 * the files on disk. Results: stdout (JSON), a table on stderr, `.artifacts/bench/results.jsonl`.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { connectMysql2 } from "../../packages/store/src/mysql/index.ts"
import { type MariaDb, startMariaDb } from "../../packages/testkit/src/mariadb.ts"
import {
  type PlanetScaleBridgeProcess,
  startPlanetScaleBridgeProcess,
} from "../../packages/testkit/src/planetscale-bridge-process.ts"
import { pairWithKey, runCli, type StandaloneServer, setUpAdmin } from "../../packages/testkit/src/standalone-server.ts"
import { argValue, generate, readManifest, shapeOptions } from "./corpus.ts"
import {
  ARTIFACTS,
  api,
  apiSessionTotals,
  fmt,
  freshDir,
  mb,
  now,
  onAbort,
  openDbReadOnly,
  portFree,
  procSampler,
  readProc,
  record,
  sleep,
  startDaemon,
  waitFor,
} from "./lib.ts"

type EngineName = "sqlite" | "mariadb" | "planetscale"
const args = process.argv.slice(2)
const SLICE_MB = argValue(args, "--slice-mb", 100)
const REPEAT = argValue(args, "--repeat", 1)
const LATENCY_MS = argValue(args, "--latency-ms", 20)
const TIMEOUT_MS = argValue(args, "--timeout-s", 900) * 1000
const VERIFY_SESSIONS = argValue(args, "--verify-sessions", 6)
const windowArg = args.indexOf("--window")
/** Daemon windows to try (frames in flight); 0 = the daemon's default (256). */
const WINDOWS = windowArg >= 0 ? (args[windowArg + 1] ?? "0").split(",").map(Number) : [0]
const TRACE_GROUPS = args.includes("--trace-groups")
const engineArg = args.indexOf("--engines")
const ENGINES = (engineArg >= 0 ? (args[engineArg + 1] ?? "") : "sqlite,mariadb,planetscale").split(",") as EngineName[]
for (const e of ENGINES)
  if (e !== "sqlite" && e !== "mariadb" && e !== "planetscale") throw new Error(`--engines: unknown engine ${e}`)

// ---- the corpus and its slice ----------------------------------------------------------------------
const source = args[0] && !args[0].startsWith("--") ? args[0] : join(ARTIFACTS, "corpus-history")
if (!readManifest(source)) {
  console.error(`no corpus at ${source}: generating the history shape`)
  await generate(source, shapeOptions(["--shape", "history"]))
}
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".jsonl") ? [join(dir, e.name)] : [],
  )

interface Slice {
  readonly dir: string
  readonly files: number
  readonly bytes: number
  readonly lines: number
  readonly sessions: number
  /** Session id → its files' paths under `dir/projects`, main file first. */
  readonly bySession: Map<string, string[]>
}

/** Whole sessions in path order while they fit in `maxBytes`, hard-linked (same inode, same mtime). */
function makeSlice(maxBytes: number): Slice {
  const dir = `${source}-slice-${Math.round(maxBytes / 1e6)}`
  const projects = join(source, "projects")
  const sessions = new Map<string, string[]>()
  for (const path of walk(projects).sort()) {
    const rel = relative(projects, path).split("/")
    // <project>/<session>.jsonl or <project>/<session>/subagents/agent-<id>.jsonl
    const id = rel.length === 2 ? rel[1]!.replace(/\.jsonl$/, "") : rel[1]!
    const key = `${rel[0]}/${id}`
    const list = sessions.get(key) ?? []
    if (rel.length === 2) list.unshift(path)
    else list.push(path)
    sessions.set(key, list)
  }
  // Updated in place, never deleted and made again: another run in this checkout may be backfilling from
  // it, and a slice made anew under its daemon (the watched folder and every file gone, then new inodes)
  // stalled that run with a third of its files untracked until the daemon's 5-minute rescan.
  const wanted = new Set<string>()
  const bySession = new Map<string, string[]>()
  let bytes = 0
  let lines = 0
  let files = 0
  for (const [key, paths] of sessions) {
    const size = paths.reduce((a, p) => a + statSync(p).size, 0)
    if (bytes + size > maxBytes) continue
    const linked: string[] = []
    for (const p of paths) {
      const to = join(dir, "projects", relative(projects, p))
      mkdirSync(dirname(to), { recursive: true })
      if (!existsSync(to) || statSync(to).ino !== statSync(p).ino) {
        rmSync(to, { force: true })
        linkSync(p, to)
      }
      wanted.add(to)
      linked.push(to)
      const buf = readFileSync(p)
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++
      files++
    }
    bytes += size
    bySession.set(key.split("/")[1]!, linked)
  }
  for (const path of walk(join(dir, "projects"))) if (!wanted.has(path)) rmSync(path)
  return { dir, files, bytes, lines, sessions: bySession.size, bySession }
}

const slice = makeSlice(SLICE_MB * 1e6)
console.error(
  `slice ${slice.dir}: ${fmt(mb(slice.bytes))} MB, ${slice.files} files, ${slice.lines} lines, ${slice.sessions} sessions`,
)
// A warm page cache for every engine alike.
for (const paths of slice.bySession.values()) for (const p of paths) readFileSync(p)

// ---- one engine ------------------------------------------------------------------------------------
const loadavg = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0])
const readPidFile = (path: string): number | null => {
  try {
    return Number(readFileSync(path, "utf8").trim()) || null
  } catch {
    return null
  }
}

interface EngineResult {
  readonly engine: EngineName
  readonly round: number
  readonly window: number
  readonly storedS: number
  readonly mbPerS: number
  readonly linesPerS: number
  readonly daemonCpuS: number
  readonly serverCpuS: number
  /** mariadbd's CPU over the run (network engines). */
  readonly mariadbCpuS: number | null
  /** The PlanetScale bridge's CPU over the run (its own process: real PlanetScale costs the client nothing). */
  readonly bridgeCpuS: number | null
  /** VmHWM (MB) at the end of the run: the server's peak holds its inbox and the store's work for one group. */
  readonly serverPeakRssMb: number
  readonly daemonPeakRssMb: number
  readonly loadBefore: number
  readonly loadAtStored: number
  readonly bridgeRequests: number | null
  /** Transactions committed on MariaDB during the run: the server's groups and the search indexer's batches. */
  readonly commits: number | null
  /**
   * What the 50 ms polls saw change between two polls (files, MB, ms since the last change), `--trace-groups`:
   * where a group takes longer than a poll (the network engines), one change is one group.
   */
  readonly steps?: { files: number; mb: number; ms: number }[]
  readonly apiSessions: number
  readonly apiEntries: number
  readonly usageTokens: number
  readonly exportedFiles: number
  readonly exportedBytes: number
  readonly exactlyOnce: boolean
}

/** `overlord serve` on `dbArgs`, its address and setup link from what it prints. */
async function startServe(dir: string, dbArgs: string[], location: string): Promise<StandaloneServer> {
  const home = join(dir, "server-home")
  const proc = runCli(home, ["serve", "--port", "0", ...dbArgs])
  const exited = (): false => {
    if (proc.child.exitCode !== null) throw new Error(`overlord serve exited:\n${proc.output()}`)
    return false
  }
  const url = await waitFor(
    "the server's address",
    () => exited() || /Overlord server on (http:\/\/\S+?),?\s/.exec(proc.output())?.[1]?.replace(/\/$/, ""),
    60_000,
  )
  const setupUrl = await waitFor(
    "the setup link",
    () => exited() || /(https?:\/\/\S+\/setup\/[^\s"']+)/.exec(proc.output())?.[1],
    30_000,
  )
  return {
    url,
    database: dbArgs[0] === "--database" ? "sqlite" : "mariadb",
    databaseLocation: location,
    proc,
    setupUrl,
    dir,
    stop: async () => {
      proc.stop()
      await proc.exited
    },
  }
}

async function runEngine(
  engine: EngineName,
  round: number,
  window: number,
  maria: MariaDb | null,
): Promise<EngineResult> {
  const dir = freshDir(`e2e-${engine}-${round}-${window}`)
  const serverDb = join(dir, "server-home", "data", "overlord.db")
  let dbArgs: string[]
  let stored: () => Promise<{ n: number; b: number }>
  let closeDb = async () => {}
  let commitCount = async (): Promise<number | null> => null
  let bridge: PlanetScaleBridgeProcess | null = null
  if (engine === "sqlite") {
    mkdirSync(dirname(serverDb), { recursive: true })
    dbArgs = ["--database", serverDb]
    let db: ReturnType<typeof openDbReadOnly> = null
    stored = async () => {
      db ??= openDbReadOnly(join(dir, "server-home"))
      return db
        ? (db.query("SELECT count(*) AS n, coalesce(sum(offset), 0) AS b FROM files").get() as { n: number; b: number })
        : { n: 0, b: 0 }
    }
    closeDb = async () => db?.close()
  } else {
    const database = await maria!.createDatabase(`e2e_${engine}_${round}_${window}_${process.pid}`)
    if (engine === "planetscale") {
      const { host, port, user, password } = maria!
      bridge = await startPlanetScaleBridgeProcess({
        mariadb: { host, port, user, password },
        database,
        latencyMs: LATENCY_MS,
      })
      dbArgs = ["--database-url", bridge.url]
    } else dbArgs = ["--database-url", maria!.url(database)]
    // Polled on MariaDB itself, not through the bridge: the 20 ms are the server's to pay, not the poll's.
    const conn = connectMysql2({ url: maria!.url(database), connectionLimit: 1 })
    stored = async () => {
      try {
        const { rows } = await conn.query<{ n: unknown; b: unknown }>(
          "SELECT count(*) AS n, coalesce(sum(file_offset), 0) AS b FROM files",
        )
        return { n: Number(rows[0]!.n), b: Number(rows[0]!.b) }
      } catch {
        return { n: 0, b: 0 } // before the server's migrations made the table
      }
    }
    commitCount = async () => {
      const { rows } = await conn.query<{ Value: unknown }>("SHOW GLOBAL STATUS LIKE 'Com_commit'")
      return Number(rows[0]!.Value)
    }
    closeDb = async () => {
      await conn.query(`DROP DATABASE \`${database}\``).catch(() => {})
      await conn.close()
    }
  }
  const server = await startServe(dir, dbArgs, dbArgs[1]!)
  onAbort(() => server.proc.stop())
  try {
    const admin = await setUpAdmin(server)
    const laptop = join(dir, "laptop-home")
    await pairWithKey(server, admin, laptop)
    // A home holding only the admin's token, for lib.ts's API helpers.
    const apiHome = join(dir, "api-home")
    mkdirSync(apiHome, { recursive: true })
    writeFileSync(
      join(apiHome, "credentials.json"),
      JSON.stringify({ serverUrl: server.url, apiToken: admin.apiToken }),
    )

    const mariaPid = engine === "sqlite" || !maria ? null : readPidFile(join(maria.dir, "pid"))
    const mariaCpu0 = mariaPid ? (readProc(mariaPid)?.cpuS ?? 0) : 0
    const serverCpu0 = readProc(server.proc.child.pid!)?.cpuS ?? 0
    const bridgeCpu0 = bridge ? (readProc(bridge.pid)?.cpuS ?? 0) : 0
    const requests0 = (await bridge?.requestCount()) ?? 0
    const commits0 = await commitCount()
    const loadBefore = loadavg()
    const daemon = startDaemon({
      home: laptop,
      claudeDir: slice.dir,
      port: portFree(),
      ...(window > 0 ? { env: { OVERLORD_WINDOW: String(window) } } : {}),
    })
    const daemonSampler = procSampler(daemon.pid, 100)
    const serverSampler = procSampler(server.proc.child.pid!, 100)
    try {
      let lastLog = now()
      const steps: { files: number; mb: number; ms: number }[] = []
      let last = { n: 0, b: 0, t: now() }
      let at: { t: number; daemonCpu: number; serverCpu: number; load: number; bridgeCpu: number | null } | null = null
      while (!at) {
        if (daemon.child.exitCode !== null) throw new Error(`daemon exited:\n${daemon.output()}`)
        if (server.proc.child.exitCode !== null) throw new Error(`server exited:\n${server.proc.output()}`)
        const r = await stored()
        if (TRACE_GROUPS && r.b !== last.b) {
          steps.push({ files: r.n - last.n, mb: Number(mb(r.b - last.b).toFixed(3)), ms: Math.round(now() - last.t) })
          last = { ...r, t: now() }
        }
        if (r.n === slice.files && r.b === slice.bytes) {
          at = {
            t: now(),
            daemonCpu: daemonSampler.sample()?.cpuS ?? 0,
            serverCpu: (serverSampler.sample()?.cpuS ?? 0) - serverCpu0,
            load: loadavg(),
            bridgeCpu: bridge ? (readProc(bridge.pid)?.cpuS ?? 0) - bridgeCpu0 : null,
          }
          break
        }
        if (now() - daemon.startedAt > TIMEOUT_MS) throw new Error(`${engine}: not stored after ${TIMEOUT_MS} ms`)
        if (now() - lastLog > 5000) {
          lastLog = now()
          console.error(
            `  ${engine}: ${fmt((now() - daemon.startedAt) / 1000, 0)} s, ${r.n}/${slice.files} files, ${fmt(mb(r.b))}/${fmt(mb(slice.bytes))} MB`,
          )
        }
        await sleep(50)
      }
      const storedS = (at.t - daemon.startedAt) / 1000
      const mariadbCpuS = mariaPid ? (readProc(mariaPid)?.cpuS ?? 0) - mariaCpu0 : null
      const bridgeRequests = bridge ? (await bridge.requestCount()) - requests0 : null
      const commits1 = await commitCount()
      const commits = commits0 === null || commits1 === null ? null : commits1 - commits0

      // ---- exactly once: the API's counts, usage tokens, and exported bytes against the files ----
      const totals = await apiSessionTotals(apiHome)
      const usage = await api<{ rows: { input: number; output: number; cacheWrite: number; cacheRead: number }[] }>(
        apiHome,
        "/usage?groupBy=model",
      )
      const usageTokens = usage.rows.reduce((a, r) => a + r.input + r.output + r.cacheWrite + r.cacheRead, 0)
      const { files: exportedFiles, bytes: exportedBytes, mismatches } = await exportCheck(apiHome)
      const exactlyOnce =
        totals.sessions === slice.sessions &&
        totals.entries === slice.lines &&
        mismatches.length === 0 &&
        exportedFiles > 0
      if (!exactlyOnce)
        console.error(
          `  ${engine}: EXACTLY-ONCE CHECK FAILED: sessions ${totals.sessions}/${slice.sessions}, entries ${totals.entries}/${slice.lines}, export mismatches: ${mismatches.join(", ")}`,
        )
      // Read before either process stops (VmHWM goes with the process); the export above is inside it.
      const serverPeakRssMb = (readProc(server.proc.child.pid!)?.hwmKb ?? 0) / 1024
      const daemonPeakRssMb = (readProc(daemon.pid)?.hwmKb ?? 0) / 1024
      return {
        engine,
        round,
        window,
        storedS,
        mbPerS: mb(slice.bytes) / storedS,
        linesPerS: slice.lines / storedS,
        daemonCpuS: at.daemonCpu,
        serverCpuS: at.serverCpu,
        mariadbCpuS,
        bridgeCpuS: at.bridgeCpu,
        serverPeakRssMb,
        daemonPeakRssMb,
        loadBefore,
        loadAtStored: at.load,
        bridgeRequests,
        commits,
        ...(TRACE_GROUPS ? { steps } : {}),
        apiSessions: totals.sessions,
        apiEntries: totals.entries,
        usageTokens,
        exportedFiles,
        exportedBytes,
        exactlyOnce,
      }
    } finally {
      daemonSampler.stop()
      serverSampler.stop()
      await daemon.stop()
    }
  } finally {
    await server.stop()
    await bridge?.stop()
    await closeDb()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The largest session and `VERIFY_SESSIONS - 1` others spread over the slice, every file of each exported
 * through the API and compared byte for byte with the file on disk.
 */
async function exportCheck(apiHome: string): Promise<{ files: number; bytes: number; mismatches: string[] }> {
  const ids = [...slice.bySession.keys()]
  const size = (id: string) => slice.bySession.get(id)!.reduce((a, p) => a + statSync(p).size, 0)
  const largest = ids.reduce((a, b) => (size(b) > size(a) ? b : a))
  const step = Math.max(1, Math.floor(ids.length / Math.max(1, VERIFY_SESSIONS - 1)))
  const chosen = [largest, ...ids.filter((_, i) => i % step === 0)].slice(0, VERIFY_SESSIONS)
  const creds = JSON.parse(readFileSync(join(apiHome, "credentials.json"), "utf8")) as {
    serverUrl: string
    apiToken: string
  }
  const projects = join(slice.dir, "projects")
  let files = 0
  let bytes = 0
  const mismatches: string[] = []
  for (const id of new Set(chosen)) {
    const detail = await api<{ files: { fileKey: string }[] }>(apiHome, `/sessions/${encodeURIComponent(id)}`)
    const want = slice.bySession.get(id)!
    if (detail.files.length !== want.length) mismatches.push(`${id}: ${detail.files.length}/${want.length} files`)
    for (const f of detail.files) {
      const path = [join(projects, f.fileKey), join(slice.dir, f.fileKey)].find((p) => existsSync(p))
      if (!path) {
        mismatches.push(`${f.fileKey}: not in the slice`)
        continue
      }
      const res = await fetch(
        `${creds.serverUrl}/api/v1/sessions/${encodeURIComponent(id)}/export?file=${encodeURIComponent(f.fileKey)}`,
        { headers: { authorization: `Bearer ${creds.apiToken}` } },
      )
      const got = new Uint8Array(await res.arrayBuffer())
      const disk = readFileSync(path)
      if (res.status !== 200 || !disk.equals(got))
        mismatches.push(`${f.fileKey}: ${res.status}, ${got.length} of ${disk.length} bytes`)
      files++
      bytes += got.length
    }
  }
  return { files, bytes, mismatches }
}

// ---- the rounds ------------------------------------------------------------------------------------
const mariaDir = join(ARTIFACTS, "runs", `engines-e2e-mariadb-${process.pid}`)
const maria =
  ENGINES.includes("mariadb") || ENGINES.includes("planetscale") ? await startMariaDb({ dir: mariaDir }) : null
if (maria) onAbort(() => void maria.destroy())
const results: EngineResult[] = []
try {
  for (let round = 0; round < REPEAT; round++) {
    const order = ENGINES.map((_, i) => ENGINES[(i + round) % ENGINES.length]!)
    for (const engine of order)
      for (const window of round % 2 === 0 ? WINDOWS : [...WINDOWS].reverse()) {
        console.error(`round ${round + 1}/${REPEAT}: ${engine}, window ${window || "default"} (load ${loadavg()})`)
        const r = await runEngine(engine, round, window, maria)
        console.error(
          `  ${engine}: ${fmt(r.storedS, 2)} s, ${fmt(r.mbPerS)} MB/s, ${fmt(r.linesPerS, 0)} lines/s, commits ${r.commits ?? "-"}, peak RSS server ${fmt(r.serverPeakRssMb, 0)} MB / daemon ${fmt(r.daemonPeakRssMb, 0)} MB, exactly once: ${r.exactlyOnce}`,
        )
        results.push(r)
      }
  }
} finally {
  await maria?.destroy()
  // A data dir given to startMariaDb is the caller's to delete.
  rmSync(mariaDir, { recursive: true, force: true })
}

// The same slice everywhere: every engine's usage tokens must be the same.
const tokens = new Set(results.map((r) => r.usageTokens))
const sameTokens = tokens.size === 1
const label: Record<EngineName, string> = {
  sqlite: "SQLite",
  mariadb: "MariaDB (mysql2)",
  planetscale: `PlanetScale (bridge, ${LATENCY_MS} ms)`,
}
const cpu = (r: EngineResult) =>
  `${fmt(r.serverCpuS)} s${r.mariadbCpuS === null ? "" : ` + mariadbd ${fmt(r.mariadbCpuS)} s`}${r.bridgeCpuS === null ? "" : ` + bridge ${fmt(r.bridgeCpuS)} s`}`
const lines = [
  "",
  `slice: ${fmt(mb(slice.bytes))} MB, ${slice.files} files, ${slice.lines} lines, ${slice.sessions} sessions; usage tokens equal on every engine: ${sameTokens} (${[...tokens].join(", ")})`,
  "| round | engine | window | MB/s | lines/s | ratio to SQLite | daemon CPU | server CPU | peak RSS server / daemon | load (start → stored) | MariaDB commits | bridge requests | exactly once |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map((r) => {
    const sqlite = results.find((s) => s.round === r.round && s.engine === "sqlite" && s.window === r.window)
    const groups = r.commits === null ? "" : String(r.commits)
    const requests = r.bridgeRequests === null ? "" : String(r.bridgeRequests)
    return `| ${r.round + 1} | ${label[r.engine]} | ${r.window || "default"} | ${fmt(r.mbPerS)} | ${fmt(r.linesPerS, 0)} | ${sqlite ? `${fmt((100 * r.mbPerS) / sqlite.mbPerS, 0)} %` : ""} | ${fmt(r.daemonCpuS)} s | ${cpu(r)} | ${fmt(r.serverPeakRssMb, 0)} / ${fmt(r.daemonPeakRssMb, 0)} MB | ${fmt(r.loadBefore, 2)} → ${fmt(r.loadAtStored, 2)} | ${groups} | ${requests} | ${r.exactlyOnce ? `yes (${r.exportedFiles} files exported)` : "NO"} |`
  }),
]
console.error(lines.join("\n"))
const result = { slice: { ...slice, bySession: undefined }, latencyMs: LATENCY_MS, sameTokens, results }
record("engines-e2e", result)
console.log(JSON.stringify(result, null, 2))
if (!sameTokens || results.some((r) => !r.exactlyOnce)) process.exitCode = 1
