/**
 * Idle cost: 5,000 small session files in 200 project folders, daemon fully synced, then idle.
 *
 *   bun scripts/bench/idle.ts [--idle-s 60] [--keep]
 *
 * After the sync (every file stored at full size in the server's SQLite and the daemon's state file showing
 * bytesPending == 0) and a 5 s settle, /proc/<pid> is sampled every second for the idle window: RSS (VmRSS)
 * and CPU = Δ(utime + stime) / wall, as % of one core. The process is the daemon + embedded server.
 */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { argValue, generate, readManifest } from "./corpus.ts"
import {
  ARTIFACTS,
  daemonState,
  fmt,
  freshDir,
  now,
  openDbReadOnly,
  portFree,
  procSampler,
  readProc,
  record,
  sleep,
  startDaemon,
  threadCpu,
  waitFor,
  waitForStored,
} from "./lib.ts"

const args = process.argv.slice(2)
const idleS = argValue(args, "--idle-s", 60)
const corpus = join(ARTIFACTS, "corpus-idle")
const manifest =
  readManifest(corpus) ??
  (await generate(corpus, {
    // 5,000 seed sessions as recorded (lines > 4 KB dropped), as in every earlier idle figure.
    shape: "large-files",
    seed: 5,
    big: 0,
    medium: 0,
    small: 5000,
    projects: 200,
    images: 0,
    tiny: true,
    maxFiles: 5000,
  }))
console.error(`idle corpus: ${manifest.files} files in ${manifest.projects} folders, ${fmt(manifest.bytes / 1e6)} MB`)

const home = freshDir("idle")
const daemon = startDaemon({ home, claudeDir: corpus, port: portFree() })
const sampler = procSampler(daemon.pid, 500)
let result: Record<string, unknown> = {}
try {
  const db = await waitFor("the database", () => openDbReadOnly(home), 30_000, 20)
  await waitForStored(db, manifest, { daemon, timeoutMs: 600_000, everyMs: 100 })
  const syncS = (now() - daemon.startedAt) / 1000
  db.close()
  await waitFor(
    "daemon state synced",
    () => {
      const s = daemonState(home)
      return s?.bytesPending === 0 && s.filesTracked === manifest.files
    },
    60_000,
    100,
  )
  const peakDuringSyncMb = sampler.peakRssKb() / 1024
  sampler.stop()
  await sleep(5000) // settle: the search indexer's last batches, GC
  const threads0 = threadCpu(daemon.pid)
  const samples = [readProc(daemon.pid)!]
  for (let i = 0; i < idleS; i++) {
    await sleep(1000)
    const s = readProc(daemon.pid)
    if (!s) throw new Error("daemon died during the idle window")
    samples.push(s)
  }
  const first = samples[0]!
  const last = samples[samples.length - 1]!
  const wall = (last.t - first.t) / 1000
  const rss = samples.map((s) => s.rssKb / 1024)
  result = {
    files: manifest.files,
    projects: manifest.projects,
    corpusMb: manifest.bytes / 1e6,
    syncS,
    peakRssDuringSyncMb: peakDuringSyncMb,
    idleWindowS: wall,
    rssStartMb: rss[0],
    rssEndMb: rss[rss.length - 1],
    rssMaxMb: Math.max(...rss),
    rssAnonEndMb: last.anonKb / 1024,
    rssFileEndMb: last.fileKb / 1024,
    cpuPct: (100 * (last.cpuS - first.cpuS)) / wall,
    cpuSecondsInWindow: last.cpuS - first.cpuS,
    // Which thread spends the idle CPU: the daemon's ("bun"), the server's ("Worker 1"), ...
    cpuSecondsByThread: JSON.stringify(
      Object.fromEntries(
        Object.entries(threadCpu(daemon.pid))
          .map(([k, v]) => [k, Math.round((v - (threads0[k] ?? 0)) * 100) / 100])
          .filter(([, v]) => (v as number) > 0),
      ),
    ),
  }
} finally {
  sampler.stop()
  await daemon.stop()
  if (!args.includes("--keep")) rmSync(home, { recursive: true, force: true })
}
console.error(
  `idle: RSS ${fmt(result.rssStartMb as number)} → ${fmt(result.rssEndMb as number)} MB (max ${fmt(result.rssMaxMb as number)}), CPU ${fmt(result.cpuPct as number, 2)} % over ${fmt(result.idleWindowS as number, 0)} s`,
)
record("idle", result)
console.log(JSON.stringify(result, null, 2))
