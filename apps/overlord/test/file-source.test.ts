/**
 * The file source alone, on real files: what stat facts say (in the order they were asked for), the
 * server's cursor adopted at welcome, and the bytes that tell an append from a rewrite. The engine's
 * tests (exactly-once, stale-stat, rewrite-in-place) check the same through a server.
 */
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { FileSource, goneFrom } from "../src/file-source.ts"

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function file(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "overlord-file-source-"))
  dirs.push(dir)
  const path = join(dir, "s.jsonl")
  writeFileSync(path, content)
  return path
}
const tail = (s: string) => Buffer.from(s.slice(-32)).toString("base64")

describe("file source", () => {
  it("tracks a file once, and not one that is not there", async () => {
    const source = new FileSource()
    const path = file("a\n")
    const first = await source.track("k", path)
    expect(first?.created).toBe(true)
    expect(first?.t.size).toBe(2)
    const again = await source.track("k", path)
    expect(again).toEqual({ t: first?.t, created: false })
    expect(await source.track("missing", join(path, "..", "none.jsonl"))).toBeNull()
    expect(source.size).toBe(1)
  })

  it("applies stat facts in the order they were asked for: a late, older answer is ignored", async () => {
    const source = new FileSource()
    const path = file("a\n")
    const { t } = (await source.track("k", path))!
    const older = await source.stat(path)
    appendFileSync(path, "b\n")
    const newer = await source.stat(path)
    expect(source.observe(t, newer.facts!, newer.ticket)).toBeNull()
    expect(t.size).toBe(4)
    expect(source.observe(t, older.facts!, older.ticket)).toBeNull()
    expect(t.size).toBe(4)
  })

  it("says shrunk below what was sent, replaced on a new inode, touched on a new time without growth", async () => {
    const source = new FileSource()
    const path = file("line one\nline two\n")
    const { t } = (await source.track("k", path))!
    t.sent = t.size
    truncateSync(path, 9)
    let s = await source.stat(path)
    expect(source.observe(t, s.facts!, s.ticket)).toBe("shrunk")

    const { t: u } = (await source.track("u", file("x\n")))!
    const other = file("y\n")
    s = await source.stat(other)
    expect(source.observe(u, { ...s.facts!, size: u.size }, s.ticket)).toBe("replaced")

    const { t: v } = (await source.track("v", file("z\n")))!
    s = await source.stat(v.path)
    expect(source.observe(v, { ...s.facts!, mtimeMs: s.facts!.mtimeMs + 1000 }, s.ticket)).toBe("touched")
  })

  it("adopts the server's cursor, and says rewritten when the bytes before it differ from its tail", async () => {
    const source = new FileSource()
    const stored = `${'{"n":1}\n'.repeat(10)}`
    const path = file(`${stored}{"n":2}\n`)
    const { t } = (await source.track("k", path))!
    const cursor = { fileKey: "k", generation: 3, offset: stored.length, tail: tail(stored) }
    expect((await source.adopt(t, cursor))?.reset).toBeNull()
    expect(t).toMatchObject({ generation: 3, acked: stored.length, sent: stored.length, verified: true })
    // The next read must find the stored tail in front of `sent`.
    expect(Buffer.from(source.expectedBefore(t)).toString()).toBe(stored.slice(-32))

    writeFileSync(path, `${'{"n":9}\n'.repeat(10)}{"n":2}\n`)
    expect((await source.adopt(t, cursor))?.reset).toBe("rewritten")
    expect((await source.adopt(t, { ...cursor, offset: 1000 }))?.reset).toBe("shrunk")
    expect((await source.adopt(t, { ...cursor, identity: "0:0" }))?.reset).toBe("replaced")
  })

  it("keeps the last 32 bytes shipped as the next read's check, and compares them on disk", async () => {
    const source = new FileSource()
    const content = `${"x".repeat(40)}\n`
    const path = file(content)
    const { t } = (await source.track("k", path))!
    const bytes = Buffer.from(content.slice(0, 30))
    source.shipped(t, new Uint8Array(0), bytes, 30)
    t.sent = 30
    expect(Buffer.from(source.expectedBefore(t)).toString()).toBe(content.slice(0, 30))
    // Fewer than 32 bytes shipped: the bytes before them make up the rest.
    source.shipped(t, bytes, Buffer.from(content.slice(30, 35)), 35)
    t.sent = 35
    expect(Buffer.from(t.check).toString()).toBe(content.slice(3, 35))
    expect(await source.compareCheck(t)).toBe("same")
    writeFileSync(path, `${"y".repeat(40)}\n`)
    expect(await source.compareCheck(t)).toBe("differs")
    // Reset: read again from 0 under a new generation, nothing to compare.
    source.reset(t, "1:2")
    expect(t).toMatchObject({ generation: 1, sent: 0, acked: 0, checkEnd: 0, identity: "1:2" })
    expect(source.expectedBefore(t).length).toBe(0)
  })

  it("counts as gone only files that are not there", async () => {
    const path = file("a\n")
    const missing = join(path, "..", "gone.jsonl")
    expect(
      await goneFrom([
        { fileKey: "here", path },
        { fileKey: "gone", path: missing },
      ]),
    ).toEqual(["gone"])
  })
})
