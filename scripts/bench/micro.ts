/**
 * Where backfill CPU goes, stage by stage, on the same corpus, in one thread (no daemon, no server).
 * Each stage streams over the files (nothing retained between stages) and is run three times; the fastest
 * run counts (the first warms the JIT; the machine may be noisy). Stages are cumulative: "JSON.parse" = decode + parse.
 *
 *   bun scripts/bench/micro.ts [corpusDir]
 */

import { isUtf8 } from "node:buffer"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { searchTextOf } from "../../packages/store/src/line-facts.ts"
import { analyzeLine, analyzeWholeLine } from "../../packages/transcript/src/line-facts.ts"
import { readManifest } from "./corpus.ts"
import { ARTIFACTS, fmt, now, record } from "./lib.ts"

const corpus = process.argv[2] ?? join(ARTIFACTS, "corpus")
const manifest = readManifest(corpus)
if (!manifest) throw new Error(`no corpus at ${corpus}`)
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".jsonl") ? [join(dir, e.name)] : [],
  )
const files = walk(join(corpus, "projects"))
const MB = manifest.bytes / 1e6
const dec = new TextDecoder()
const surrogates = /\\u[dD][89a-fA-F]|[\uD800-\uDFFF]/
const eachLine = (fn: (line: Uint8Array) => void) => {
  for (const f of files) {
    const b = readFileSync(f)
    let start = 0
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, start)) {
      fn(b.subarray(start, i))
      start = i + 1
    }
  }
}
const results: Record<string, { s: number; mbPerS: number }> = {}
const stage = (name: string, fn: (line: Uint8Array) => void) => {
  let best = Number.POSITIVE_INFINITY
  for (let rep = 0; rep < 3; rep++) {
    Bun.gc(true)
    const t = now()
    eachLine(fn)
    best = Math.min(best, (now() - t) / 1000)
  }
  results[name] = { s: best, mbPerS: MB / best }
  console.error(`${name.padEnd(48)} ${fmt(best, 2).padStart(6)} s  ${fmt(MB / best).padStart(7)} MB/s`)
}
stage("read + split lines (warm page cache)", () => {})
stage("+ TextDecoder.decode", (l) => dec.decode(l))
stage("+ JSON.parse", (l) => JSON.parse(dec.decode(l)))
stage("+ lone-surrogate pre-check regex (as shipped)", (l) => surrogates.test(dec.decode(l)))
// Candidate fix: after TextDecoder a raw surrogate is always half of a valid pair (emoji etc.), which the
// shipped `[\uD800-\uDFFF]` branch matches too; only a `\uD8xx` JSON escape can produce a lone one.
stage("+ escape-only regex || !isWellFormed (candidate)", (l) => {
  const t = dec.decode(l)
  return /\\u[dD][89a-fA-F]/.test(t) || !(t as string & { isWellFormed(): boolean }).isWellFormed()
})
stage("analyzeWholeLine (the whole parse, as before line-elision.ts)", (l) => analyzeWholeLine(l, isUtf8))
stage("analyzeLine (daemon, or store when not given, per append)", (l) => analyzeLine(l, isUtf8))
stage("searchTextOf (store, per FTS index)", (l) => void searchTextOf(l))
record("micro", { mb: MB, results })
console.log(JSON.stringify({ mb: MB, results }, null, 2))
