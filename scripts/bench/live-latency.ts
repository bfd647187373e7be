/**
 * Live latency: append → stored, one line at a time, with the daemon running and synced.
 *
 *   bun scripts/bench/live-latency.ts [--n 300] [--seed 7] [--gap-min 20] [--gap-max 50] [--keep]
 *
 * A small corpus (2 sessions of 2–4 MB + 20 recorded sessions) is synced first. Then N real lines (taken from
 * the target session itself, with a fresh uuid each) are appended to its main file, one write per line, at
 * seeded-random gaps of 20–50 ms. Measurement: this process holds a read-only SQLite handle on the server's
 * database and polls `files.offset` of the target file every ~1 ms (one indexed point query, ~10–30 µs, no
 * HTTP, no change to the server): the server advances that offset in the same transaction that stores the
 * line, so the first poll that sees offset ≥ the line's end is "stored and queryable". Latency = that poll's
 * time − the time just before the write. Resolution ≈ the poll interval (~1 ms).
 */
import { appendFileSync, readFileSync, rmSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { argValue, generate, readManifest } from "./corpus.ts"
import {
  ARTIFACTS,
  daemonState,
  fmt,
  freshDir,
  now,
  onAbort,
  openDbReadOnly,
  percentile,
  portFree,
  procSampler,
  record,
  sleep,
  startDaemon,
  waitFor,
  waitForStored,
} from "./lib.ts"

const args = process.argv.slice(2)
const N = argValue(args, "--n", 300)
const GAP_MIN = argValue(args, "--gap-min", 20)
const GAP_MAX = argValue(args, "--gap-max", 50)
let seed = argValue(args, "--seed", 7)
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0
  return seed / 0x100000000
}

const corpus = join(ARTIFACTS, "corpus-live")
const manifest =
  readManifest(corpus) ??
  (await generate(corpus, { seed: 7, big: 0, medium: 2, small: 20, projects: 5, images: 0, tiny: false }))
// The target: the largest main session file (an existing 2–4 MB session).
const files = (await Array.fromAsync(new Bun.Glob("projects/*/*.jsonl").scan({ cwd: corpus }))).map((f) =>
  join(corpus, f),
)
const target = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!
const fileKey = relative(join(corpus, "projects"), target)
const sourceLines = readFileSync(target, "utf8")
  .split("\n")
  .filter((l) => l.includes('"uuid":"') && l.length < 20_000)
// Every run appends to the target: restore it afterwards so the corpus (and the manifest) stay valid.
const originalSize = statSync(target).size

const restore = () => {
  const fs = require("node:fs")
  const fd = fs.openSync(target, "r+")
  fs.ftruncateSync(fd, originalSize)
  fs.closeSync(fd)
}
onAbort(restore)
const home = freshDir("live")
const daemon = startDaemon({ home, claudeDir: corpus, port: portFree() })
const sampler = procSampler(daemon.pid, 200)
let result: Record<string, unknown> = {}
try {
  const db = await waitFor("the database", () => openDbReadOnly(home), 30_000, 20)
  await waitForStored(db, manifest, { timeoutMs: 300_000, everyMs: 50 })
  await waitFor("daemon state synced", () => daemonState(home)?.bytesPending === 0, 30_000, 50)
  const offsetQ = db.query("SELECT offset FROM files WHERE file_key = ?")
  const offsetOf = () => (offsetQ.get(fileKey) as { offset: number } | null)?.offset ?? -1
  if (offsetOf() !== originalSize) throw new Error(`target not synced: ${offsetOf()} vs ${originalSize}`)
  await sleep(1000)

  const pending: { end: number; t: number }[] = []
  const latencies: number[] = []
  let done = false
  const poller = (async () => {
    while (!done || pending.length > 0) {
      const off = offsetOf()
      const t = now()
      while (pending.length > 0 && pending[0]!.end <= off) latencies.push(t - pending.shift()!.t)
      await sleep(1)
    }
  })()
  const cpu0 = sampler.sample()!
  const t0 = now()
  let size = originalSize
  for (let i = 0; i < N; i++) {
    const src = sourceLines[i % sourceLines.length]!
    const line = `${src.replace(/"uuid":"[^"]+"/, `"uuid":"${crypto.randomUUID()}"`)}\n`
    size += Buffer.byteLength(line)
    const t = now()
    pending.push({ end: size, t })
    appendFileSync(target, line)
    await sleep(GAP_MIN + rand() * (GAP_MAX - GAP_MIN))
  }
  done = true
  await Promise.race([
    poller,
    sleep(30_000).then(() => Promise.reject(new Error(`${pending.length} lines never stored`))),
  ])
  const wall = (now() - t0) / 1000
  const cpu1 = sampler.sample()!
  const sorted = [...latencies].sort((a, b) => a - b)
  result = {
    n: latencies.length,
    gapMs: `${GAP_MIN}-${GAP_MAX}`,
    method: "read-only SQLite poll of files.offset every ~1 ms",
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    minMs: sorted[0],
    targetBytes: originalSize,
    appendWindowS: wall,
    daemonCpuPctDuringAppends: (100 * (cpu1.cpuS - cpu0.cpuS)) / wall,
    rssMb: cpu1.rssKb / 1024,
  }
  db.close()
} finally {
  sampler.stop()
  await daemon.stop()
  restore() // put the target file back as generated
  if (!args.includes("--keep")) rmSync(home, { recursive: true, force: true })
}
console.error(
  `live latency: p50 ${fmt(result.p50Ms as number)} ms, p95 ${fmt(result.p95Ms as number)} ms, p99 ${fmt(result.p99Ms as number)} ms, max ${fmt(result.maxMs as number)} ms`,
)
record("live-latency", result)
console.log(JSON.stringify(result, null, 2))
