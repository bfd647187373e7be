/**
 * The three engines side by side, in one run, through the same `Engine` calls the server makes:
 *
 * - ingest: a realistic corpus (`corpus.ts`) appended in the daemon's 1 MiB chunks (cut on line ends),
 *   with the daemon's line facts computed beforehand (not timed: the daemon's share), committed in
 *   groups as the sync socket makes them for each engine (4 MiB; 8 on MySQL engines), into SQLite,
 *   MariaDB through mysql2, and the PlanetScale driver through the bridge with 20 ms per request
 *   (`--ps-mb` caps its slice);
 * - reads: 10,000 one-turn sessions of another user, then the session list's first page and the usage
 *   report (by day, model, project, session), each timed `--reads` times;
 * - the change feed: one poll that finds nothing (`feedAfter` at the head), what every server pays
 *   every 200 ms while a dashboard is connected.
 *
 *   bun scripts/bench/engines.ts [corpusDir] [--ps-mb 40] [--sessions 10000] [--reads 30] [--latency-ms 20]
 *                                [--ingest-only] [--profile-statements] [--big-pool] [--usage-rows 200]
 *                                [--engines sqlite,mariadb,planetscale] [--repeat 1] [--mysql2-blobs prepared,text]
 *                                [--reads-only] [--line-bytes]
 *
 * `--line-bytes`: after each MariaDB ingest, what `line_chunks` holds (rows and stored bytes per codec,
 * raw = 0, zstd = 1, and InnoDB's data_length after ANALYZE TABLE) and mariadbd's CPU during the ingest.
 *
 * `--reads-only` skips the corpus (not even read) and its ingest: only the 10,000 sessions and the reads.
 *
 * `--repeat N` runs the engines N times in turn, each on a new database; `--mysql2-blobs prepared,text`
 * runs MariaDB both ways, interleaved on the same server (line bytes as prepared-statement bytes, or as
 * hex inside the SQL text).
 *
 * `--profile-statements`: MariaDB's ingest time per kind of statement. Measured on the 110 MB corpus:
 * `INSERT INTO line_chunks` (the line bytes, hex inside the SQL text) took 979 of 1,450 ms, ~113 MB/s,
 * as fast as 1 MiB BLOBs go through mysql2's text protocol alone (119–143 MB/s); as prepared statements
 * (binary protocol) single 1 MiB BLOB rows go at 308–331 MB/s. They now go prepared, 64, 32, …, 1 rows a
 * statement (`line-chunks.ts`): 378–401 of 750–830 ms. `--big-pool` (1 GB buffer pool, 512 MB redo log)
 * changed nothing: the test server's 64 MB pool is not the limit.
 *
 * The MariaDB is a private one (`startMariaDb`: `innodb_flush_log_at_trx_commit=2`, 64 MB buffer pool),
 * so the numbers are this machine's, not a tuned server's. Results: stdout (JSON) and
 * `.artifacts/bench/results.jsonl`.
 */
import { isUtf8 } from "node:buffer"
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join, relative } from "node:path"
import type { Sync } from "../../packages/protocol/src/index.ts"
import type { Append, Engine, MachineActor } from "../../packages/store/src/index.ts"
import {
  connectMysql2,
  connectPlanetscale,
  type MysqlClient,
  MysqlEngine,
  type MysqlQueryable,
} from "../../packages/store/src/mysql/index.ts"
import { SqliteEngine } from "../../packages/store/src/sqlite/index.ts"
import { startMariaDb } from "../../packages/testkit/src/mariadb.ts"
import { startPlanetScaleBridge } from "../../packages/testkit/src/planetscale-bridge.ts"
import { startPlanetScaleBridgeProcess } from "../../packages/testkit/src/planetscale-bridge-process.ts"
import { factsOfLines } from "../../packages/transcript/src/line-facts.ts"
import { argValue, readManifest } from "./corpus.ts"
import { ARTIFACTS } from "./seed.ts"

