import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  allBadInputs,
  gluedRecords,
  hugeLine,
  invalidUtf8,
  nonObjectLines,
  nulRun,
  truncatedLastLine,
  unknownRecordType,
  writeBadInputs,
} from "../src/bad-input.ts"
import { parseJsonl } from "../src/session-files.ts"

describe("generated bad input", () => {
  it.each(allBadInputs().map((b) => [b.name, b] as const))(
    "%s: the lenient reader yields the stated record count",
    (_, input) => {
      expect(parseJsonl(input.bytes)).toHaveLength(input.records)
      expect(
        input.bytes
          .toString("latin1")
          .split("\n")
          .filter((l, i, a) => i < a.length - 1 || l !== ""),
      ).toHaveLength(input.lines)
    },
  )

  it("really contains the damage it claims", () => {
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(invalidUtf8().bytes)).toThrow()
    const truncated = truncatedLastLine().bytes
    expect(truncated[truncated.length - 1]).not.toBe(0x0a)
    expect(nulRun(undefined, 300).bytes.includes(Buffer.alloc(300, 0))).toBe(true)
    const glued = gluedRecords().bytes.toString("utf8").split("\n")[1] ?? ""
    expect(glued).toMatch(/^\{"type":"pr-link".*\{"parentUuid"/)
    expect(() => JSON.parse(glued)).toThrow()
    const huge = hugeLine(undefined, 3)
    const longest = Math.max(
      ...huge.bytes
        .toString("latin1")
        .split("\n")
        .map((l) => l.length),
    )
    expect(longest).toBeGreaterThan(3 * 1024 * 1024 * 0.95)
    expect(JSON.parse(huge.bytes.toString("utf8").split("\n")[2] ?? "")).toMatchObject({ type: "user" })
    expect(nonObjectLines().bytes.toString()).toContain("\n42\n[1]\n")
    expect(parseJsonl(unknownRecordType().bytes).map((r) => r.type)).toContain("quantum-entanglement-snapshot")
  })

  it("writes each case as a session file under a project dir", async () => {
    const dir = await mkdtemp(join(tmpdir(), "overlord-bad-"))
    try {
      const inputs = allBadInputs()
      const paths = await writeBadInputs(dir, inputs)
      expect(paths).toHaveLength(inputs.length)
      for (const [i, p] of paths.entries()) {
        expect(p).toBe(join(dir, "-home-dev-project", `${inputs[i]?.sessionId}.jsonl`))
        expect((await readFile(p)).equals(inputs[i]?.bytes ?? Buffer.alloc(0))).toBe(true)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
