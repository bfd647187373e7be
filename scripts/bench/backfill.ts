/**
 * Backfill throughput to "stored and queryable", with ccusage on the same corpus side by side.
 *
 *   bun scripts/bench/backfill.ts [corpusDir] [--shape history|large-files] [--timeout-s 900] [--cpu-prof]
 *                                 [--no-ccusage] [--keep] [--trace]
 *
 * Without a corpus dir: `.artifacts/bench/corpus-history` (the default shape, a real history's file-size mix:
 * ~2,450 files, ~120 KB on average, see corpus.ts) or, with `--shape large-files`, `.artifacts/bench/corpus`
 * (532.6 MB in 260 files, the corpus of the first six sessions' figures), generated when missing.
 *
 * Overlord: `overlord start --foreground` (daemon + embedded server, one bun process) with a fresh home on
 * the corpus. "Stored" = the server's SQLite shows every corpus file at its full size (polled read-only every
 * 50 ms: files.offset only advances in the same transaction that stores the lines); "acknowledged" = the
 * daemon's state file says bytesPending == 0 for every file (written once a second, so up to 1 s late);
 * "searchable" = the background FTS indexer has caught up. Then the API is checked against the manifest.
 * ccusage: `ccusage session --json --offline` with CLAUDE_CONFIG_DIR = corpus: it scans, it stores nothing.
 * Both read a warm page cache (the corpus is read once before either runs).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { analyzeWholeLine } from "../../packages/transcript/src/line-facts.ts"
import { splitPieces } from "../../packages/transcript/src/lines.ts"
import { generate, readManifest, shapeOptions } from "./corpus.ts"
import {
  ARTIFACTS,
  api,
  apiSessionTotals,
  daemonState,
  fmt,
  freshDir,
  machineTicks,
  mb,
  now,
  openDbReadOnly,
  portFree,
  procSampler,
  REPO,
  record,
  sleep,
  startDaemon,
  threadCpu,
  waitFor,
} from "./lib.ts"

const args = process.argv.slice(2)
const shape = shapeOptions(args)
const corpus =
  args[0] && !args[0].startsWith("--")
    ? args[0]
    : join(ARTIFACTS, shape.shape === "large-files" ? "corpus" : `corpus-${shape.shape}`)
const timeoutMs = Number(args[args.indexOf("--timeout-s") + 1] || 900) * 1000 || 900_000
const cpuProf = args.includes("--cpu-prof")
/** `--trace`: progress every 250 ms instead of 5 s (where a backfill waits shows as a flat stretch). */
const trace = args.includes("--trace")

let manifest = readManifest(corpus)
if (!manifest) {
  console.error(`no corpus at ${corpus}: generating one of shape ${shape.shape}`)
  manifest = await generate(corpus, shape)
}
console.error(
  `corpus ${corpus} (${manifest.shape ?? "large-files"}): ${fmt(mb(manifest.bytes))} MB, ${manifest.files} files, ${manifest.lines} lines, ${manifest.sessions} sessions`,
)

// Warm the page cache so neither tool pays for the first cold read.
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".jsonl") ? [join(dir, e.name)] : [],
  )
}
const corpusFiles = walk(join(corpus, "projects")).sort()
for (const f of corpusFiles) readFileSync(f)

/**
 * How fast this machine is right now: one thread computing the facts of the corpus's first 64 MB
 * by the whole parse (pure JavaScript, a fixed workload: `analyzeLine`'s faster path would make
 * the number move with the code), timed on its second pass so the JIT is warm. On this
 * VM the same code's backfill varies by a third with its neighbours, and steal time does not show
 * it; this number does, so runs can be compared.
 */
function calibrate(): number {
  const t = now()
  let bytes = 0
  for (const f of corpusFiles) {
    const buf = readFileSync(f)
    for (const piece of splitPieces(buf, 0)) if (piece.terminated) analyzeWholeLine(piece.bytes)
    bytes += buf.length
    if (bytes >= 64 * 1024 * 1024) break
  }
  return (now() - t) / 1000
}
calibrate()
const calibrationS = calibrate()

