import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { chooseChunk, readBefore, readChunk } from "../src/file-reader.ts"
import { fileLogger } from "../src/logger.ts"

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe("chooseChunk", () => {
  it("sends whole lines and keeps a trailing fragment back while the file is busy", () => {
    expect(text(chooseChunk(bytes("a\nb\npart"), 10, false, false)!.bytes)).toBe("a\nb\n")
  })
  it("sends the trailing fragment once the file is idle", () => {
    expect(text(chooseChunk(bytes("a\npart"), 0, false, true)!.bytes)).toBe("a\npart")
  })
  it("sends a full read without newline as a piece of a huge line", () => {
    expect(chooseChunk(bytes("xxxx"), 0, true, false)!.bytes).toHaveLength(4)
  })
  it("waits when there is only a fragment and nothing else", () => {
    expect(chooseChunk(bytes("part"), 0, false, false)).toBeNull()
    expect(chooseChunk(new Uint8Array(), 0, true, true)).toBeNull()
  })
})

describe("reading files", () => {
  let dir: string
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("reads a chunk at an offset into a reused buffer, and the bytes before an offset", async () => {
    dir = await mkdtemp(join(tmpdir(), "overlord-reader-"))
    const path = join(dir, "s.jsonl")
    await writeFile(path, "line one\nline two\nline thr")
    const buffer = new Uint8Array(64)
    const chunk = readChunk(path, 9, buffer, 64, false)
    expect(chunk).toMatchObject({ from: 9 })
    expect(text(chunk!.bytes)).toBe("line two\n")
    expect(text(await readBefore(path, 9, 4))).toBe("one\n")
  })

  it("tells a line longer than a chunk from a buffer that only holds what the file had", async () => {
    dir = await mkdtemp(join(tmpdir(), "overlord-reader-"))
    const path = join(dir, "s.jsonl")
    await writeFile(path, "no newline yet")
    // Sized to the file, smaller than a chunk: a fragment, which waits for its newline.
    expect(readChunk(path, 0, new Uint8Array(14), 64, false)).toBeNull()
    // A whole chunk without a newline: a long line, shipped in pieces.
    expect(text(readChunk(path, 0, new Uint8Array(14), 14, false)!.bytes)).toBe("no newline yet")
  })

  it("rotates the log file by size and keeps a bounded number of old logs", async () => {
    dir = await mkdtemp(join(tmpdir(), "overlord-log-"))
    const log = fileLogger({ path: join(dir, "overlord.log"), maxBytes: 200, keep: 3 })
    for (let i = 0; i < 40; i++) log.info(`message number ${i} with some padding`)
    const files = (await readdir(dir)).sort()
    expect(files).toEqual(["overlord.log", "overlord.log.1", "overlord.log.2"])
    expect(await readFile(join(dir, "overlord.log"), "utf8")).toContain("message number 39")
  })
})