const args = process.argv.slice(2)
const corpus = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")) ?? join(ARTIFACTS, "corpus")
const manifest = readManifest(corpus)
if (!manifest) throw new Error(`no corpus at ${corpus} (bun scripts/bench/corpus.ts ${corpus})`)
const PS_MB = argValue(args, "--ps-mb", 40)
const SESSIONS = argValue(args, "--sessions", 10_000)
const ONLY = args.includes("--ingest-only")
const READS_ONLY = args.includes("--reads-only")
const LINE_BYTES = args.includes("--line-bytes")
const BIG_POOL = args.includes("--big-pool")
const listArg = (name: string, all: string): string[] => {
  const i = args.indexOf(name)
  return (i >= 0 ? (args[i + 1] ?? all) : all).split(",")
}
const ENGINES = listArg("--engines", "sqlite,mariadb,planetscale")
const MYSQL2_BLOBS = listArg("--mysql2-blobs", "prepared")
// Where the PlanetScale bridge runs, interleaved when both: its own process (default; real PlanetScale is
// remote, so its work must not take this client's CPU) or this one (as before, for comparison).
const BRIDGE_IN = listArg("--bridge", "process")
const REPEAT = argValue(args, "--repeat", 1)
const READS = argValue(args, "--reads", 30)
const LATENCY_MS = argValue(args, "--latency-ms", 20)
/** Usage rows per report, as the dashboard asks for them (`apps/web` `USAGE_PAGE_ROWS`). */
const USAGE_ROWS = argValue(args, "--usage-rows", 200)
const CHUNK = 1024 * 1024
/** The sync socket's chunks per group unless an engine asks for more (`Engine.groupChunks`). */
const GROUP_CHUNKS = 4

const now = () => performance.now()
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a")
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN
}

// ---- the corpus as the daemon would send it --------------------------------------------------------
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".jsonl") ? [join(dir, e.name)] : [],
  )
const projects = join(corpus, "projects")
// Largest files last, so a capped slice takes whole small and medium files first.
const files = (READS_ONLY ? [] : walk(projects))
  .map((path) => ({ path, bytes: readFileSync(path) }))
  .sort((a, b) => a.bytes.length - b.bytes.length)

interface Chunk {
  readonly append: Append
  readonly lines: number
}
const t0 = now()
const chunks: Chunk[] = []
for (const { path, bytes } of files) {
  const fileKey = relative(projects, path)
  let from = 0
  while (from < bytes.length) {
    let to = Math.min(bytes.length, from + CHUNK)
    if (to < bytes.length) {
      const nl = bytes.lastIndexOf(10, to - 1)
      to = nl >= from ? nl + 1 : to
    }
    const header: Sync.AppendHeader = {
      type: "append",
      seq: chunks.length,
      fileKey,
      generation: 0,
      identity: "1:1",
      fromOffset: from,
      toOffset: to,
    }
    const payload = bytes.subarray(from, to)
    const facts = factsOfLines(payload, isUtf8)
    chunks.push({ append: { header, payload, facts }, lines: facts.length })
    from = to
  }
}
console.error(
  `corpus ${corpus}: ${fmt(manifest.bytes / 1e6)} MB, ${chunks.length} chunks, facts in ${fmt((now() - t0) / 1000)} s`,
)

/**
 * Groups of whole chunks of at most `groupChunks` MiB, as the sync socket groups them for the engine (a
 * chunk alone may be the group), up to `maxBytes` in all.
 */
function groupsOf(maxBytes: number, groupChunks: number): { groups: Append[][]; bytes: number; lines: number } {
  const groups: Append[][] = []
  let group: Append[] = []
  let size = 0
  let bytes = 0
  let lines = 0
  for (const c of chunks) {
    if (bytes + c.append.payload.length > maxBytes) break
    if (size + c.append.payload.length > groupChunks * CHUNK && group.length > 0) {
      groups.push(group)
      group = []
      size = 0
    }
    group.push(c.append)
    size += c.append.payload.length
    bytes += c.append.payload.length
    lines += c.lines
  }
  if (group.length > 0) groups.push(group)
  return { groups, bytes, lines }
}

