/**
 * Fault: a sandbox run that failed before Claude Code wrote a session file (Daytona refusing the run,
 * a CLI that would not start) downloaded nothing, yet the daemon still opened a sync for the sandbox's
 * machine: writing `<home>/sandboxes/<folder>/machine.json` into a folder nobody had made threw ENOENT,
 * and had it not, an empty child machine would have appeared in the dashboard. Now such a run makes no
 * machine and writes nothing.
 */
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { silentLogger } from "../../src/logger.ts"
import { SandboxSync, sandboxMachineFor } from "../../src/remote/sandbox-sync.ts"

describe("a sandbox run that kept no session file", () => {
  let home: string
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "overlord-no-session-"))
  })
  afterAll(async () => {
    await rm(home, { recursive: true, force: true })
  })

  it("opens no sync and writes nothing", async () => {
    const laptop = { machineId: "laptop-1", name: "laptop" }
    const sync = new SandboxSync({
      home,
      // Never reached: nothing may connect for a run without files.
      serverUrl: "http://127.0.0.1:9",
      token: "ovm_unused",
      parent: laptop,
      log: silentLogger,
      warn: () => {},
    })
    const machine = sandboxMachineFor(laptop, { id: "sb-9", name: "overlord-x-1", folder: "daytona-overlord-x-1" }, "x")
    expect(await sync.sync(machine, [])).toBe(true)
    expect(sync.status()).toEqual([])
    expect(existsSync(join(home, "sandboxes"))).toBe(false)
    await sync.close()
  })
})
