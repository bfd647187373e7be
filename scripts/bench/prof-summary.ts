/**
 * Summarises a `.cpuprofile` (from `bun --cpu-prof`): self time by function and by source file, and
 * inclusive time for a few functions of interest.
 * `bun scripts/bench/prof-summary.ts <file.cpuprofile> [top] [--from-s S] [--until-s S]`
 */
import { readFileSync } from "node:fs"

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
const file = process.argv[2]
if (!file) throw new Error("usage: prof-summary.ts <file.cpuprofile> [top]")
const top = Number(process.argv[3]?.startsWith("--") ? 25 : (process.argv[3] ?? 25))
const p = JSON.parse(readFileSync(file, "utf8")) as {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
// `--until-s S`: only the first S seconds of the profile (a backfill's, before it waits for the search
// index and stops: the shutdown and the quiet collection after a backfill otherwise fill the profile).
const untilArg = process.argv.indexOf("--until-s")
const untilUs = untilArg > 0 ? Number(process.argv[untilArg + 1]) * 1e6 : Number.POSITIVE_INFINITY
// `--from-s S`: and none before S seconds (one phase of a server's life, e.g. an ingest window).
const fromArg = process.argv.indexOf("--from-s")
const fromUs = fromArg > 0 ? Number(process.argv[fromArg + 1]) * 1e6 : 0
const self = new Map<number, number>()
let elapsed = 0
for (let i = 0; i < p.samples.length; i++) {
  elapsed += p.timeDeltas[i] ?? 0
  if (elapsed > untilUs) break
  if (elapsed < fromUs) continue
  self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const short = (u: string) =>
  u.replace(/^.*\/work\/main\//, "").replace(/^.*node_modules\/\.pnpm\/([^/]+)\/.*/, "$1") || "(native)"
const label = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
const agg = (key: (n: Node) => string) => {
  const m = new Map<string, number>()
  for (const [id, t] of self) {
    const k = key(byId.get(id)!)
    m.set(k, (m.get(k) ?? 0) + t)
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1])
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`
console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled`)
console.log("\n## self time by function")
for (const [k, t] of agg(label).slice(0, top)) console.log(`${pct(t).padStart(6)}  ${(t / 1e6).toFixed(2)} s  ${k}`)
console.log("\n## self time by file")
for (const [k, t] of agg((n) => short(n.callFrame.url)).slice(0, top))
  console.log(`${pct(t).padStart(6)}  ${(t / 1e6).toFixed(2)} s  ${k}`)
// Inclusive: a sample counts for a function if it is on the stack (once per sample).
const inclusive = new Map<string, number>()
for (const [id, t] of self) {
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur)!)
    if (seen.has(k)) continue
    seen.add(k)
    inclusive.set(k, (inclusive.get(k) ?? 0) + t)
  }
}
console.log("\n## inclusive time (top)")
for (const [k, t] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, top * 2))
  console.log(`${pct(t).padStart(6)}  ${(t / 1e6).toFixed(2)} s  ${k}`)