// ---- 10,000 one-turn sessions ---------------------------------------------------------------------
function sessionGroups(): Append[][] {
  const groups: Append[][] = []
  let group: Append[] = []
  const base = Date.UTC(2026, 0, 1)
  for (let s = 0; s < SESSIONS; s++) {
    const sessionId = crypto.randomUUID()
    const cwd = `/home/dev/work/proj-${String(s % 200).padStart(3, "0")}`
    const at = (k: number) => new Date(base + s * 600_000 + k * 2_000).toISOString()
    const userUuid = crypto.randomUUID()
    const common = { isSidechain: false, userType: "external", cwd, sessionId, version: "2.1.330", gitBranch: "main" }
    const lines = [
      {
        ...common,
        parentUuid: null,
        type: "user",
        uuid: userUuid,
        timestamp: at(0),
        message: { role: "user", content: `task ${s}: make the sync engine's tests pass` },
      },
      {
        ...common,
        parentUuid: userUuid,
        type: "assistant",
        uuid: crypto.randomUUID(),
        timestamp: at(1),
        requestId: `req_${s}`,
        message: {
          id: `msg_${s}`,
          role: "assistant",
          model: s % 3 === 0 ? "claude-sonnet-4-5" : "claude-opus-4-5",
          type: "message",
          content: [{ type: "text", text: `Done with task ${s}.` }],
          usage: {
            input_tokens: 1200,
            output_tokens: 300,
            cache_creation_input_tokens: 500,
            cache_read_input_tokens: 9000,
          },
        },
      },
    ]
    const payload = new TextEncoder().encode(lines.map((l) => `${JSON.stringify(l)}\n`).join(""))
    const fileKey = `${cwd.replace(/[^a-zA-Z0-9]/g, "-")}/${sessionId}.jsonl`
    group.push({
      header: {
        type: "append",
        seq: s,
        fileKey,
        generation: 0,
        identity: "1:1",
        fromOffset: 0,
        toOffset: payload.length,
      },
      payload,
      facts: factsOfLines(payload, isUtf8),
    })
    if (group.length === 500) {
      groups.push(group)
      group = []
    }
  }
  if (group.length > 0) groups.push(group)
  return groups
}

// ---- one engine -----------------------------------------------------------------------------------
interface EngineResult {
  engine: string
  ingest: {
    mb: number
    lines: number
    seconds: number
    mbPerS: number
    linesPerS: number
    clientCpuS: number
    requestsPerGroup?: number
  }
  sessions: { count: number; seedS: number }
  listP50: number
  listP99: number
  usage: Record<string, { p50: number; p95: number; p99: number }>
  /** The same reports, every row (no limit). */
  usageAll: Record<string, { p50: number; p95: number; p99: number }>
  feedPollP50: number
  feedPollP99: number
}

