/** Ending a command's processes: its group, and groups its descendants started for themselves. */
import { execFileSync } from "node:child_process"
import { tmpdir } from "node:os"
import { waitFor } from "@overlord/testkit/wait"
import { describe, expect, it } from "vitest"
import { endProcessTree, spawnGroupLeader } from "../../src/remote/child-process.ts"
import { groupGone } from "./support.ts"

const groupOf = (marker: string) => {
  const line = execFileSync("ps", ["-A", "-o", "pgid=,args="], { encoding: "utf8" })
    .split("\n")
    .find((l) => l.trim().endsWith(marker))
  return line ? Number(line.trim().split(/\s+/)[0]) : null
}

describe("process trees", () => {
  it("ends a descendant that moved to a session of its own, as Claude Code's Bash tool does", async () => {
    const { child, exited } = spawnGroupLeader(["sh", "-c", "setsid sleep 619 & sleep 620"], tmpdir(), process.env)
    const pgid = child.pid!
    const escaped = await waitFor("the setsid'd sleep", () => groupOf("sleep 619"))
    expect(escaped).not.toBe(pgid)
    expect(await waitFor("the plain sleep", () => groupOf("sleep 620"))).toBe(pgid)
    await endProcessTree(pgid)
    await exited
    await groupGone(pgid)
    await groupGone(escaped)
  })
})
