/**
 * The storing thread's ceiling: the corpus appended straight into the SQLite engine, in the daemon's
 * 1 MB chunks (cut on line ends, as the daemon cuts them), one thread, no daemon, no WebSocket.
 * End-to-end backfill can't be faster than this, so it is where store-side work is measured. Files are
 * read one at a time (page cache warm after the first run), like the daemon reads them.
 *
 * With `--facts`, each chunk's line facts are computed first, as the daemon does, and only the append
 * (the storing thread's share) is timed as "store". Chunks are committed in groups of `--group-kb`
 * (4096, as the server groups the frames waiting on a connection; 0: one commit per chunk).
 *
 *   bun scripts/bench/store-append.ts [corpusDir] [--chunk-kb 1024] [--group-kb 4096] [--facts] [--keep]
 *   bun --cpu-prof --cpu-prof-dir .artifacts/bench/profiles scripts/bench/store-append.ts
 */
import { isUtf8 } from "node:buffer"
import { readdirSync, readFileSync, rmSync } from "node:fs"
import { join, relative } from "node:path"
import type { Sync } from "../../packages/protocol/src/index.ts"
import type { Append, MachineActor } from "../../packages/store/src/index.ts"
import { SqliteEngine } from "../../packages/store/src/sqlite/index.ts"
import { factsOfLines } from "../../packages/transcript/src/line-facts.ts"
import { readManifest } from "./corpus.ts"
import { ARTIFACTS, fmt, now, record } from "./lib.ts"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const corpus = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? join(ARTIFACTS, "corpus")
const manifest = readManifest(corpus)
if (!manifest) throw new Error(`no corpus at ${corpus} (bun scripts/bench/corpus.ts ${corpus})`)
const chunk = option("--chunk-kb", 1024) * 1024
const withFacts = flag("--facts")
const groupBytes = option("--group-kb", 4096) * 1024

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".jsonl") ? [join(dir, e.name)] : [],
  )
const projects = join(corpus, "projects")
const files = walk(projects)

const dbDir = join(ARTIFACTS, "runs", `store-append-${process.pid}`)
const engine = new SqliteEngine({ path: join(dbDir, "overlord.db") })
const userId = engine.ensureUser("bench")
const { machineId } = engine.openMachine({ userId }, "bench-machine", "bench")
const actor: MachineActor = { userId, machineId }

const t0 = now()
const cpu0 = process.cpuUsage()
let lines = 0
let seq = 0
let storeMs = 0
let factsMs = 0
let group: Append[] = []
let grouped = 0
const commit = () => {
  const s0 = now()
  const outcomes = engine.append(actor, group)
  storeMs += now() - s0
  for (const out of outcomes) {
    if (out._tag !== "Ack") throw new Error(`rejected ${out.cursor.fileKey} at ${out.cursor.offset}`)
    lines += out.stored.length
  }
  group = []
  grouped = 0
}
for (let i = 0; i < files.length; i++) {
  const bytes = readFileSync(files[i]!)
  const fileKey = relative(projects, files[i]!)
  let from = 0
  while (from < bytes.length) {
    let to = Math.min(bytes.length, from + chunk)
    if (to < bytes.length) {
      const nl = bytes.lastIndexOf(10, to - 1)
      to = nl >= from ? nl + 1 : to
    }
    const header: Sync.AppendHeader = {
      type: "append",
      seq: seq++,
      fileKey,
      generation: 0,
      identity: "1:1",
      fromOffset: from,
      toOffset: to,
    }
    const payload = bytes.subarray(from, to)
    const f0 = now()
    const facts = withFacts ? factsOfLines(payload, isUtf8) : undefined
    factsMs += now() - f0
    group.push({ header, payload, ...(facts ? { facts } : {}) })
    grouped += payload.length
    if (grouped >= groupBytes) commit()
    from = to
  }
}
if (group.length > 0) commit()
const seconds = (now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const mb = manifest.bytes / 1e6
const result = {
  mb,
  lines,
  seconds,
  mbPerS: mb / seconds,
  linesPerS: lines / seconds,
  cpuS: (cpu.user + cpu.system) / 1e6,
  chunkKb: chunk / 1024,
  groupKb: groupBytes / 1024,
  withFacts,
  storeS: storeMs / 1000,
  storeMbPerS: mb / (storeMs / 1000),
  factsS: factsMs / 1000,
}
console.error(
  `store append${withFacts ? " (facts given)" : ""}: ${fmt(mb)} MB, ${lines} lines in ${fmt(seconds, 2)} s → ${fmt(result.mbPerS)} MB/s, ${fmt(result.linesPerS, 0)} lines/s (CPU ${fmt(result.cpuS, 2)} s); the store's share ${fmt(result.storeS, 2)} s → ${fmt(result.storeMbPerS)} MB/s${withFacts ? `, facts ${fmt(result.factsS, 2)} s` : ""}`,
)
record("store-append", result)
engine.close()
if (!flag("--keep")) rmSync(dbDir, { recursive: true, force: true })