async function runEngine(
  name: string,
  engine: Engine,
  maxBytes: number,
  requests?: () => number | Promise<number>,
): Promise<EngineResult> {
  const userId = await engine.ensureUser("bench")
  const { machineId } = await engine.openMachine({ userId }, "bench-machine", "bench")
  const actor: MachineActor = { userId, machineId }
  const { groups, bytes, lines } = groupsOf(READS_ONLY ? 0 : maxBytes, engine.groupChunks ?? GROUP_CHUNKS)
  const r0 = (await requests?.()) ?? 0
  const cpu0 = process.cpuUsage()
  const i0 = now()
  for (const g of groups) {
    for (const out of await engine.append(actor, g)) {
      if (out._tag !== "Ack") throw new Error(`${name}: rejected ${out.cursor.fileKey} at ${out.cursor.offset}`)
    }
  }
  const seconds = (now() - i0) / 1000
  const cpu = process.cpuUsage(cpu0)
  // This process's CPU while storing: near `seconds` means the client side (statement building, hex
  // encoding, the driver) is the bottleneck; far below, the database is.
  const clientCpuS = (cpu.user + cpu.system) / 1e6
  const requestsPerGroup = requests ? ((await requests()) - r0) / groups.length : undefined
  console.error(
    `${name}: ingest ${fmt(bytes / 1e6)} MB, ${lines} lines in ${fmt(seconds, 2)} s -> ${fmt(bytes / 1e6 / seconds)} MB/s (client CPU ${fmt(clientCpuS, 2)} s)${requestsPerGroup ? `, ${fmt(requestsPerGroup)} requests per group` : ""}`,
  )

  if (ONLY) {
    await engine.close()
    return {
      engine: name,
      ingest: {
        mb: bytes / 1e6,
        lines,
        seconds,
        mbPerS: bytes / 1e6 / seconds,
        linesPerS: lines / seconds,
        clientCpuS,
      },
      sessions: { count: 0, seedS: 0 },
      listP50: Number.NaN,
      listP99: Number.NaN,
      usage: {},
      usageAll: {},
      feedPollP50: Number.NaN,
      feedPollP99: Number.NaN,
    }
  }
  // Another user's 10,000 sessions: the reads below see only those.
  const readerId = await engine.ensureUser("bench-reader")
  const reader = await engine.openMachine({ userId: readerId }, "reader-machine", "reader")
  const s0 = now()
  for (const g of sessionGroups()) await engine.append({ userId: readerId, machineId: reader.machineId }, g)
  const seedS = (now() - s0) / 1000
  const time = async (f: () => unknown) => {
    const xs: number[] = []
    for (let i = 0; i < READS; i++) {
      const t = now()
      await f()
      xs.push(now() - t)
    }
    return xs
  }
  const readerActor = { userId: readerId }
  const page = await engine.listSessions(readerActor, { limit: 100 })
  if (page.sessions.length !== 100) throw new Error(`${name}: the list has ${page.sessions.length} sessions`)
  const list = await time(() => engine.listSessions(readerActor, { limit: 100 }))
  const usage: EngineResult["usage"] = {}
  const usageAll: EngineResult["usage"] = {}
  for (const groupBy of ["day", "model", "project", "session"] as const) {
    // As the dashboard asks (`USAGE_PAGE_ROWS`): the first 200 rows, totals over all; interleaved with
    // the whole report (every row, as the CSV export asks), so both see the same load.
    const xs: number[] = []
    const all: number[] = []
    for (let i = 0; i < READS; i++) {
      let t = now()
      await engine.usage(readerActor, { groupBy, limit: USAGE_ROWS })
      xs.push(now() - t)
      t = now()
      await engine.usage(readerActor, { groupBy })
      all.push(now() - t)
    }
    usage[groupBy] = { p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99) }
    usageAll[groupBy] = { p50: pct(all, 50), p95: pct(all, 95), p99: pct(all, 99) }
  }
  const head = await engine.feedPosition()
  const feed = await time(() => engine.feedAfter(head, 20_000))
  const result: EngineResult = {
    engine: name,
    ingest: {
      mb: bytes / 1e6,
      lines,
      seconds,
      mbPerS: bytes / 1e6 / seconds,
      linesPerS: lines / seconds,
      clientCpuS,
      ...(requestsPerGroup !== undefined ? { requestsPerGroup } : {}),
    },
    sessions: { count: SESSIONS, seedS },
    listP50: pct(list, 50),
    listP99: pct(list, 99),
    usage,
    usageAll,
    feedPollP50: pct(feed, 50),
    feedPollP99: pct(feed, 99),
  }
  console.error(
    `${name}: ${SESSIONS} sessions seeded in ${fmt(seedS)} s; list p50 ${fmt(result.listP50)} ms; usage p50 ${Object.entries(
      usage,
    )
      .map(([k, v]) => `${k} ${fmt(v.p50)}/${fmt(v.p95)}`)
      .join(", ")} ms (p50/p95); empty feed poll p50 ${fmt(result.feedPollP50, 2)} ms`,
  )
  await engine.close()
  return result
}

