/**
 * Fault: each sandbox run re-downloads the sandbox's session files, and `keepSessionFiles` replaced a
 * changed file through a temporary file and a rename. A resumed session's file only grows, but every
 * run gave it a new inode, so the sync engine took it for a replaced file: a reset, the whole file
 * re-read from byte 0, and the server re-verifying every line it already had. A file that only grew
 * now gets its new bytes appended in place (same inode, an ordinary append); any other change is still
 * a whole replacement, never a torn file.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { keepSessionFiles, sandboxProjectsDir } from "../../src/remote/sandbox-command.ts"

const FILE = "-home-daytona-proj/11111111-2222-4333-8444-555555555555.jsonl"
const line = (n: number) => `${JSON.stringify({ type: "user", uuid: `u-${n}`, message: { content: `turn ${n}` } })}\n`

describe("keeping a sandbox's session files", () => {
  let home: string
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "overlord-kept-sessions-"))
  })
  afterAll(async () => {
    await rm(home, { recursive: true, force: true })
  })

  const keep = (text: string) =>
    keepSessionFiles(home, {
      machineName: "daytona-overlord-proj-1234",
      files: [{ relativePath: FILE, bytes: new TextEncoder().encode(text) }],
    })
  const path = () => join(sandboxProjectsDir(home, "daytona-overlord-proj-1234"), FILE)

  it("appends what a grown file gained, on the same inode", async () => {
    expect(await keep(line(1) + line(2))).toEqual([path()])
    const before = await stat(path())
    expect(await keep(line(1) + line(2) + line(3))).toEqual([path()])
    const after = await stat(path())
    expect(after.ino).toBe(before.ino)
    expect(await readFile(path(), "utf8")).toBe(line(1) + line(2) + line(3))
    // Unchanged: nothing written.
    expect(await keep(line(1) + line(2) + line(3))).toEqual([])
  })

  it("replaces a file whose earlier bytes changed, whole", async () => {
    const before = await stat(path())
    expect(await keep(line(9) + line(2) + line(3) + line(4))).toEqual([path()])
    expect((await stat(path())).ino).not.toBe(before.ino)
    expect(await readFile(path(), "utf8")).toBe(line(9) + line(2) + line(3) + line(4))
  })
})
