/**
 * The daemon's bundle is rebuilt by every test run and benchmark at its start, in a checkout that
 * others' runs share: a rebuild must never take the bundle away from a process being started from it.
 * Before, the build deleted `dist/` first, and a concurrent run's daemon exited with
 * `Module not found ".../dist/bin.js"` (the exactly-once daemon-kill case starts 17 daemons).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { buildDaemon, installOrder } from "../build-daemon.ts"

const out = mkdtempSync(join(tmpdir(), "overlord-rebuild-"))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe("rebuilding the daemon's bundle", () => {
  it("never leaves bin.js missing, keeps what an older build's processes load, and prunes it after a day", async () => {
    const bin = await buildDaemon(out)
    const first = readFileSync(bin)
    const inode = statSync(bin).ino
    // A chunk of an older build, which a daemon started from that build's bin.js may still import.
    const olderChunk = join(out, "bin-olderbuild.js")
    writeFileSync(olderChunk, "export {}\n")
    // One left by a build two days ago, and the staging folder of a build killed then.
    const ancient = join(out, "bin-ancient.js")
    const killedStaging = join(out, ".build-killed")
    writeFileSync(ancient, "export {}\n")
    mkdirSync(killedStaging)
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000)
    utimesSync(ancient, twoDaysAgo, twoDaysAgo)
    utimesSync(killedStaging, twoDaysAgo, twoDaysAgo)
    // An unchanged file of the current build last written long ago: still the current build's, kept.
    const worker = join(out, "embedded-server-worker.js")
    utimesSync(worker, twoDaysAgo, twoDaysAgo)

    // A second build from the same sources, watched the way a starting daemon needs it: bin.js is there.
    let polls = 0
    let missing = 0
    let done = false
    const rebuild = buildDaemon(out).finally(() => {
      done = true
    })
    while (!done) {
      polls += 1
      if (!existsSync(bin)) missing += 1
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await rebuild
    expect(polls).toBeGreaterThan(5)
    expect(missing).toBe(0)
    // Identical output is left alone: the same file, not a copy renamed over it. (In a checkout shared
    // with others' edits the sources may have changed between the two builds: then it is a new file.)
    if (readFileSync(bin).equals(first)) expect(statSync(bin).ino).toBe(inode)
    expect(existsSync(olderChunk)).toBe(true)
    expect(existsSync(worker)).toBe(true)
    expect(existsSync(ancient)).toBe(false)
    expect(existsSync(killedStaging)).toBe(false)

    // A changed file (as when the sources changed) is replaced whole.
    writeFileSync(bin, "// not this build\n")
    await buildDaemon(out)
    expect(readFileSync(bin, "utf8")).toMatch(/^#!\/usr\/bin\/env bun\n\/\/ @bun\n/)
  }, 120_000)

  it("puts the chunks in place before the entry points that import them", async () => {
    const bin = await buildDaemon(out)
    const code = readFileSync(bin, "utf8")
    const chunk = /from\s*"\.\/(bin-[^"]+\.js)"/.exec(code)?.[1]
    expect(chunk, "bin.js imports a chunk").toBeDefined()
    const order = installOrder(["bin.js", "bin.js.map", chunk!, `${chunk}.map`, "embedded-server-worker.js"])
    expect(order.slice(0, 2)).toEqual([chunk, `${chunk}.map`])
    expect(order.indexOf("bin.js")).toBeGreaterThan(order.indexOf(chunk!))
  }, 120_000)
})