// ---- where a network engine's ingest time goes ------------------------------------------------------
/** Time per kind of statement (its first words), with `--profile-statements`. */
const statementTime = new Map<string, { n: number; ms: number }>()
function timed(client: MysqlClient): MysqlClient {
  const time = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    const kind = sql.trim().split(/\s+/).slice(0, 3).join(" ").replace(/\(.*$/, "")
    const t = now()
    try {
      return await run()
    } finally {
      const e = statementTime.get(kind) ?? { n: 0, ms: 0 }
      e.n += 1
      e.ms += now() - t
      statementTime.set(kind, e)
    }
  }
  const wrap = (q: MysqlQueryable): MysqlQueryable => ({
    query: (sql, params) => time(sql, () => q.query(sql, params)),
    ...(q.execute ? { execute: (sql, params) => time(`${sql} (prepared)`, () => q.execute!(sql, params)) } : {}),
  })
  return {
    connector: client.connector,
    maxStatementBytes: client.maxStatementBytes,
    ...wrap(client),
    transaction: (fn) => client.transaction((tx) => fn(wrap(tx))),
    close: () => client.close(),
  }
}
const PROFILE = args.includes("--profile-statements")
const printStatementTime = (name: string) => {
  if (!PROFILE) return
  const rows = [...statementTime].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)
  console.error(`${name}: time per statement kind (ms total, count):`)
  for (const [kind, e] of rows) console.error(`  ${fmt(e.ms, 0).padStart(7)} ms ${String(e.n).padStart(6)}x  ${kind}`)
  statementTime.clear()
}

// ---- run ------------------------------------------------------------------------------------------
const runDir = join(ARTIFACTS, "runs", `engines-${process.pid}`)
mkdirSync(runDir, { recursive: true })
const results: EngineResult[] = []
const maria = await startMariaDb({ dir: join(runDir, "mariadb") })
if (BIG_POOL) {
  const admin = connectMysql2({ url: maria.url("mysql"), connectionLimit: 1 })
  await admin.query("SET GLOBAL innodb_buffer_pool_size = 1073741824")
  await admin.query("SET GLOBAL innodb_log_file_size = 536870912")
  await admin.close()
}
/** mariadbd's CPU so far (utime + stime), from /proc. */
const mariadbCpuS = (): number => {
  const pid = Number(readFileSync(join(maria.dir, "pid"), "utf8").trim())
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}
/** What `line_chunks` holds after an ingest (`--line-bytes`). */
async function printLineBytes(name: string, url: string, mariadbCpu: number): Promise<void> {
  const client = connectMysql2({ url, connectionLimit: 1 })
  try {
    await client.query("ANALYZE TABLE line_chunks")
    // Code from before the codec column (a worktree at an older commit) stores every row raw.
    const hasCodec = (
      await client.query<{ n: number }>(
        `SELECT count(*) AS n FROM information_schema.columns
         WHERE table_schema = database() AND table_name = 'line_chunks' AND column_name = 'codec'`,
      )
    ).rows[0]?.n
    const { rows } = await client.query<{ codec: number; n: number; bytes: number }>(
      `SELECT ${hasCodec ? "codec" : "0"} AS codec, count(*) AS n, sum(length(bytes)) AS bytes FROM line_chunks
       GROUP BY 1 ORDER BY 1`,
    )
    const [size] = (
      await client.query<{ data: number; index: number }>(
        `SELECT data_length AS data, index_length AS \`index\` FROM information_schema.tables
         WHERE table_schema = database() AND table_name = 'line_chunks'`,
      )
    ).rows
    const perCodec = rows.map((r) => `codec ${r.codec}: ${r.n} rows, ${fmt(r.bytes / 1e6)} MB`).join("; ")
    console.error(
      `${name}: line_chunks ${perCodec}; data_length ${fmt((size?.data ?? 0) / 1e6)} MB; mariadbd CPU ${fmt(mariadbCpu, 2)} s`,
    )
  } finally {
    await client.close()
  }
}
/** The client without prepared statements: every BLOB as hex inside the SQL text (`--mysql2-blobs text`). */
const textOnly = (client: MysqlClient): MysqlClient => ({
  connector: client.connector,
  maxStatementBytes: client.maxStatementBytes,
  query: client.query,
  transaction: (fn) => client.transaction((tx) => fn({ query: tx.query })),
  close: () => client.close(),
})
try {
  for (let rep = 0; rep < REPEAT; rep++) {
    if (ENGINES.includes("sqlite")) {
      results.push(
        await runEngine(
          "sqlite",
          new SqliteEngine({ path: join(runDir, `overlord-${rep}.db`) }),
          Number.POSITIVE_INFINITY,
        ),
      )
    }
    // Interleaved, on the same server: how mysql2 sends BLOBs (prepared: as bytes; text: as hex in the SQL).
    for (const blobs of ENGINES.includes("mariadb") ? MYSQL2_BLOBS : []) {
      const mysqlUrl = maria.url(await maria.createDatabase(`bench_mysql_${rep}_${blobs}`))
      const client = connectMysql2({ url: mysqlUrl })
      const variant = blobs === "text" ? textOnly(client) : client
      const name = `mariadb (mysql2${MYSQL2_BLOBS.length > 1 ? `, ${blobs} blobs` : ""})`
      const mariadbCpu0 = LINE_BYTES ? mariadbCpuS() : 0
      results.push(
        await runEngine(name, await MysqlEngine.open(PROFILE ? timed(variant) : variant), Number.POSITIVE_INFINITY),
      )
      if (LINE_BYTES) await printLineBytes(name, mysqlUrl, mariadbCpuS() - mariadbCpu0)
      printStatementTime(name)
    }
    if (!ENGINES.includes("planetscale")) continue
    for (const where of BRIDGE_IN) {
      const options = {
        mariadb: { host: maria.host, port: maria.port, user: maria.user, password: maria.password },
        database: await maria.createDatabase(`bench_planetscale_${rep}_${where.replace("-", "_")}`),
        latencyMs: LATENCY_MS,
      }
      const bridge =
        where === "in-process" ? await startPlanetScaleBridge(options) : await startPlanetScaleBridgeProcess(options)
      const name = `planetscale (bridge${BRIDGE_IN.length > 1 ? ` ${where}` : ""}, ${LATENCY_MS} ms)`
      try {
        results.push(
          await runEngine(
            name,
            await MysqlEngine.open(
              PROFILE ? timed(connectPlanetscale({ url: bridge.url })) : connectPlanetscale({ url: bridge.url }),
            ),
            PS_MB * 1e6,
            bridge.requestCount,
          ),
        )
        printStatementTime(name)
      } finally {
        await bridge.stop()
      }
    }
  }
} finally {
  await maria.destroy()
  rmSync(runDir, { recursive: true, force: true })
}

