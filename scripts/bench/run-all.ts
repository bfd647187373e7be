/**
 * Runs every benchmark in sequence (each in its own bun process) and prints one markdown table.
 *
 *   bun scripts/bench/run-all.ts [--skip-corpus] [--idle-s 60] [--n 300] [--no-dashboard] [--engines]
 *
 * Generates the corpora if missing (the ~300 MB / 2,480-file history backfill corpus, the live corpus, the 5,000-file idle corpus),
 * then backfill.ts, live-latency.ts, idle.ts, and (unless --no-dashboard) dashboard-live.ts and
 * dashboard-first-screen.ts (Chromium). Raw results: `.artifacts/bench/results.jsonl` (appended) and
 * `.artifacts/bench/last-run.md` (the table printed here).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { argValue } from "./corpus.ts"
import { ARTIFACTS, fmt, REPO } from "./lib.ts"

const args = process.argv.slice(2)
const idleS = argValue(args, "--idle-s", 60)
const n = argValue(args, "--n", 300)
const loads: string[] = []
const bench = (script: string, extra: string[] = [], timeoutS = 1800): unknown => {
  // Other work on the machine skews every number here (2 cores): note the load average at each start.
  const load = require("node:os").loadavg()[0].toFixed(2)
  loads.push(`${script} ${load}`)
  console.error(`\n== ${script} ${extra.join(" ")} (1-min load average ${load})`)
  const r = spawnSync("bun", [join(REPO, "scripts/bench", script), ...extra], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    timeout: timeoutS * 1000,
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`${script} failed (status ${r.status}, signal ${r.signal})`)
  return JSON.parse(r.stdout)
}

// backfill.ts's default: a real history's file-size mix (corpus.ts --shape history); engines.ts reads it too.
const corpus = join(ARTIFACTS, "corpus-history")
if (!existsSync(join(corpus, "manifest.json"))) bench("corpus.ts", [corpus], 600)
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const b = bench("backfill.ts", [corpus], 1800) as any
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const l = bench("live-latency.ts", ["--n", String(n)], 600) as any
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const i = bench("idle.ts", ["--idle-s", String(idleS)], 900) as any
const withDashboard = !args.includes("--no-dashboard")
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const dl = withDashboard ? (bench("dashboard-live.ts", ["--n", "200", "--runs", "3"], 600) as any) : null
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const df = withDashboard ? (bench("dashboard-first-screen.ts", ["--loads", "5"], 1200) as any) : null

const bun = spawnSync("bun", ["--version"], { encoding: "utf8" }).stdout.trim()
const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?"
const memGb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024 / 1024
const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim()
const dirty =
  spawnSync("git", ["status", "--porcelain", "--", "apps", "packages"], {
    cwd: REPO,
    encoding: "utf8",
  }).stdout.trim() !== ""
const o = b.overlord
const c = b.ccusage
const md = `Machine: ${cpu}, ${require("node:os").cpus().length} cores, ${fmt(memGb, 0)} GB RAM, Bun ${bun}, ${new Date().toISOString()}; code ${head}${dirty ? " + uncommitted changes in apps/packages" : ""}; 1-min load average at each start: ${loads.join(", ")}

### Backfill: ${fmt(b.corpus.bytes / 1e6)} MB, ${b.corpus.files} files, ${b.corpus.lines} lines, ${b.corpus.sessions} sessions, ${b.corpus.projects} projects

| tool | what it does | wall (s) | MB/s | lines/s | CPU (s) | peak RSS (MB) | target |
|---|---|---:|---:|---:|---:|---:|---|
| Overlord (\`start --foreground\`) | reads, parses, stores in SQLite (all lines queryable via the API) | ${fmt(o.storedS, 2)} | ${fmt(o.mbPerS)} | ${fmt(o.linesPerS, 0)} | ${fmt(o.cpuS, 2)} | ${fmt(o.peakRssMb)} | ≥ 100 MB/s ${o.mbPerS >= 100 ? "✅" : "❌"} |
| Overlord, daemon reports bytesPending = 0 | state file, written every 1 s | ${fmt(o.ackedS, 2)} | ${fmt(b.corpus.bytes / 1e6 / o.ackedS)} | | | | |
| Overlord, search index caught up | + FTS index | ${fmt(o.searchableS, 2)} | ${fmt(o.mbPerSSearchable)} | | ${fmt(o.cpuSSearchable, 2)} | | |
| ccusage 20 \`session --json --offline\` | scans and sums; stores nothing | ${fmt(c.wallS, 2)} | ${fmt(c.mbPerS)} | ${fmt(c.linesPerS, 0)} | ${fmt(c.cpuS, 2)} | ${fmt(c.peakRssMb)} | (reference) |

Checks: API sessions ${o.apiSessions}/${b.corpus.sessions}, entries (all files) ${o.apiEntries}/${b.corpus.lines} → ${o.sessionsMatch && o.entriesMatch ? "match" : "MISMATCH"}; usage tokens Overlord ${o.usageTokens} vs ccusage ${c.tokens} → ${o.usageTokens === c.tokens ? "equal" : "DIFFERENT"}; database ${fmt(o.dbMb)} MB; Overlord wrote ${fmt(o.diskWriteMb, 0)} MB to disk (/proc/pid/io) and was off-CPU ${fmt(o.offCpuS, 1)} s of ${fmt(o.storedS, 1)} s.

### Live latency (append → stored), ${l.n} lines, gaps ${l.gapMs} ms; ${l.method}

| p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | target |
|---:|---:|---:|---:|---|
| ${fmt(l.p50Ms)} | ${fmt(l.p95Ms)} | ${fmt(l.p99Ms)} | ${fmt(l.maxMs)} | p99 ≤ 50 ms ${l.p99Ms <= 50 ? "✅" : "❌"} |

### Idle: ${i.files} files in ${i.projects} folders (${fmt(i.corpusMb)} MB), synced in ${fmt(i.syncS)} s, then ${fmt(i.idleWindowS, 0)} s idle

| RSS start → end (MB) | RSS max (MB) | anon / file-backed at end (MB) | CPU (% of one core) | target |
|---|---:|---|---:|---|
| ${fmt(i.rssStartMb)} → ${fmt(i.rssEndMb)} | ${fmt(i.rssMaxMb)} | ${fmt(i.rssAnonEndMb)} / ${fmt(i.rssFileEndMb)} | ${fmt(i.cpuPct, 2)} | ≤ 100 MB ${i.rssMaxMb <= 100 ? "✅" : "❌"}, ~0 % CPU |
`
const dashMd =
  dl && df
    ? `
### Dashboard live (append → entry in the page's DOM, Chromium), ${dl.pooled.n} lines over ${dl.runs} runs, gaps ${dl.gapMs} ms

| p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | append → stored p50 / p99 | append → WebSocket p50 / p99 | target |
|---:|---:|---:|---:|---|---|---|
| ${fmt(dl.pooled.p50Ms)} | ${fmt(dl.pooled.p95Ms)} | ${fmt(dl.pooled.p99Ms)} | ${fmt(dl.pooled.maxMs)} | ${fmt(dl.pooled.storedP50Ms)} / ${fmt(dl.pooled.storedP99Ms)} | ${fmt(dl.pooled.wsP50Ms)} / ${fmt(dl.pooled.wsP99Ms)} | p99 ≤ 100 ms ${dl.pooled.p99Ms <= 100 ? "✅" : "❌"} |

### Dashboard first screen (medians of ${df.session.cold.n} loads; ms from navigation start)

| view | load | first visible | tail entry visible | key API response (tail page / first list page) | render after it | script (ms) |
|---|---|---:|---:|---:|---:|---:|
| session, ${df.data.entries} entries | cold | ${fmt(df.session.cold.firstMs, 0)} | ${fmt(df.session.cold.tailMs, 0)} | ${fmt(df.session.cold.keyApiEndMs, 0)} | ${fmt(df.session.cold.afterKeyApiMs, 0)} | ${fmt(df.session.cold.scriptMs, 0)} |
| session, ${df.data.entries} entries | warm | ${fmt(df.session.warm.firstMs, 0)} | ${fmt(df.session.warm.tailMs, 0)} | ${fmt(df.session.warm.keyApiEndMs, 0)} | ${fmt(df.session.warm.afterKeyApiMs, 0)} | ${fmt(df.session.warm.scriptMs, 0)} |
| list, ${df.data.sessions} sessions | cold | ${fmt(df.list.cold.firstMs, 0)} | | ${fmt(df.list.cold.keyApiEndMs, 0)} | ${fmt(df.list.cold.afterKeyApiMs, 0)} | ${fmt(df.list.cold.scriptMs, 0)} |
| list, ${df.data.sessions} sessions | warm | ${fmt(df.list.warm.firstMs, 0)} | | ${fmt(df.list.warm.keyApiEndMs, 0)} | ${fmt(df.list.warm.afterKeyApiMs, 0)} | ${fmt(df.list.warm.scriptMs, 0)} |

Server RSS before the views ${fmt(df.serverMemory.rssBeforeViewsMb)} MB, peak while serving ${fmt(df.serverMemory.peakRssWhileServingMb)} MB, VmHWM ${fmt(df.serverMemory.vmHwmAfterViewsMb)} MB (${fmt(df.serverMemory.vmHwmAfterSyncMb)} MB after the sync).
`
    : ""
interface EngineRow {
  engine: string
  ingest: { mb: number; mbPerS: number; linesPerS: number; requestsPerGroup?: number }
  listP50: number
  listP99: number
  usage: Record<string, { p50: number }>
  feedPollP50: number
}
// `--engines`: the three engines side by side (engines.ts: SQLite, MariaDB, PlanetScale through the bridge).
// biome-ignore lint/suspicious/noExplicitAny: raw JSON results
const en = args.includes("--engines") ? (bench("engines.ts", [corpus, "--ps-mb", "40"], 1800) as any) : null
const enginesMd = en
  ? `
### Engines (\`engines.ts\`): ingest with facts given, 4 MiB groups; reads over ${en.sessions} sessions

| engine | ingest MB | MB/s | lines/s | requests/group | session list p50 / p99 (ms) | usage p50 day / model / project / session (ms) | empty feed poll p50 (ms) |
|---|---:|---:|---:|---:|---|---|---:|
${(en.results as EngineRow[])
  .map(
    (r) =>
      `| ${r.engine} | ${fmt(r.ingest.mb)} | ${fmt(r.ingest.mbPerS)} | ${fmt(r.ingest.linesPerS, 0)} | ${r.ingest.requestsPerGroup === undefined ? "" : fmt(r.ingest.requestsPerGroup)} | ${fmt(r.listP50)} / ${fmt(r.listP99)} | ${["day", "model", "project", "session"].map((k) => fmt(r.usage[k]?.p50 ?? Number.NaN)).join(" / ")} | ${fmt(r.feedPollP50, 2)} |`,
  )
  .join("\n")}
`
  : ""
writeFileSync(join(ARTIFACTS, "last-run.md"), md + dashMd + enginesMd)
console.log(md + dashMd + enginesMd)