// ---- Overlord ------------------------------------------------------------------------------------
const home = freshDir("backfill")
const profDir = join(home, "cpu-prof")
const daemon = startDaemon({
  home,
  claudeDir: corpus,
  port: portFree(),
  extraArgs: cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
})
const sampler = procSampler(daemon.pid, 100)
const ticks0 = machineTicks()
const t0 = daemon.startedAt
let overlord: Record<string, number | string | boolean> = {}
try {
  const db = await waitFor("the database", () => openDbReadOnly(home), 30_000, 20)
  const tDb = now()
  const filesQ = db.query("SELECT count(*) AS n, coalesce(sum(offset), 0) AS b FROM files")
  let lastLog = now()
  const stored = await waitFor(
    "every file stored",
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited ${daemon.child.exitCode}:\n${daemon.output()}`)
      const r = filesQ.get() as { n: number; b: number }
      if (now() - lastLog > (trace ? 250 : 5000)) {
        lastLog = now()
        console.error(
          `  ${((now() - t0) / 1000).toFixed(trace ? 2 : 0)} s: ${r.n}/${manifest!.files} files, ${fmt(mb(r.b))}/${fmt(mb(manifest!.bytes))} MB`,
        )
      }
      if (r.n === manifest!.files && r.b === manifest!.bytes) {
        const s = sampler.sample()
        const ticks = machineTicks()
        return {
          t: now(),
          cpu: s?.cpuS ?? 0,
          writeBytes: s?.ioWriteBytes ?? 0,
          threads: threadCpu(daemon.pid),
          stealPct: (100 * (ticks.steal - ticks0.steal)) / Math.max(1, ticks.total - ticks0.total),
        }
      }
      return null
    },
    timeoutMs,
    50,
  )
  const storedS = (stored.t - t0) / 1000
  const acked = await waitFor(
    "daemon state bytesPending == 0",
    () => {
      const s = daemonState(home)
      return s?.connected && s.bytesPending === 0 && s.filesTracked === manifest!.files ? now() : null
    },
    60_000,
    50,
  )
  const searchable = await waitFor(
    "search index caught up",
    () => {
      const c = db.query("SELECT CAST(value AS INTEGER) AS c FROM meta WHERE key = 'search_cursor'").get() as {
        c: number
      }
      const m = db.query("SELECT coalesce(max(seq), 0) AS m FROM entries").get() as { m: number }
      return c.c >= m.m ? { t: now(), cpu: sampler.sample()?.cpuS ?? 0 } : null
    },
    timeoutMs,
    100,
  )
  const rows = db.query("SELECT count(*) AS n FROM entries WHERE superseded = 0").get() as { n: number }
  const totals = await apiSessionTotals(home)
  const usage = await api<{ rows: { input: number; output: number; cacheWrite: number; cacheRead: number }[] }>(
    home,
    "/usage?groupBy=model",
  )
  const usageTokens = (usage.rows ?? []).reduce((a, r) => a + r.input + r.output + r.cacheWrite + r.cacheRead, 0)
  const dbBytes = ["", "-wal"].reduce(
    (a, s) =>
      a +
      (existsSync(join(home, "data", `overlord.db${s}`)) ? Bun.file(join(home, "data", `overlord.db${s}`)).size : 0),
    0,
  )
  const peak = sampler.peakRssKb()
  overlord = {
    storedS,
    startupToDbS: (tDb - t0) / 1000,
    ackedS: (acked - t0) / 1000,
    searchableS: (searchable.t - t0) / 1000,
    mbPerS: mb(manifest.bytes) / storedS,
    linesPerS: manifest.lines / storedS,
    mbPerSSearchable: mb(manifest.bytes) / ((searchable.t - t0) / 1000),
    cpuS: stored.cpu,
    // Which thread is the bottleneck: the daemon's ("bun"), the server's ("Worker 1"), the checkpointer's.
    cpuByThread: JSON.stringify(stored.threads),
    stealPct: stored.stealPct,
    calibrationS,
    diskWriteMb: stored.writeBytes / 1e6,
    cpuSSearchable: searchable.cpu,
    peakRssMb: peak / 1024,
    entriesInDb: rows.n,
    apiSessions: totals.sessions,
    apiEntries: totals.entries,
    sessionsMatch: totals.sessions === manifest.sessions,
    apiMainEntries: totals.mainEntries,
    entriesMatch: rows.n === manifest.lines && totals.entries === manifest.lines,
    usageTokens,
    dbMb: dbBytes / 1e6,
  }
  db.close()
} finally {
  sampler.stop()
  await daemon.stop()
}
console.error("overlord:", JSON.stringify(overlord))
if (cpuProf) {
  // Keep the profile next to the results; the run's home (with a 600 MB database) is deleted below.
  const dest = join(ARTIFACTS, "profiles")
  mkdirSync(dest, { recursive: true })
  for (const f of existsSync(profDir) ? readdirSync(profDir) : [])
    renameSync(join(profDir, f), join(dest, `backfill-${f}`))
  console.error(`cpu profile(s) in ${dest}; summarise with: bun scripts/bench/prof-summary.ts <file>`)
}

// ---- ccusage --------------------------------------------------------------------------------------
/**
 * ccusage 20.x's `src/cli.js` execs a native binary from an optional package that the install lacks, and
 * `@ccusage/ccusage-linux-x64@20.0.26` is not published: fetch the newest published one (20.0.24) once with
 * `npm pack` into `.artifacts/bench/ccusage/node_modules`, which the wrapper finds through NODE_PATH.
 */
function ensureCcusageNative(): string {
  const modules = join(ARTIFACTS, "ccusage/node_modules")
  const dest = join(modules, "@ccusage/ccusage-linux-x64")
  if (existsSync(join(dest, "bin/ccusage"))) return modules
  const dir = join(ARTIFACTS, "ccusage")
  mkdirSync(dest, { recursive: true })
  for (const version of ["20.0.26", "20.0.24"]) {
    const pack = Bun.spawnSync(["npm", "pack", `@ccusage/ccusage-linux-x64@${version}`], { cwd: dir, stderr: "pipe" })
    const tgz = pack.stdout.toString().trim().split("\n").pop()
    if (pack.exitCode !== 0 || !tgz) continue
    Bun.spawnSync(["tar", "xzf", join(dir, tgz), "-C", dest, "--strip-components=1"])
    console.error(`ccusage: using native binary @ccusage/ccusage-linux-x64@${version}`)
    return modules
  }
  throw new Error("could not fetch @ccusage/ccusage-linux-x64 with npm pack")
}

// ccusage 20.x is a thin node wrapper (src/cli.js) that execs a native binary from an optional package.
let ccusage: Record<string, number | string | boolean> = {}
if (!args.includes("--no-ccusage")) {
  const pkg = join(REPO, "node_modules/.pnpm/ccusage@20.0.26/node_modules/ccusage")
  const nativeModules = ensureCcusageNative()
  const cmd = ["node", join(pkg, "src/cli.js"), "session", "--json", "--offline"]
  const t1 = now()
  const proc = Bun.spawn(cmd, {
    cwd: REPO,
    env: { ...process.env, CLAUDE_CONFIG_DIR: corpus, NODE_PATH: nativeModules },
    stdout: "pipe",
    stderr: "pipe",
  })
  const out = await new Response(proc.stdout).text()
  const err = await new Response(proc.stderr).text()
  await proc.exited
  const wall = (now() - t1) / 1000
  const ru = proc.resourceUsage()
  let sessions = -1
  let tokens = -1
  try {
    const j = JSON.parse(out) as { session: { totalTokens: number }[] }
    sessions = j.session.length
    tokens = j.session.reduce((a, s) => a + s.totalTokens, 0)
  } catch {
    console.error(`ccusage failed (exit ${proc.exitCode}): ${err.slice(0, 500)}`)
  }
  ccusage = {
    command: `CLAUDE_CONFIG_DIR=<corpus> NODE_PATH=.artifacts/bench/ccusage/node_modules ${cmd.map((c) => c.replace(REPO, ".")).join(" ")}`,
    exitCode: proc.exitCode ?? -1,
    wallS: wall,
    mbPerS: mb(manifest.bytes) / wall,
    linesPerS: manifest.lines / wall,
    // wait4 rusage: the node wrapper and the native child it waited for.
    cpuS: ru ? Number(ru.cpuTime.total) / 1e6 : -1,
    peakRssMb: ru ? ru.maxRSS / 1024 / 1024 : -1, // maxRSS is in bytes,
    sessions,
    tokens,
  }
  console.error("ccusage:", JSON.stringify(ccusage))
}

if (!args.includes("--keep")) rmSync(home, { recursive: true, force: true })
else console.error(`kept the run's home (database, logs) at ${home}`)

const result = { corpus: { dir: corpus, ...manifest }, overlord, ccusage }
record("backfill", result)
console.log(JSON.stringify(result, null, 2))
void sleep