const row = (r: EngineResult) =>
  `| ${r.engine} | ${fmt(r.ingest.mb)} | ${fmt(r.ingest.mbPerS)} | ${fmt(r.ingest.linesPerS, 0)} | ${r.ingest.requestsPerGroup === undefined ? "" : fmt(r.ingest.requestsPerGroup)} | ${fmt(r.listP50)} / ${fmt(r.listP99)} | ${["day", "model", "project", "session"].map((k) => fmt(r.usage[k]?.p50 ?? Number.NaN)).join(" / ")} | ${["day", "model", "project", "session"].map((k) => fmt(r.usageAll[k]?.p50 ?? Number.NaN)).join(" / ")} | ${fmt(r.feedPollP50, 2)} |`
console.error(
  [
    "",
    `| engine | ingest MB | MB/s | lines/s | requests/group | session list p50/p99 ms | usage p50 ms, first ${USAGE_ROWS} rows (day/model/project/session) | usage p50 ms, every row | empty feed poll p50 ms |`,
    "|---|---|---|---|---|---|---|---|---|",
    ...results.map(row),
    "",
  ].join("\n"),
)
const record = { bench: "engines", at: new Date().toISOString(), corpus: manifest, sessions: SESSIONS, results }
if (existsSync(ARTIFACTS)) appendFileSync(join(ARTIFACTS, "results.jsonl"), `${JSON.stringify(record)}\n`)
console.log(JSON.stringify(record))
